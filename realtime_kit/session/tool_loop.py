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

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConnectionLost, InvalidState
from .conversation import Response, ToolCall
from .pump import SessionPump
from .tools import Tool, error_text, function_tool, output_text
from .turns import TurnController

__all__ = ["ToolRegistry", "ToolRunner"]


class ToolRegistry:
    """The Python functions a session runs when the model calls them, by name."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    @property
    def tools(self) -> dict[str, Tool]:
        """A copy of the registry: name -> Tool."""
        return dict(self._tools)

    def get(self, name: str) -> Tool | None:
        """The tool of that name, or None when no Python function is registered for it."""
        return self._tools.get(name)

    def add(self, fn: Any) -> Tool:
        """Register a function (or a Tool) and return its Tool."""
        tool = fn if isinstance(fn, Tool) else function_tool(fn)
        self._tools[tool.name] = tool
        return tool

    def register(self, tools: Iterable[Any]) -> list[Any]:
        """Register the functions among `tools` (schemas pass through); the schemas to send."""
        return [entry if isinstance(entry, Mapping) else self.add(entry).schema for entry in tools]

    def to_schemas(self, config: Mapping[str, Any] | None, flat: dict[str, Any]
                   ) -> tuple[Mapping[str, Any] | None, dict[str, Any]]:
        """update()'s arguments with Python functions under `tools` registered and replaced by their schemas."""
        if "tools" in flat and flat["tools"] is not None:
            flat = {**flat, "tools": self.register(flat["tools"])}
        if config is not None and config.get("tools") is not None:
            config = {**config, "tools": self.register(config["tools"])}
        return config, flat


class ToolRunner:
    """The tool loop: at each response.done (the pump's callback), run the calls and ask for the follow-up."""

    def __init__(self, pump: SessionPump, turns: TurnController, registry: ToolRegistry) -> None:
        self._pump = pump
        self._turns = turns
        self._registry = registry
        pump.on_response_done(self._after_response)

    def _after_response(self, response: Response, now: float) -> None:
        caller = self._turns.caller_of(response)
        calls = [c for c in response.tool_calls if c.response_id == response.id and not c.finished]
        if response.status != "completed" or not any(self._registry.get(c.name) is not None for c in calls):
            return
        follow_up = self._turns.follow_up(response, now, caller)
        self._pump.spawn(self._answer_tools(calls, follow_up), context=caller)

    async def _answer_tools(self, calls: list[ToolCall], follow_up: Response) -> None:
        try:
            for call in calls:
                output = await self._run_tool(call, follow_up)
                follow_up.request_event_ids.append(await self._pump.send({"type": "conversation.item.create", "item": {
                    "type": "function_call_output", "call_id": call.call_id, "output": output}}))
            follow_up.request_event_ids.append(await self._pump.send(self._turns.response_create(follow_up.tag, {})))
        except (ConnectionLost, InvalidState):
            self._pump.conversation.withdraw(follow_up)  # the pump already told whoever waits

    async def _run_tool(self, call: ToolCall, follow_up: Response) -> str:
        tool = self._registry.get(call.name)
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

