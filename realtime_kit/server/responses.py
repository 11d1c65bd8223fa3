"""The responses of one session: what each one answers (by `responder`), how it ends, what it used.

`Responses.start` makes a response whose events are a lazily advanced generator; `RealtimeProtocol`
queues the generator and pulls from it, and cancels by setting ``cancel_reason`` and draining it.

    >>> from realtime_kit.server.session_config import default_session, response_settings
    >>> ids = Ids(seed=1)
    >>> responses = Responses(ids, Conversation(ids), request=None, hear=None)  # text needs no engine
    >>> params = {"output_modalities": ["text"]}
    >>> settings = response_settings(default_session("m", "sess_1", 0), params)
    >>> events = [out.event for out in responses.start(params, settings, input_items=None)]
    >>> events[0]["type"], events[-2]["response"]["status"], events[-1]["type"]
    ('response.created', 'completed', 'rate_limits.updated')
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..rules import GPT_REALTIME, SERVICES, ModelProfile, ServiceRules
from . import responder
from .answers import AnswerSource, RuleAnswers
from .images import image_tokens_of, images_of
from .items import Conversation, Item
from .streaming import OutputWriter, Request, Response
from .usage import context_tokens, cut_to_tokens, output_tokens, rate_limits, reasoning_tokens, usage
from .wire import Ids, Outgoing, json_copy

__all__ = ["PREAMBLE", "Responses"]

PREAMBLE = "I'll check that for you."   # a 2.x model's commentary before it calls a tool

class Responses:
    """The responses in flight, their shared counters, and the events of each one."""

    def __init__(self, ids: Ids, conversation: Conversation, request: Request, hear: Callable[[Item], None],
                 service: ServiceRules = SERVICES["openai"], profile: ModelProfile = GPT_REALTIME,
                 answers: AnswerSource | None = None) -> None:
        self._ids = ids
        self._answers = answers or RuleAnswers()  # what each response says: the rules, or a recording
        self._conversation = conversation
        self._hear = hear                  # asks for an audio item's words (sets item.hearing)
        self._service, self._profile = service, profile
        self._writer = OutputWriter(ids, conversation, request, service, profile)
        self.conversation_id = ids.new("conv_")
        self.active: list[Response] = []       # accepted, until their response.done goes out
        self.done_count = 0
        self.tokens_used = 0
        # which conversation items a response reads (the protocol's context window; all of them by default)
        self.in_context: Callable[[list[Item], Mapping[str, Any]], list[Item]] = lambda items, settings: items

    @property
    def audio_was_produced(self) -> bool:
        """The assistant has sent audio in this session (so the voice is locked)."""
        return self._writer.audio_was_produced

    @property
    def busy(self) -> bool:
        return any(not response.done for response in self.active)

    def start(self, params: Mapping[str, Any], settings: dict[str, Any], input_items: list[Item] | None,
              ) -> Iterator[Outgoing | None]:
        """A new response to ``params`` (a ``response.create``'s ``response``), with its `response_settings`: its
        events, to pull."""
        response = Response(self._ids.new("resp_"), settings, params.get("conversation", "auto") != "none",
                            input_items, metadata=params.get("metadata"))
        response.events = events = self._events(response)
        self.active.append(response)
        return events

    def default_writer(self) -> Response | None:
        """The in-flight response that writes to the default conversation, if any."""
        return next((r for r in self.active if r.in_conversation and not r.done), None)

    def in_flight(self, response_id: str | None) -> Response | None:
        return next((r for r in self.active if r.id == response_id and not r.done), None)

    def owner_of(self, events: Iterator[Outgoing | None]) -> Response | None:
        return next((r for r in self.active if r.events is events), None)

    def end_all(self) -> None:
        """The session ended: no response produces anything more."""
        for response in self.active:
            response.done = True

    def failed(self, response: Response, message: str) -> dict[str, Any]:
        """End ``response`` after a server bug; the ``response.done`` body that says so."""
        response.done = True
        self.active.remove(response)
        details = {"type": "failed", "error": {"type": "server_error", "code": "internal_error", "message": message}}
        return {"type": "response.done", "response": self.response_object(response, "failed", details)}

    def response_object(self, response: Response, status: str, details: dict[str, Any] | None = None,
                        usage: dict[str, Any] | None = None) -> dict[str, Any]:
        settings = response.settings
        return {
            "object": "realtime.response",
            "id": response.id,
            "status": status,
            "status_details": details,
            "output": [json_copy(item.wire) for item in response.output] if status != "in_progress" else [],
            "conversation_id": self.conversation_id if response.in_conversation else None,
            "output_modalities": list(settings["output_modalities"]),
            "max_output_tokens": settings["max_output_tokens"],
            "audio": {"output": {"format": dict(settings["format"]), "voice": settings["voice"]}},
            "usage": usage,
            "metadata": json_copy(response.metadata),
        }

    # -- one response ------------------------------------------------------------------------------

    def _events(self, response: Response) -> Iterator[Outgoing | None]:
        """Every event of one response, produced only as they are pulled (None: waiting on engine work)."""
        yield self._ids.event({"type": "response.created", "response": self.response_object(response, "in_progress")},
                              response_id=response.id)
        yield from self._until_heard(response)
        if response.cancel_reason is None:
            context, may_call = self._plan(response)
            answer = self._answers.answer(context, response.settings, may_call)
            output: Iterator[Outgoing | None]
            if answer.call is not None:
                # gpt-realtime-2.1 says what it is about to do, then calls the tool, in one response
                preamble = (self._writer.message(response, PREAMBLE, phase="commentary")
                            if self._profile.preamble_before_tool else iter(()))
                output = itertools.chain(preamble, self._writer.function_call(response, answer.call))
            elif answer.audio is not None:  # recorded audio is sent as it was, never cut
                output = self._writer.message(response, answer.text, audio=answer.audio)
            else:
                text, response.incomplete = cut_to_tokens(answer.text, response.settings["max_output_tokens"])
                output = self._writer.message(response, text)
                response.reasoned = self._profile.reasoning_tokens and context.tool_result is None
            yield from _after_pause(output, answer.wait_ms)
        yield from self._finish(response)

    def _until_heard(self, response: Response) -> Iterator[None]:
        """Wait until the words of the user's recent audio items are known (what the reply answers to)."""
        items = response.input_items if response.input_items is not None \
            else self.in_context(list(self._conversation.items), response.settings)
        users = [i for i in items if i.wire.get("type") == "message" and i.wire.get("role") == "user"][-6:]
        waiting = []
        for item in users:
            if item.heard is None and any(p.get("type") == "input_audio" for p in item.wire.get("content", [])):
                self._hear(item)
                if item.hearing is not None:
                    waiting.append(item.hearing)
        while any(not work.done for work in waiting) and response.cancel_reason is None:
            yield None

    def _plan(self, response: Response) -> tuple[responder.TurnContext, bool]:
        """What the assistant answers to (the latest user message or function output); may it call a tool?"""
        items = response.input_items if response.input_items is not None \
            else self.in_context(list(self._conversation.items), response.settings)
        response.usage_in = context_tokens(items, response.settings["instructions"])
        response.image_tokens_in = sum(image_tokens_of(item) for item in items)
        settings = response.settings
        relevant = [i for i in items if i.wire.get("type") in ("message", "function_call_output")
                    and i.wire.get("role") != "system"]
        users = [i for i in items if i.wire.get("type") == "message" and i.wire.get("role") == "user"]
        user_texts = [self._text_of(i) for i in users]
        last = relevant[-1] if relevant else None
        context = responder.TurnContext(
            user_text=user_texts[-1] if users else None,
            from_audio=bool(users) and any(p.get("type") == "input_audio" for p in users[-1].wire["content"]),
            earlier_user_texts=tuple(user_texts[-6:-1]),
            instructions=settings["instructions"],
            session=settings["session_view"],
            user_messages=len(users),
            responses_so_far=self.done_count,
            tool_result=self._tool_result(last, items),
            images=tuple(facts.describe() for facts in images_of(users[-1].wire)) if users and last is users[-1]
            else (),
        )
        # A tool is only called in answer to a user message, so answering a call's output cannot loop.
        may_call = last is not None and last.wire.get("type") == "message" and last.wire.get("role") == "user"
        return context, may_call

    def _text_of(self, item: Item) -> str:
        parts = []
        for part in item.wire.get("content", []):
            if part.get("type") == "input_text":
                parts.append(part.get("text") or "")
            elif part.get("type") == "input_audio":
                parts.append(item.heard or "")
        return " ".join(p for p in parts if p)

    def _tool_result(self, last: Item | None, items: Sequence[Item]) -> tuple[str, str] | None:
        if last is None or last.wire.get("type") != "function_call_output":
            return None
        call_id = last.wire.get("call_id")
        call = next((i for i in items if i.wire.get("type") == "function_call" and i.wire.get("call_id") == call_id),
                    None) or next((i for i in self._conversation.items if i.wire.get("call_id") == call_id
                                   and i.wire.get("type") == "function_call"), None)
        name = str(call.wire.get("name")) if call is not None else "function"
        return name, str(last.wire.get("output", ""))

    def _finish(self, response: Response) -> Iterator[Outgoing | None]:
        status, details = _ending(response)
        written = output_tokens(response.output)
        # recorded on 2.1: reasoning tokens for an answer to the user, none beside a tool call or its output
        effort = str(response.settings["reasoning_effort"])
        used = usage(response.usage_in, written, reasoning=reasoning_tokens(written[0], effort)
                     if response.reasoned else None, images=response.image_tokens_in)
        response.done = True
        self.done_count += 1
        self.tokens_used += used["total_tokens"]
        for item in response.output:
            item.response_id = None
        yield self._ids.event({"type": "response.done",
                               "response": self.response_object(response, status, details, used)},
                              response_id=response.id)
        self.active.remove(response)
        if self._service.rate_limits_updated:
            yield self._ids.event({"type": "rate_limits.updated",
                                   "rate_limits": rate_limits(self.done_count, self.tokens_used)})


def _after_pause(events: Iterator[Outgoing | None], wait_ms: float) -> Iterator[Outgoing | None]:
    """``events``, the first real one (not a wait for engine work) carrying a pause for the shell to take first."""
    paused = wait_ms <= 0
    for out in events:
        if out is not None and not paused:
            out, paused = dataclasses.replace(out, wait_ms=wait_ms), True
        yield out


def _ending(response: Response) -> tuple[str, dict[str, Any] | None]:
    """The status of a finished response and its ``status_details``."""
    if response.cancel_reason is not None:
        return "cancelled", {"type": "cancelled", "reason": response.cancel_reason}
    if response.failure is not None:
        return "failed", {"type": "failed", "error": {"type": "server_error", "code": "engine_failed",
                                                      "message": response.failure}}
    if response.incomplete:
        return "incomplete", {"type": "incomplete", "reason": "max_output_tokens"}
    return "completed", None
