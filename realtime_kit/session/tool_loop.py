"""Python functions the model can call: the session's tool registry and the loop that answers calls.

At response.done, each function call the model made is run here (async or not), its output sent back as a
`function_call_output` item, and a follow-up response requested; the caller's turn ends with the last
response of that chain. A tool that raises tells the model the error and the session goes on::

    async def add(a: int, b: int) -> int:
        return a + b

    await session.add_tool(add)
    reply = await session.send_text("What is 2 plus 3?")   # the final response of the chain
    reply.tool_calls[0].result                             # 5
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import ConnectionLost, InvalidState, RealtimeError
from .conversation import REQUEST_TAG, Response, ToolCall
from .pump import SessionPump, Waiter
from .tools import Tool, error_text, function_tool, output_text


class ToolCalling(SessionPump):
    """SessionPump plus the tool registry, response requests that carry tools, and the tool loop."""

    def __init__(self, connection: Any, target: Any, *, clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__(connection, target, clock=clock)
        self._tools: dict[str, Tool] = {}
        self._active_turn: Response | None = None        # the caller's turn in progress, if any
        self._cancelling: asyncio.Task[None] | None = None  # stopping a turn its caller left early
        # the context of the call that asked for each response (in Jupyter, its cell): tools run in it, so
        # their print() and warnings appear under that cell, not under the one that opened the session
        self._callers: dict[str, contextvars.Context] = {}

    # -- the registry ----------------------------------------------------------------------------

    @property
    def tools(self) -> dict[str, Tool]:
        """The Python functions this session runs when the model calls them, by name."""
        return dict(self._tools)

    def _tools_to_schemas(self, config: Mapping[str, Any] | None, flat: dict[str, Any]
                          ) -> tuple[Mapping[str, Any] | None, dict[str, Any]]:
        if "tools" in flat and flat["tools"] is not None:
            flat = {**flat, "tools": self._register_tools(flat["tools"])}
        if config is not None and config.get("tools") is not None:
            config = {**config, "tools": self._register_tools(config["tools"])}
        return config, flat

    def _register_tools(self, tools: Iterable[Any]) -> list[Any]:
        schemas = []
        for entry in tools:
            if isinstance(entry, Mapping):
                schemas.append(entry)
                continue
            tool = entry if isinstance(entry, Tool) else function_tool(entry)
            self._tools[tool.name] = tool
            schemas.append(tool.schema)
        return schemas

    # -- requests --------------------------------------------------------------------------------

    def _response_create(self, tag: str | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
        from ..config.build import build_response

        overrides = dict(overrides)
        if overrides.get("tools") is not None:
            overrides["tools"] = self._register_tools(overrides["tools"])
        params = build_response(**overrides)
        params["metadata"] = {**(params.get("metadata") or {}), REQUEST_TAG: tag}
        return {"type": "response.create", "response": params}

    # -- turns -----------------------------------------------------------------------------------

    async def _begin_turn(self, what: str, *, audio_input: bool = False) -> Response:
        """The one place a caller's turn starts: one turn at a time, and no reply left running from before."""
        await self._before_turn()  # a reconnect due (or under way) happens first
        if self._cancelling is not None:
            with contextlib.suppress(Exception):  # its own failure is not this turn's
                await self._cancelling
            self._cancelling = None
        active = self._active_turn
        if active is not None and not turn_done(active):
            raise InvalidState(f"{what}: another turn is still running on this session; await it first "
                               "(or finish its stream_text loop), or stop it with `await session.cancel()`.")
        if self.conversation.in_flight is not None and not audio_input:
            await self.cancel()  # a reply nobody awaits (server VAD's, say) would refuse our response.create
        reply = self.conversation.request(self._clock(), tag=self._new_tag(), audio_input=audio_input)
        self._active_turn = reply
        return reply

    def _end_turn(self, reply: Response) -> None:
        """The caller is done with its turn; a turn left before response.done is cancelled on the server."""
        if self._active_turn is not reply:
            return
        self._active_turn = None
        if not turn_done(reply) and not self.closed:
            task = asyncio.get_running_loop().create_task(self._cancel_turn(reply))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            self._cancelling = task

    async def cancel(self) -> Response | None:
        """Cancel the response in flight, if any; returns it (status "cancelled") at response.done."""
        response = self.conversation.in_flight
        if response is None or response.id is None:
            return None
        event = {"type": "response.cancel", "response_id": response.id}
        try:
            await self._exchange(lambda: response.done, event, partial=lambda: response)
        except RealtimeError as err:
            if "not_active" not in (err.code or "") and "no active" not in err.message.lower():
                raise
        return response

    async def _cancel_turn(self, reply: Response, timeout: float = 5.0) -> None:
        """Cancel what is left of an abandoned turn, once the server has created its response."""
        final = reply.final
        if final.id is None and (final not in self.conversation.pending or not final.request_event_ids):
            self.conversation.withdraw(final)  # refused, or never asked for: nothing runs on the server
            return
        try:
            await self._wait(lambda: reply.final.id is not None or reply.final.done, timeout=timeout)
        except TimeoutError:
            self.conversation.withdraw(reply.final)
            return
        if not reply.final.done and self.conversation.in_flight is reply.final:
            await self.cancel()

    def _new_tag(self) -> str:
        tag = f"r{next(self._ids)}"
        self._callers[tag] = contextvars.copy_context()
        return tag

    def _expect_turn(self, reply: Response) -> Waiter:
        return self._expect(lambda: turn_done(reply), owns=lambda eid: turn_owns(reply, eid),
                            partial=lambda: reply.final)

    # -- the loop --------------------------------------------------------------------------------

    def _after_response(self, response: Response, now: float) -> None:
        caller = self._callers.pop(response.tag, None) if response.tag else None
        calls = [c for c in response.tool_calls if c.response_id == response.id and not c.finished]
        if response.status != "completed" or not any(c.name in self._tools for c in calls):
            return
        follow_up = self.conversation.request(now, tag=self._new_tag())
        if caller is not None and follow_up.tag:
            self._callers[follow_up.tag] = caller
        follow_up.tool_calls = list(response.tool_calls)
        response.follow_up = follow_up
        if response in self._streams:
            self._streams[follow_up] = self._streams[response]
        self._spawn(self._answer_tools(calls, response, follow_up), context=caller)

    async def _answer_tools(self, calls: list[ToolCall], response: Response, follow_up: Response) -> None:
        try:
            for call in calls:
                output = await self._run_tool(call, follow_up)
                follow_up.request_event_ids.append(await self._send({"type": "conversation.item.create", "item": {
                    "type": "function_call_output", "call_id": call.call_id, "output": output}}))
            follow_up.request_event_ids.append(await self._send(self._response_create(follow_up.tag, {})))
        except (ConnectionLost, InvalidState):
            self.conversation.withdraw(follow_up)  # the pump already told whoever waits

    async def _run_tool(self, call: ToolCall, follow_up: Response) -> str:
        tool = self._tools.get(call.name)
        try:
            if tool is None:
                raise LookupError(f"no Python function is registered for the tool {call.name!r}")
            call.result = await tool.call(call.arguments)
            return output_text(call.result)
        except Exception as err:
            call.error = f"{type(err).__name__}: {err}"
            note = f"Tool {call.name!r} raised {call.error}; the model was told and the session goes on."
            follow_up.notes.append(note)
            warnings.warn(note, RuntimeWarning, stacklevel=2)
            return error_text(err)
        finally:
            call.finished = True


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
