"""How one response's output streams: transcript pieces, audio in the seed's rhythm, function calls.

Audio deltas are 100 ms, 150 ms, then at most 250 ms (4800, 7200, 12000 bytes of PCM16 at 24 kHz;
the same durations in G.711 at 8 kHz), the transcript running about `TEXT_LEAD_MS` ahead of the
audio. Every stream checks ``response.cancel_reason`` before each delta, so a cancel received
mid-response cuts it short and only the audio actually pulled counts as the item's audio.

    >>> sentences(transcript_pieces("Hi there. Bye!"))
    [['Hi', ' there', '.'], [' Bye', '!']]
    >>> sentences(transcript_pieces("Once upon a time, a robot sang, loudly. The end."))   # the first clause alone
    [['Once', ' upon', ' a', ' time', ','], [' a', ' robot', ' sang', ',', ' loudly', '.'], [' The', ' end', '.']]
    >>> [chunk_ms(index) for index in range(4)]
    [100, 150, 250, 250]
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..rules import GPT_REALTIME, SERVICES, ModelProfile, ServiceRules
from .audio_format import bytes_per_ms, encoded_view, ms_of, rate_of
from .items import Conversation, Item
from .tool_calls import ToolCall
from .wire import Ids, Outgoing, json_copy
from .work import Job, Synthesize, Work

__all__ = ["CHUNK_MS", "FIRST_CHUNKS_MS", "TEXT_LEAD_MS", "OutputWriter", "Response", "chunk_ms", "transcript_pieces"]

FIRST_CHUNKS_MS = (100, 150)          # the seed's first deltas: 4800 then 7200 bytes of PCM16
CHUNK_MS = 250                        # then at most 12000 bytes of PCM16 (250 ms at 24 kHz)
TEXT_LEAD_MS = 400                    # how far the transcript runs ahead of the audio
FIRST_TEXT_PIECES = 3                 # transcript pieces sent before any audio is synthesised
ARGUMENT_DELTA_CHARS = 12             # function call arguments stream in pieces this long

Request = Callable[[Job], Work]       # asks the shell for engine work (`RealtimeProtocol`'s work queue)
SYNTHESIS_AHEAD = 2                   # sentences asked for before the one being streamed is ready


@dataclass(eq=False)
class Response:
    """One response: its effective settings, its output so far, and how it ended."""

    id: str
    settings: dict[str, Any]
    in_conversation: bool
    input_items: list[Item] | None
    metadata: Any = None
    output: list[Item] = field(default_factory=list)
    cancel_reason: str | None = None
    incomplete: bool = False
    failure: str | None = None
    reasoned: bool = False                 # the model reports reasoning tokens for it (2.x answers)
    done: bool = False
    usage_in: tuple[int, int] = (0, 0)     # (text tokens, audio tokens) of the context
    image_tokens_in: int = 0               # tokens of the images in the context (vision rule)
    events: Iterator[Outgoing | None] | None = None


# -- text and rhythm -------------------------------------------------------------------------------

# A sentence without an end ("banana banana ...") is spoken in parts of this many pieces, so one synthesis
# call stays short and other sessions' speech is not queued behind it.
MAX_SPOKEN_PIECES = 60
# The first sentence is spoken in two parts at its first comma, colon or semicolon after more than this many pieces:
# someone waits for the first synthesis, and a clause is made in a fraction of a sentence's time (the story's "Once
# upon a time," 4.5 ms of CPU against 11 for its whole first sentence)
FIRST_CLAUSE_PIECES = 3
_PIECE = re.compile(r"\s*(?:\w+(?:['’]\w+)*|[^\w\s])|\s+$")


def transcript_pieces(text: str) -> list[str]:
    """Transcript deltas: words with their leading space, punctuation on its own.

        >>> transcript_pieces("Sure, I'm here.")
        ['Sure', ',', " I'm", ' here', '.']
    """
    return _PIECE.findall(text)


def sentences(pieces: list[str]) -> list[list[str]]:
    """Group pieces into sentences (end punctuation, then a space or the end); at most `MAX_SPOKEN_PIECES` each, and
    the first sentence's first clause on its own (`FIRST_CLAUSE_PIECES`)."""
    groups: list[list[str]] = [[]]
    for index, piece in enumerate(pieces):
        groups[-1].append(piece)
        following = pieces[index + 1] if index + 1 < len(pieces) else " "
        mark, spaced = piece.strip(), following[:1].isspace()
        ended = mark in (".", "!", "?") and spaced
        first_clause = len(groups) == 1 and len(groups[0]) > FIRST_CLAUSE_PIECES and mark in (",", ";", ":") and spaced
        if ended or first_clause or len(groups[-1]) >= MAX_SPOKEN_PIECES:
            groups.append([])
    return [group for group in groups if group]


