"""Sessions that outlive a connection: reconnect after a drop or the service's time limit, keep the conversation.

    s = await rk.connect()                       # reconnect=True is the default
    ...                                          # Wi-Fi drops, or the service ends the session at its limit
    reply = await s.send_text("what did I say?") # works: a new connection with the config and the history
    s.reconnects                                 # [Reconnect(after a drop at 61.2 s: ...; 4 items restored, ...)]

The session gives its pump a `Reconnector` as its recovery strategy (pump.py's `Recovery`). When the
connection ends and the session did not close it, the pump calls `recover`: a call in progress raises
`rk.ConnectionLost` at once (its `.partial` keeps the audio that had arrived; the Reconnect lists it
as `lost`), then a new connection is opened with the same target
(a fresh Entra token: `targets.open_connection` asks the credential each time), up to
`RECONNECT_ATTEMPTS` tries with growing pauses. The restorer re-sends the effective config and
the conversation so far (`record.reconnect.history_items`); sends wait until that is done, so the
next call runs on the restored session. The service's `session_expired` error is the expected
end of a session here, not a warning (`absorbs`). Between turns (`before_turn`, which the turn
controller calls), a turn that starts within
`expiry_margin_s` of the session's `expires_at` reconnects first, so the limit never cuts an answer.
`rk.connect(reconnect=False)` gives the pump no recovery: the session ends with the connection.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..record.reconnect import Reconnect, history_items, session_to_resend
from .pump import SessionPump

__all__ = ["RECONNECT_ATTEMPTS", "RECONNECT_PAUSES_S", "Reconnector"]

RECONNECT_ATTEMPTS = 5
RECONNECT_PAUSES_S = (0.0, 0.25, 0.5, 1.0, 2.0)    # before each attempt
RESTORE_TIMEOUT_S = 30.0
# Reconnect before a turn when less than this is left of the session (at most a fifth of its length).
EXPIRY_MARGIN_S = 60.0
# A server that drops every new connection at once would be reconnected to forever: this many unplanned
# reconnects within STORM_WINDOW_S end the session instead.
STORM_RECONNECTS, STORM_WINDOW_S = 5, 30.0


class Reconnector:
    """A pump's recovery strategy: reconnect after a drop (`recover`) and before a turn when the session
    expires soon (`before_turn`); `reconnects` lists each one."""

    def __init__(self, pump: SessionPump) -> None:
        self._pump = pump
        self.reconnects: list[Reconnect] = []
        self._restored = asyncio.Event()
        self._restored.set()
        self._restorer: asyncio.Task[None] | None = None
        self._expired: str | None = None        # the service's session_expired message, if it came
        self._planned: str | None = None        # why we are closing the link ourselves, between turns
        self._session_began = time.time()
        self._generation = 0                    # which reconnect is current (a stale restorer must not finish it)
        self._recent: list[float] = []          # when the last unplanned reconnects began

    # -- what the pump asks ----------------------------------------------------------------------

    async def ready_to_send(self) -> None:
        """Wait while a reconnect restores the session (its own sends go through)."""
        if not self._restored.is_set() and asyncio.current_task() is not self._restorer:
            await self._restored.wait()

    async def recover(self, reason: str) -> bool:
        """The connection ended: open a new one and restore the session; True once it is in place."""
        pump = self._pump
        if pump.closing or self._storming():
            return False
        self._generation += 1
        planned, self._planned = self._planned, None
        why = planned or (f"the service ended the session ({self._expired})" if self._expired else reason)
        self._expired = None
        record = Reconnect(at=pump.clock() - pump.started_at, reason=why, planned=planned is not None)
        started = time.perf_counter()
        self._restored.clear()
        self._lose_in_flight(record)
        config, items = session_to_resend(pump.conversation.session), self._history()
        link = await self._open_again(record)
        if link is None or pump.closing:  # no connection, or the user closed the session meanwhile
            if link is not None:
                await link.close()
            self._restored.set()
            return False
        await pump.replace_connection(link)
        pump.conversation.session_created = False
        pump.conversation.items = {}
        self.reconnects.append(record)
        if self._restorer is not None:
            self._restorer.cancel()
        # a task of the session: close() cancels it like any other
        self._restorer = pump.spawn(self._restore(record, config, items, started, self._generation))
        return True

    def _storming(self) -> bool:
        """True when the server has dropped the session too often, too fast, to try again (planned ones aside)."""
        if self._planned is not None:
            return False
        now = time.monotonic()
        self._recent = [t for t in self._recent if now - t < STORM_WINDOW_S] + [now]
        if len(self._recent) <= STORM_RECONNECTS:
            return False
        self._pump.fail_waiters(f"The server closed this session {len(self._recent) - 1} times in "
                           f"{STORM_WINDOW_S:.0f} s, each time soon after it opened; not reconnecting again. Check the "
                           "server (its log says why), then open a new session with `await rk.connect()`.")
        return True

    def absorbs(self, error: Any) -> bool:
        """The service's time limit (`session_expired`): the connection closes next and we reconnect."""
        if getattr(error, "code", None) != "session_expired":
            return False
        self._expired = getattr(error, "message", None) or "session_expired"
        return True

    # -- between turns ---------------------------------------------------------------------------

    async def before_turn(self) -> None:
        """Reconnect now if the session would expire soon and nothing is in flight."""
        await self.ready_to_send()
        pump = self._pump
        expires_at = pump.config.get("expires_at")
        if not isinstance(expires_at, int | float) or expires_at <= 0:
            return
        margin = min(EXPIRY_MARGIN_S, max(0.5, (expires_at - self._session_began) / 5))
        if expires_at - time.time() > margin or pump.conversation.in_flight is not None:
            return
        self._planned = f"the session expires at {expires_at:.0f} (in {expires_at - time.time():.1f} s)"
        self._restored.clear()
        await pump.drop_connection()
        await self.ready_to_send()
        pump.check_open()

    # -- the steps -------------------------------------------------------------------------------

    def _lose_in_flight(self, record: Reconnect) -> None:
        """The response in flight is gone with the connection: its caller hears so now, with the partial."""
        conversation = self._pump.conversation
        record.lost = conversation.in_flight
        conversation.in_flight = None
        conversation.pending.clear()
        self._pump.fail_waiters(f"The connection closed mid-turn ({record.reason}); the session reconnects and keeps "
                           "the conversation, but this answer is lost (`.partial` keeps what arrived). Ask again.")

    def _history(self) -> list[dict[str, Any]]:
        conversation = self._pump.conversation
        items = [_dump(item) for item in conversation.items.values()]
        finished = [item for item in items if item.get("status") != "in_progress"]
        return history_items(finished, conversation.input_transcripts)

    async def _open_again(self, record: Reconnect) -> Any:
        from .targets import open_connection

        for pause in RECONNECT_PAUSES_S[:RECONNECT_ATTEMPTS]:
            if self._pump.closing:
                return None
            await asyncio.sleep(pause)
            record.attempts += 1
            try:
                # a transcription session comes back as one (the URL's intent=transcription)
                intent = "transcription" if self._pump.config.get("type") == "transcription" else None
                return await open_connection(self._pump.target, intent=intent)
            except Exception as err:  # refused, unreachable, token failure: try again after a pause
                record.notes.append(f"attempt {record.attempts}: {type(err).__name__}: {err}")
        return None

    async def _restore(self, record: Reconnect, config: dict[str, Any], items: list[dict[str, Any]],
                       started: float, generation: int) -> None:
        try:
            async with asyncio.timeout(RESTORE_TIMEOUT_S):  # in this task: its sends pass ready_to_send
                await self._resend(record, config, items)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            record.notes.append(f"restoring failed: {type(err).__name__}: {err}")
            await self._pump.drop_connection(
                lost=f"reconnected, but restoring the session failed ({type(err).__name__}: {err})")
        finally:
            record.took_s = time.perf_counter() - started
            self._pump.note(record.as_event())
            if generation == self._generation:  # not when a newer drop is being handled meanwhile
                self._restored.set()

    async def _resend(self, record: Reconnect, config: dict[str, Any], items: list[dict[str, Any]]) -> None:
        pump, conversation = self._pump, self._pump.conversation
        await pump.wait(lambda: conversation.session_created)
        self._session_began = time.time()
        before = conversation.session_updates
        await pump.exchange(lambda: conversation.session_updates > before,
                            {"type": "session.update", "session": config})
        for item in items:
            count = len(conversation.items)
            await pump.exchange(lambda count=count: len(conversation.items) > count,  # type: ignore[misc]
                                {"type": "conversation.item.create", "item": item})
            record.restored_items += 1


def _dump(item: Any) -> dict[str, Any]:
    if hasattr(item, "model_dump"):
        return item.model_dump(mode="json", exclude_unset=True)
    return dict(item)

