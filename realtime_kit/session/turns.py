"""Turns: the one place a caller's turn starts and ends, and the response.create every turn sends.

A turn is one call that asks for an answer (send_text, stream_text, send_audio) and the tool-call chain
that answer starts. `TurnController.begin` lets one run at a time (another raises `InvalidState`
saying what to do) and cancels a reply nobody awaits; `end` cancels on the server what its caller
left before response.done (a `break` out of stream_text, a cancelled task)::

    reply = await turns.begin("send_text")       # InvalidState while another turn runs
    try:
        ...                                      # send the request with turns.response_create(reply.tag, overrides)
    finally:
        turns.end(reply)                         # left early: response.cancel follows
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidState, RealtimeError
from .conversation import REQUEST_TAG, Delta, Response
from .pump import SessionPump, Waiter

__all__ = ["TurnController", "TurnHandle", "TurnStream", "response_chain", "turn_done", "turn_owns"]


class TurnController:
    """One turn at a time on a pump: begin, end, cancel, and the tags that tie a response to its request.

    `register_tools` turns per-response `tools=` overrides into schemas (the tool registry's);
    `before_turn` runs first at each begin (the reconnect strategy reconnects there when the session
    expires soon).
    """

    def __init__(self, pump: SessionPump, *, register_tools: Callable[[Any], list[Any]],
                 before_turn: Callable[[], Awaitable[None]] | None = None) -> None:
        self._pump = pump
        self._register_tools = register_tools
        self._before_turn = before_turn
        self._active: Response | None = None               # the caller's turn in progress, if any
        self._cancelling: asyncio.Task[None] | None = None  # stopping a turn its caller left early
        # the context of the call that asked for each response (in Jupyter, its cell): tools run in it, so
        # their print() and warnings appear under that cell, not under the one that opened the session
        self._callers: dict[str, contextvars.Context] = {}

    async def begin(self, what: str, *, audio_input: bool = False) -> Response:
        """The one place a caller's turn starts: one turn at a time, and no reply left running from before."""
        if self._before_turn is not None:
            await self._before_turn()  # a reconnect due (or under way) happens first
        if self._cancelling is not None:
            with contextlib.suppress(Exception):  # its own failure is not this turn's
                await self._cancelling
            self._cancelling = None
        active = self._active
        if active is not None and not turn_done(active):
            raise InvalidState(f"{what}: another turn is still running on this session; await it first "
                               "(or finish its stream_text loop), or stop it with `await session.cancel()`.")
        conversation = self._pump.conversation
        if conversation.in_flight is not None and not audio_input:
            await self.cancel()  # a reply nobody awaits (server VAD's, say) would refuse our response.create
        reply = conversation.request(self._pump.clock(), tag=self._new_tag(contextvars.copy_context()),
                                     audio_input=audio_input)
        self._active = reply
        return reply

    def follow_up(self, response: Response, now: float, caller: contextvars.Context | None) -> Response:
        """The response a tool-call chain asks for next; `caller` is the context its tools run in."""
        follow_up = self._pump.conversation.request(now, tag=self._new_tag(caller))
        follow_up.tool_calls = list(response.tool_calls)
        response.follow_up = follow_up
        return follow_up

    def caller_of(self, response: Response) -> contextvars.Context | None:
        """The context of the call that asked for this response (once: it is forgotten at its end)."""
        return self._callers.pop(response.tag, None) if response.tag else None

    def end(self, reply: Response) -> None:
        """The caller is done with its turn; a turn left before response.done is cancelled on the server."""
        if self._active is not reply:
            return
        self._active = None
        if not turn_done(reply) and not self._pump.closed:
            self._cancelling = self._pump.spawn(self._cancel_turn(reply))

    def expect(self, reply: Response) -> Waiter:
        """A wait for the whole turn (its tool chain too) that owns the errors of every request sent for it."""
        return self._pump.expect(lambda: turn_done(reply), owns=lambda eid: turn_owns(reply, eid),
                                 partial=lambda: reply.final)

    def response_create(self, tag: str | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """The response.create for a turn: `overrides` checked (rk.ConfigError, nothing sent) and tagged."""
        from ..config.build import build_response

        overrides = dict(overrides)
        if overrides.get("tools") is not None:
            overrides["tools"] = self._register_tools(overrides["tools"])
        params = build_response(**overrides)
        params["metadata"] = {**(params.get("metadata") or {}), REQUEST_TAG: tag}
        return {"type": "response.create", "response": params}

    async def cancel(self) -> Response | None:
        """Cancel the response in flight, if any; returns it (status "cancelled") at response.done."""
        response = self._pump.conversation.in_flight
        if response is None or response.id is None:
            return None
        event = {"type": "response.cancel", "response_id": response.id}
        try:
            await self._pump.exchange(lambda: response.done, event, partial=lambda: response)
        except RealtimeError as err:
            if "not_active" not in (err.code or "") and "no active" not in err.message.lower():
                raise
        return response

    async def _cancel_turn(self, reply: Response, timeout: float = 5.0) -> None:
        """Cancel what is left of an abandoned turn, once the server has created its response."""
        conversation = self._pump.conversation
        final = reply.final
        if final.id is None and (final not in conversation.pending or not final.request_event_ids):
            conversation.withdraw(final)  # refused, or never asked for: nothing runs on the server
            return
        try:
            await self._pump.wait(lambda: reply.final.id is not None or reply.final.done, timeout=timeout)
        except TimeoutError:
            conversation.withdraw(reply.final)
            return
        if not reply.final.done and conversation.in_flight is reply.final:
            await self.cancel()

    def _new_tag(self, caller: contextvars.Context | None) -> str:
        tag = f"r{self._pump.new_id()}"
        if caller is not None:
            self._callers[tag] = caller
        return tag


def response_chain(reply: Response) -> list[Response]:
    """The reply and the follow-up responses its tool calls asked for, in order."""
    chain = [reply]
    step = reply.follow_up
    while step is not None:
        chain.append(step)
        step = step.follow_up
    return chain


def turn_done(reply: Response) -> bool:
    """The turn is over when the last response of its tool chain is done and asks for nothing more."""
    return reply.final.done and reply.final.follow_up is None


def turn_owns(reply: Response, event_id: str) -> bool:
    """True when `event_id` is a client event sent for this turn (so its server error belongs here)."""
    return any(event_id in response.request_event_ids for response in response_chain(reply))


# -- streams ---------------------------------------------------------------------------------------


@dataclass
class TurnHandle:
    """The turn a stream runs, shared by the stream and its generator (so neither keeps the other alive)."""

    reply: Response | None = None


class TurnStream:
    """What session.stream_text returns: an async iterator of Deltas for one turn.

    A loop that ends early lets go of it; the turn is then ended at once (not whenever the event loop
    gets round to closing the generator), so the response is cancelled before the next call is sent.
    """

    def __init__(self, turns: TurnController, handle: TurnHandle, deltas: AsyncIterator[Delta]) -> None:
        self._turns = turns
        self._handle = handle
        self._deltas = deltas

    def __aiter__(self) -> TurnStream:
        return self

    async def __anext__(self) -> Delta:
        return await self._deltas.__anext__()

    async def aclose(self) -> None:
        """Stop the turn now (cancelling the response if it is still running)."""
        await self._deltas.aclose()  # type: ignore[attr-defined]

    def __del__(self) -> None:
        if self._handle.reply is not None:
            with contextlib.suppress(RuntimeError):  # no running loop: the session is gone too
                self._turns.end(self._handle.reply)
