"""What one session and the whole embedded server may hold, so one careless client cannot sink a room.

    >>> limits = Limits()
    >>> limits.max_sessions, limits.max_input_buffer_bytes // 2**20
    (200, 15)
    >>> memory = MemoryBudget(per_session=100, total=150)
    >>> a, b = memory.account(), memory.account()
    >>> a.hold(90); a.admit(20, "conversation.item.create")
    Traceback (most recent call last):
    ...
    realtime_kit.server.wire.ClientError: This session holds 90 bytes of audio and items; ...
    >>> b.admit(70, "input_audio_buffer.append")
    Traceback (most recent call last):
    ...
    realtime_kit.server.wire.ClientError: The server is near its memory limit ...

Pure (a lock, no I/O): the protocol asks an account before taking more data and tells it what it holds
after; the shell releases the account when the session ends. Errors are the service's shape
(``invalid_request_error``) with codes the README lists.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .wire import ClientError

__all__ = ["MAX_OUTPUT_TOKENS", "MAX_REPLY_CHARS", "Limits", "MemoryBudget", "SessionMemory", "freeze_startup_objects",
           "items_bytes", "keep_large_buffers_mapped", "own_server_process", "release_free_memory"]

MiB = 1024 * 1024
# The service caps a response at 4096 output tokens, "inf" included.
MAX_OUTPUT_TOKENS = 4096
# A reply is also cut at this many characters, whatever the tokens: ~4 minutes of speech.
MAX_REPLY_CHARS = 4000


@dataclass(frozen=True)
class Limits:
    """The embedded server's caps; ``LocalServer(limits=Limits(max_sessions=50))`` changes them.

    Memory: the input buffer and the conversation's items (audio and text) of one session, and of
    all sessions together. Output: a client that leaves ``send_stall_s`` of events unread is closed
    with 1008. Keepalive: a peer whose machine or network is gone (no TCP acks) is dropped after
    ``tcp_keepalive_s`` plus three probes two seconds apart; a client that reads nothing, not even pings,
    within ``ping_interval_s + ping_timeout_s`` (a notebook cell that blocks its kernel for longer, too).
    """

    max_sessions: int = 200
    max_input_buffer_bytes: int = 15 * MiB
    max_session_bytes: int = 64 * MiB
    max_server_bytes: int = 512 * MiB
    send_stall_s: float = 5.0
    bulk_frame_bytes: int = 256 * 1024
    handshake_records: int = 256
    ping_interval_s: float = 10.0
    ping_timeout_s: float = 20.0
    tcp_keepalive_s: int = 5
    max_json_depth: int = 32
    max_queued_frames: int = 4


class SessionMemory:
    """One session's account in a `MemoryBudget`: what it holds, checked before it takes more."""

    def __init__(self, budget: MemoryBudget) -> None:
        self._budget = budget
        self.held = 0

    def admit(self, extra: int, doing: str) -> None:
        """Raise the service-shaped `ClientError` when taking ``extra`` more bytes breaks a cap."""
        budget = self._budget
        if self.held + extra > budget.per_session:
            raise ClientError("session_memory_limit", f"This session holds {self.held} bytes of audio and items; "
                              f"{doing} would pass its limit of {budget.per_session} bytes. Delete conversation "
                              "items (conversation.item.delete) or clear the input buffer, or start a new session.",
                              None)
        if budget.held() + extra > budget.total:
            raise ClientError("server_memory_limit", f"The server is near its memory limit ({budget.total} bytes "
                              f"for all sessions), so {doing} was refused; try again shortly, or send less audio.",
                              None)

    def hold(self, held: int) -> None:
        """Record what the session holds now."""
        budget = self._budget
        with budget.lock:
            budget.total_held += held - self.held
            self.held = held

    def release(self) -> None:
        """The session ended: it holds nothing."""
        self.hold(0)


class MemoryBudget:
    """Bytes held by every session, against a per-session and a server-wide cap (thread-safe)."""

    def __init__(self, per_session: int, total: int) -> None:
        self.per_session, self.total = per_session, total
        self.lock = threading.Lock()
        self.total_held = 0   # kept as accounts change: summing them on every 20 ms append cost O(sessions)

    @classmethod
    def of(cls, limits: Limits) -> MemoryBudget:
        return cls(limits.max_session_bytes, limits.max_server_bytes)

    def account(self) -> SessionMemory:
        return SessionMemory(self)

    def held(self) -> int:
        """Bytes held by all sessions now."""
        return self.total_held


# Per-item bookkeeping beyond its audio and text (ids, dicts): counted so a million tiny items count too.
_ITEM_OVERHEAD_BYTES = 512


def items_bytes(items: Iterable[Any]) -> int:
    """Roughly what conversation items hold: their audio bytes, their texts, and a per-item overhead."""
    total = 0
    for item in items:
        total += _ITEM_OVERHEAD_BYTES + sum(len(audio) for audio in item.audio.values())
        wire = item.wire
        total += len(wire.get("arguments") or "") + len(wire.get("output") or "")
        for part in wire.get("content") or ():
            total += len(part.get("text") or "") + len(part.get("transcript") or "")
    return total


# glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB), after which a client's
# 15 MiB appends and their copies live in the heap, fragment it and stay after the room left; fixed at 1 MiB,
# every large buffer is its own mapping, given back to the system the moment it is freed.
MMAP_THRESHOLD_BYTES = 1 << 20
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


# The GIL passes between threads every 0.5 ms instead of 5: the event loop, which paces every session's audio,
# waits that much less behind a worker busy with one client's seconds of audio (bench/bench_room.py: p99 lateness
# 1214 -> -80 ms with 15 MiB appends arriving).
SWITCH_INTERVAL_S = 0.0005


def own_server_process() -> None:
    """Settings for a process that only serves sessions, made at its start: the CLI's and each of its ``--workers``
    processes (never a notebook kernel's, whose process is not the server's to tune)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    keep_large_buffers_mapped()


def keep_large_buffers_mapped() -> None:
    """Large allocations always get their own mapping (see MMAP_THRESHOLD_BYTES); the server's process only."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def freeze_startup_objects() -> None:
    """Leave what start-up made (modules, the SDK's types, the engines' bindings) out of every later collection.

    The server's process only: a full collection walked all of it, 66-100 ms with the GIL held, at each room's leaving
    (`release_free_memory`) and whenever new sessions made enough objects, stalling every session on the loop.
    """
    gc.collect()   # garbage from start-up is collected, not kept for ever
    gc.freeze()


def release_free_memory(collect: bool = True) -> None:
    """Hand freed heap pages back to the system (glibc keeps them), so the server shrinks once a room has left."""
    if collect:
        gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)
