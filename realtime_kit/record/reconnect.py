"""What a reconnect needs, pure: the conversation as items the service accepts, and a record of each one.

A new connection starts an empty conversation. The session re-sends its config and then the
conversation so far as ``conversation.item.create`` items, in the shape the real service takes for
history (the "message_history_seeding" recordings in ../shared/real-traces): user messages as
``input_text``, assistant messages as ``output_text``, function calls and their outputs as they were.
Spoken turns travel as their transcript (a new connection cannot take back the service's audio).

    >>> history_items([{"type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": "hi"}]},
    ...                {"type": "message", "role": "assistant",
    ...                 "content": [{"type": "output_audio", "transcript": "Hello!"}]}])
    [{'type': 'message', 'role': 'user', 'content': [{'type': 'input_text', 'text': 'hi'}]}, \
{'type': 'message', 'role': 'assistant', 'content': [{'type': 'output_text', 'text': 'Hello!'}]}]
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Reconnect", "history_items", "session_to_resend"]

# Keys of the effective session that describe it but cannot be sent back in a session.update.
_READ_ONLY = ("id", "object", "expires_at", "client_secret", "model")


@dataclass
class Reconnect:
    """One reconnect of a session: when, why, what was lost and what was restored."""

    at: float                      # seconds since the session started
    reason: str
    planned: bool = False          # True: between turns, before a known limit (nothing was lost)
    lost: Any = None               # the rk.Response in flight when the connection went, with its partial audio
    attempts: int = 0              # connections tried until one worked
    restored_items: int = 0        # conversation items re-sent as history
    took_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def lost_audio_s(self) -> float:
        """Seconds of answer audio that had arrived from the response that was lost."""
        return float(getattr(self.lost, "audio_duration", 0.0) or 0.0)

    def as_event(self) -> dict[str, Any]:
        """How it appears in the event log and in a recording (type ``rk.reconnect``, not a GA event)."""
        lost = getattr(self.lost, "id", None)
        return {"type": "rk.reconnect", "reason": self.reason, "planned": self.planned, "lost_response_id": lost,
                "lost_transcript": getattr(self.lost, "transcript", None) if lost else None,
                "lost_audio_s": round(self.lost_audio_s, 3), "attempts": self.attempts,
                "restored_items": self.restored_items, "took_s": round(self.took_s, 3), "notes": list(self.notes)}

    def __repr__(self) -> str:
        what = "planned" if self.planned else "after a drop"
        lost = f", lost {self.lost_audio_s:.1f} s of a response" if self.lost is not None else ""
        return (f"Reconnect({what} at {self.at:.1f} s: {self.reason}; {self.restored_items} items restored"
                f"{lost}, {self.attempts} attempt(s), {self.took_s:.2f} s)")

    def _repr_html_(self) -> str:
        return f"<code>{html.escape(repr(self))}</code>"


def history_items(items: Iterable[Mapping[str, Any]], transcripts: Mapping[str, str] | None = None,
                  ) -> list[dict[str, Any]]:
    """The conversation items to re-create on a new connection (items the service would refuse are left out)."""
    heard = transcripts or {}
    out: list[dict[str, Any]] = []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            message = _message(item, heard)
            if message is not None:
                out.append(message)
        elif kind == "function_call":
            out.append({"type": "function_call", "call_id": item.get("call_id"), "name": item.get("name"),
                        "arguments": item.get("arguments") or "{}"})
        elif kind == "function_call_output":
            out.append({"type": "function_call_output", "call_id": item.get("call_id"),
                        "output": item.get("output") or ""})
    return out


def _message(item: Mapping[str, Any], heard: Mapping[str, str]) -> dict[str, Any] | None:
    role = item.get("role")
    texts = [_text_of(part, heard.get(str(item.get("id")), "")) for part in item.get("content") or []]
    text = " ".join(t for t in texts if t).strip()
    if not text or role not in ("user", "assistant", "system"):
        return None
    part = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": part, "text": text}]}


def _text_of(part: Mapping[str, Any], heard: str) -> str:
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return str(part.get("text") or "")
    if kind in ("input_audio", "output_audio", "audio"):
        return str(part.get("transcript") or heard or "")
    return ""


def session_to_resend(effective: Mapping[str, Any]) -> dict[str, Any]:
    """The effective session as a session.update can send it again (read-only keys and top-level nulls dropped).

        >>> session_to_resend({"type": "realtime", "id": "sess_1", "model": "gpt-realtime", "instructions": "Hi",
        ...                    "prompt": None})
        {'type': 'realtime', 'instructions': 'Hi'}
    """
    # a top-level null (prompt, tracing, include) is the default anyway; nested ones (turn_detection) are kept
    return {key: value for key, value in effective.items() if key not in _READ_ONLY and value is not None}
