"""A streaming player: output audio deltas play in the browser as they arrive, with no gaps.

    player = rk.StreamingPlayer()
    player                                         # status line and a Stop button
    player.push(pcm16_bytes, rate=24000, item_id="item_1")   # every response.output_audio.delta
    player.played_ms_for("item_1")                 # what the listener actually heard, for truncation
    player.stop()                                  # silence what is still queued

player.js schedules each chunk at max(currentTime, end of the previous chunk) and reports the
played milliseconds of every item back a few times a second (the `played` traitlet).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets

from .closing import close_own_parts
from .controls import pcm16_ms, truncate_point
from .esm import widget_module

STOP_REPLY_TIMEOUT_S = 1.0  # how long stop_and_measure waits for the browser's exact count
UNPLAYED_TOLERANCE_MS = 10.0  # float rounding in the browser's report; less than this is "all played"


def _settle(answer: asyncio.Future[dict[str, int]], played: dict[str, int]) -> None:
    if not answer.done():
        answer.set_result(played)


class StreamingPlayer(anywidget.AnyWidget):
    """Plays PCM16 deltas pushed from Python in the browser and reports how much was heard.

        player = StreamingPlayer()
        player.push(reply.audio.samples.tobytes(), rate=24000, item_id=reply.item_id)
        player.played_ms_for(reply.item_id)      # grows while the browser plays
    """

    _esm = widget_module("player.js")
    _key = traitlets.Unicode().tag(sync=True)  # finds the model's playback controller from each view
    played = traitlets.Dict(help="item id -> ms played, reported by the browser").tag(sync=True)
    played_ms = traitlets.Int(0, help="ms played of the latest item").tag(sync=True)
    playing = traitlets.Bool(False, help="True while queued audio is sounding").tag(sync=True)
    buffered_ms = traitlets.Int(0, help="ms queued ahead of the playhead").tag(sync=True)
    blocked = traitlets.Bool(False, help="the browser holds audio until a click (autoplay)").tag(sync=True)
    show_stop = traitlets.Bool(True, help="show the player's own Stop button (the playground has its own)").tag(
        sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(_key=uuid.uuid4().hex, **kwargs)
        self._received_bytes: dict[str, int] = {}
        self._rates: dict[str, int] = {}
        self._stopped: set[str] = set()
        self.current_item: str | None = None
        self._stop_callbacks: list[Callable[[], None]] = []
        self._pending: dict[int, asyncio.Future[dict[str, int]]] = {}
        self._requests = 0
        self.stop_reply_timeout_s = STOP_REPLY_TIMEOUT_S
        self.on_msg(self._on_browser_message)

    def push(self, pcm16: bytes, rate: int = 24000, item_id: str = "") -> None:
        """Queue little-endian PCM16 mono bytes for playback right after what is already queued."""
        if not pcm16:
            return
        if len(pcm16) % 2:
            raise ValueError(f"PCM16 audio needs an even number of bytes, got {len(pcm16)}; pass whole samples.")
        self._received_bytes[item_id] = self._received_bytes.get(item_id, 0) + len(pcm16)
        self._rates[item_id] = rate
        self._stopped.discard(item_id)
        self.current_item = item_id
        self.send({"type": "chunk", "rate": int(rate), "item_id": item_id}, [bytes(pcm16)])

    def push_audio(self, audio: Any, item_id: str = "") -> None:
        """Queue an `rk.Audio` (or anything with int16 `.samples` and `.rate`)."""
        samples = np.asarray(audio.samples, dtype="<i2")
        self.push(samples.tobytes(), rate=int(audio.rate), item_id=item_id)

    def received_ms(self, item_id: str) -> float:
        """Milliseconds of audio pushed for `item_id`: the end of that item's audio."""
        return pcm16_ms(self._received_bytes.get(item_id, 0), self._rates.get(item_id, 24000))

    def played_ms_for(self, item_id: str) -> int:
        """Milliseconds of `item_id` the browser has played, never more than was pushed."""
        return truncate_point(float(self.played.get(item_id, 0)), self.received_ms(item_id))

    def has_unplayed(self, item_id: str | None = None) -> bool:
        """True while some of the item's pushed audio (default: the latest item) is still to be heard."""
        item = self.current_item if item_id is None else item_id
        if item is None or item in self._stopped:
            return False
        return self.received_ms(item) - float(self.played.get(item, 0)) > UNPLAYED_TOLERANCE_MS

    def stop(self) -> None:
        """Silence everything queued; what was heard stays counted in `played`."""
        self._stopped.update(self._received_bytes)
        self.send({"type": "stop"})

    def stop_measured(self, timeout: float | None = None) -> asyncio.Future[dict[str, int]]:
        """Silence everything queued now; the future gives each item's played ms as the browser counted
        it at the stop (await it on the kernel's loop).

        Falls back to the last periodic report when no browser answers within `timeout` seconds
        (the widget is not displayed, or a running cell holds the kernel's message queue).
        """
        loop = asyncio.get_running_loop()
        self._requests += 1
        request = self._requests
        answer: asyncio.Future[dict[str, int]] = loop.create_future()
        self._pending[request] = answer
        answer.add_done_callback(lambda _done: self._pending.pop(request, None))
        wait = self.stop_reply_timeout_s if timeout is None else timeout
        loop.call_later(wait, self._answer_from_report, answer)
        self._stopped.update(self._received_bytes)
        self.send({"type": "stop", "request": request})
        return answer

    def _answer_from_report(self, answer: asyncio.Future[dict[str, int]]) -> None:
        if not answer.done():
            answer.set_result({item: int(ms) for item, ms in self.played.items()})

    def clear(self) -> None:
        """Silence everything queued and forget every item's counters."""
        self._received_bytes.clear()
        self._rates.clear()
        self._stopped.clear()
        self.current_item = None
        self.send({"type": "clear"})

    def on_stop_pressed(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` when the listener presses the player's own Stop button."""
        self._stop_callbacks.append(callback)
        return lambda: self._stop_callbacks.remove(callback) if callback in self._stop_callbacks else None

    def close(self) -> None:
        """Close the widget and its Layout (no comm stays open)."""
        close_own_parts(self)
        super().close()

    def _on_browser_message(self, _widget: Any, content: dict[str, Any], _buffers: Sequence[Any]) -> None:
        kind = content.get("type")
        if isinstance(content.get("played"), dict):
            self.played = {**self.played, **{str(k): int(v) for k, v in content["played"].items()}}
        if kind == "stopped":
            answer = self._pending.get(int(content.get("request") or 0))
            if answer is not None:
                # comm messages may arrive on another thread than the loop that waits (ipykernel 7)
                answer.get_loop().call_soon_threadsafe(_settle, answer, dict(self.played))
        elif kind == "stop_pressed":
            for callback in list(self._stop_callbacks):
                callback()
            self._stopped.update(self._received_bytes)