@functools.lru_cache(maxsize=256)   # a room's sessions say the same answers: each is split once, not once per session
def spoken_parts(text: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """``text``'s transcript pieces and the sentences they are synthesised in (shared, so tuples)."""
    pieces = transcript_pieces(text)
    return tuple(pieces), tuple(tuple(group) for group in sentences(pieces))


def chunk_ms(index: int) -> int:
    """The duration of audio delta number ``index`` (from 0)."""
    return FIRST_CHUNKS_MS[index] if index < len(FIRST_CHUNKS_MS) else CHUNK_MS


class AudioQueue:
    """Audio waiting to go out as deltas: views of whole sentences (shared by every session that says them), of
    which only each delta's bytes are copied. Copying whole sentences into each session (three copies of a 3.7 s
    sentence, 178 kB each) made 27 MB of fresh pages when 50 sessions said it at once."""

    def __init__(self) -> None:
        self._views: deque[memoryview] = deque()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def extend(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        if view.nbytes:
            self._views.append(view)
            self._size += view.nbytes

    def take(self, size: int) -> bytes:
        """The next ``size`` bytes (fewer at the end), copied out."""
        parts: list[memoryview] = []
        while size > 0 and self._views:
            view = self._views[0]
            parts.append(view[:size])
            if view.nbytes > size:
                self._views[0] = view[size:]
            else:
                self._views.popleft()
            size -= parts[-1].nbytes
            self._size -= parts[-1].nbytes
        return b"".join(parts)


def place_pieces(starts: list[float], sentence: Sequence[str], offset: int, begin_ms: float,
                 duration_ms: float) -> None:
    """Estimated start time of each piece of a synthesised sentence: proportional to characters."""
    total = max(1, sum(len(piece) for piece in sentence))
    position = 0
    for index, piece in enumerate(sentence):
        at = begin_ms + duration_ms * position / total
        if offset + index < len(starts):
            starts[offset + index] = min(starts[offset + index], at)
        else:
            starts.append(at)
        position += len(piece)


# -- output items ----------------------------------------------------------------------------------


class OutputWriter:
    """Streams a response's output items into the conversation: a message, or a function call."""

    def __init__(self, ids: Ids, conversation: Conversation, request: Request,
                 service: ServiceRules = SERVICES["openai"], profile: ModelProfile = GPT_REALTIME) -> None:
        self._ids = ids
        self._conversation = conversation
        self._request = request
        self._service = service
        self._profile = profile
        self.audio_was_produced = False     # once true, the session's voice is locked

    def message(self, response: Response, text: str, phase: str = "final_answer", audio: bytes | None = None,
                ) -> Iterator[Outgoing | None]:
        """An assistant message saying ``text``: audio with its transcript, or text only.

        ``phase`` ("commentary" before a tool call, else "final_answer") shows only on models whose items carry it.
        ``audio`` (in the response's format) is sent instead of synthesising ``text`` (a replay).
        """
        rid, with_audio = response.id, "audio" in response.settings["output_modalities"]
        wire: dict[str, Any] = {"id": self._ids.new("item_"), "type": "message", "status": "in_progress",
                                "role": "assistant", "content": []}
        if self._profile.item_phase:
            wire["phase"] = phase
        yield from self._open_item(response, wire)
        item = response.output[-1]
        where = {"response_id": rid, "item_id": item.id, "output_index": response.output.index(item),
                 "content_index": 0}
        part: dict[str, Any] = {"type": "audio", "transcript": ""} if with_audio else {"type": "text", "text": ""}
        wire["content"].append({"type": "output_audio", "transcript": ""} if with_audio
                               else {"type": "output_text", "text": ""})
        yield self._ids.event({"type": "response.content_part.added", **where, **self._part(part)}, response_id=rid)
        spoken: list[str] = []
        if with_audio:
            yield from self._audio_stream(response, item, text, spoken, where, audio)
        else:
            yield from self._text_stream(response, text, spoken, where)
        said = "".join(spoken)
        key = "transcript" if with_audio else "text"
        wire["content"][0][key] = said
        part[key] = said
        if with_audio:
            yield self._ids.event({"type": "response.output_audio.done", **where}, response_id=rid)
            yield self._ids.event({"type": "response.output_audio_transcript.done", **where, "transcript": said},
                                  response_id=rid)
        else:
            yield self._ids.event({"type": "response.output_text.done", **where, "text": said}, response_id=rid)
        yield self._ids.event({"type": "response.content_part.done", **where, **self._part(part)}, response_id=rid)
        yield from self._close_item(response, item)

    def function_call(self, response: Response, call: ToolCall) -> Iterator[Outgoing]:
        """A function call item whose arguments stream in short deltas."""
        rid = response.id
        arguments = json.dumps(call.arguments)
        wire: dict[str, Any] = {"id": self._ids.new("item_"), "type": "function_call",
                                "status": "in_progress", "name": call.name, "call_id": self._ids.new("call_", 16),
                                "arguments": ""}
        yield from self._open_item(response, wire)
        item = response.output[-1]
        where = {"response_id": rid, "item_id": item.id, "output_index": response.output.index(item),
                 "call_id": wire["call_id"]}
        for start in range(0, len(arguments), ARGUMENT_DELTA_CHARS):
            if response.cancel_reason is not None:
                break
            delta = arguments[start:start + ARGUMENT_DELTA_CHARS]
            wire["arguments"] += delta
            yield self._ids.event({"type": "response.function_call_arguments.delta", **where, "delta": delta,
                                   "obfuscation": self._ids.obfuscation(delta)}, response_id=rid)
        yield self._ids.event({"type": "response.function_call_arguments.done", **where, "name": call.name,
                               "arguments": wire["arguments"]}, response_id=rid)
        yield from self._close_item(response, item)

    def _part(self, part: dict[str, Any]) -> dict[str, Any]:
        """A content part event's part; Azure repeats it as ``content`` beside ``part``."""
        if self._service.content_beside_part:
            return {"part": dict(part), "content": dict(part)}
        return {"part": dict(part)}

    def _open_item(self, response: Response, wire: dict[str, Any]) -> Iterator[Outgoing]:
        """A new output item: output_item.added, and conversation.item.added unless out of band."""
        item = Item(wire, audio_format=response.settings["format"]["type"], response_id=response.id)
        response.output.append(item)
        output_index = len(response.output) - 1
        yield self._ids.event({"type": "response.output_item.added", "response_id": response.id,
                               "output_index": output_index, "item": json_copy(wire)}, response_id=response.id)
        if response.in_conversation:
            before = self._conversation.add(item)
            yield self._ids.event({"type": "conversation.item.added", "previous_item_id": before,
                                   "item": json_copy(wire)}, response_id=response.id)

    def _close_item(self, response: Response, item: Item) -> Iterator[Outgoing]:
        cut_short = response.cancel_reason is not None or response.incomplete or response.failure is not None
        item.wire["status"] = "incomplete" if cut_short else "completed"
        item.response_id = None
        # the service finishes the conversation's item before the response's (all 30 recorded items)
        if response.in_conversation and item in self._conversation:
            yield self._ids.event({"type": "conversation.item.done",
                                   "previous_item_id": self._conversation.previous_id(item),
                                   "item": json_copy(item.wire)}, response_id=response.id)
        yield self._ids.event({"type": "response.output_item.done", "response_id": response.id,
                               "output_index": response.output.index(item), "item": json_copy(item.wire)},
                              response_id=response.id)

    def _text_stream(self, response: Response, text: str, spoken: list[str],
                     where: dict[str, Any]) -> Iterator[Outgoing]:
        for piece in spoken_parts(text)[0]:   # split once per text, as audio answers are
            if response.cancel_reason is not None:
                return
            spoken.append(piece)
            yield self._ids.event({"type": "response.output_text.delta", **where, "delta": piece,
                                   "obfuscation": self._ids.obfuscation(piece)}, response_id=response.id)

    def _audio_stream(self, response: Response, item: Item, text: str, spoken: list[str],
                      where: dict[str, Any], recorded: bytes | None = None) -> Iterator[Outgoing | None]:
        """Transcript deltas running ahead of audio deltas of 100, 150, then 250 ms."""
        settings, rid = response.settings, response.id
        kind = settings["format"]["type"]
        per_ms = bytes_per_ms(kind)
        pieces, sentences_of_text = spoken_parts(text)
        starts: list[float] = []          # estimated start (ms) of each piece whose sentence is synthesised
        pending = AudioQueue()
        chunks_sent, sent_ms, synthesized_ms = 0, 0.0, 0.0
        item.audio[0] = bytearray()

        def transcript_until(ms: float) -> Iterator[Outgoing]:
            while len(spoken) < len(starts) and starts[len(spoken)] <= ms and response.cancel_reason is None:
                spoken.append(pieces[len(spoken)])
                yield self._ids.event({"type": "response.output_audio_transcript.delta", **where,
                                       "delta": spoken[-1], "obfuscation": self._ids.obfuscation(spoken[-1])},
                                      response_id=rid)

        def audio_chunk(size: int) -> Outgoing:
            nonlocal chunks_sent, sent_ms
            data = pending.take(size)
            item.audio[0].extend(data)
            chunks_sent, sent_ms = chunks_sent + 1, sent_ms + ms_of(len(data), kind)
            self.audio_was_produced = True
            return self._ids.event({"type": "response.output_audio.delta", **where,
                                    "delta": base64.b64encode(data).decode("ascii")},
                                   audio_ms=ms_of(len(data), kind), response_id=rid)

        starts.extend([0.0] * min(FIRST_TEXT_PIECES, len(pieces)))  # text first: a few words before audio
        yield from transcript_until(0.0)
        offset = 0
        # synthesised sentence by sentence by the shell; recorded audio is one segment under the whole transcript
        said = (pieces,) if recorded is not None else sentences_of_text
        asked: list[Work] = []
        for index, sentence in enumerate(said):
            if recorded is not None:
                audio: bytes | memoryview | None = recorded
            else:
                while len(asked) < min(len(said), index + 1 + SYNTHESIS_AHEAD):
                    asked.append(self._request(Synthesize("".join(said[len(asked)]).strip(), settings["voice"],
                                                          rate_of(kind), settings["speed"], first=not asked)))
                while not asked[index].done and response.cancel_reason is None:
                    yield None                                  # the shell is synthesising it
                if response.cancel_reason is not None:
                    return
                audio = self._spoken(asked[index], kind, response)
            if audio is None:
                return
            duration = ms_of(len(audio), kind)
            place_pieces(starts, sentence, offset, synthesized_ms, duration)
            offset += len(sentence)
            synthesized_ms += duration
            pending.extend(audio)
            while len(pending) >= int(chunk_ms(chunks_sent) * per_ms) and response.cancel_reason is None:
                yield from transcript_until(sent_ms + chunk_ms(chunks_sent) + TEXT_LEAD_MS)
                if response.cancel_reason is None:
                    yield audio_chunk(int(chunk_ms(chunks_sent) * per_ms))
        while pending and response.cancel_reason is None:
            yield from transcript_until(sent_ms + chunk_ms(chunks_sent) + TEXT_LEAD_MS)
            if response.cancel_reason is None:
                yield audio_chunk(int(chunk_ms(chunks_sent) * per_ms))
        yield from transcript_until(math.inf)

    def _spoken(self, work: Work, kind: str, response: Response) -> bytes | memoryview | None:
        """The wire bytes of a finished synthesis job; None (and the response failed) if the engine failed."""
        if work.error is not None:  # an engine failure fails the response, as a server error would
            response.failure = f"Speech synthesis failed: {work.error}"
            return None
        return encoded_view(work.result, kind)
