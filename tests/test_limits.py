"""The server's limits without sockets: strict JSON, caps on replies, buffers and memory, handshakes, quiet logs.

Tests marked "issue 15" failed on the code before it (checked once on commit 62c646d).
"""

from __future__ import annotations

import base64
import gc
import logging
import sys
from typing import Any

import pytest
from protocol_helpers import drain, send
from websockets.datastructures import Headers

from realtime_kit.redaction import RedactCredentials
from realtime_kit.server.handshake import review_handshake, sha256_hex
from realtime_kit.server.limits import Limits, MemoryBudget, freeze_startup_objects
from realtime_kit.server.protocol import Engines, RealtimeProtocol
from realtime_kit.server.quiet_logs import ClientTrouble, RepeatFilter
from realtime_kit.server.usage import cut_to_tokens, text_tokens

pytestmark = pytest.mark.pure

MiB = 1024 * 1024


def started(**options: Any) -> RealtimeProtocol:
    proto = RealtimeProtocol(engines=Engines.silent(), id_prefix_seed=7, **options)
    proto.start()
    drain(proto)
    return proto


def errors(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["error"] for e in events if e["type"] == "error"]


def user_text(text: str) -> dict[str, Any]:
    return {"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}


def turn_works(proto: RealtimeProtocol) -> bool:
    """A text turn still completes: the session is usable."""
    send(proto, user_text("Hello."))
    done = [e for e in send(proto, {"type": "response.create"}) if e["type"] == "response.done"]
    return bool(done) and done[0]["response"]["status"] == "completed"


def append(audio: bytes) -> dict[str, Any]:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()}


# -- strict JSON ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(literal: str) -> None:
    """issue 15: NaN, Infinity and overflowing numbers get invalid_json; none is stored or echoed."""
    proto = started()
    frame = '{"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"speed": %s}}}}'
    (error,) = errors(send(proto, frame % literal))
    assert error["code"] == "invalid_json" and literal.lstrip("-") in error["message"]
    assert proto.session["audio"]["output"]["speed"] == 1.0 and turn_works(proto)


def test_deep_nesting_is_an_error_event_not_a_crash() -> None:
    """issue 15: '[' x 100000 gets invalid_json naming the depth; the session carries on."""
    proto = started()
    (error,) = errors(send(proto, "[" * 100_000))
    assert error["code"] == "invalid_json" and "nested" in error["message"]
    assert turn_works(proto)


def test_nesting_within_the_limit_and_brackets_in_strings_are_fine() -> None:
    """A tool schema 20 levels deep, and brackets inside strings, are not mistaken for deep nesting."""
    proto = started()
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(9):
        schema = {"type": "object", "properties": {"x": schema}}
    tool = {"type": "function", "name": "deep", "description": "[[[[" * 50 + '\\"{{{', "parameters": schema}
    events = send(proto, {"type": "session.update", "session": {"type": "realtime", "tools": [tool]}})
    assert [e["type"] for e in events] == ["session.updated"]


# -- replies ----------------------------------------------------------------------------------------------


def test_max_output_tokens_inf_is_capped_like_the_service() -> None:
    """issue 15: "inf" cuts a reply as 4096 would (the service's cap), never leaving it whole."""
    long_text = "a " * 10_000
    assert cut_to_tokens(long_text, "inf") == cut_to_tokens(long_text, 4096)
    kept, cut = cut_to_tokens(long_text, "inf")
    assert cut and text_tokens(kept) <= 4096


def test_repeat_after_me_is_cut_to_the_reply_cap() -> None:
    """issue 15: "repeat after me: banana x20000" ends incomplete with at most 4000 characters spoken."""
    proto = started()
    send(proto, user_text("repeat after me: " + "banana " * 20_000))
    done = next(e for e in send(proto, {"type": "response.create"}) if e["type"] == "response.done")["response"]
    assert done["status"] == "incomplete" and done["status_details"]["reason"] == "max_output_tokens"
    assert 3000 < len(done["output"][0]["content"][0]["transcript"]) <= 4000
    assert turn_works(proto)


# -- session.update --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("update", "param"), [
    ({"audio": None}, "session.audio"),
    ({"audio": {"output": None}}, "session.audio.output"),
    ({"audio": {"output": {"voice": None}}}, "session.audio.output.voice"),
    ({"output_modalities": None}, "session.output_modalities"),
    ({"instructions": None}, "session.instructions"),
])
def test_null_for_a_required_session_key_is_refused(update: dict[str, Any], param: str) -> None:
    """issue 15: {"audio": null} and the like get invalid_type naming the key; the session stays usable."""
    proto = started()
    (error,) = errors(send(proto, {"type": "session.update", "session": {"type": "realtime", **update}}))
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "invalid_type", param)
    assert "got null" in error["message"] and turn_works(proto)


def test_null_still_turns_off_what_may_be_off() -> None:
    """turn_detection, transcription and tracing may still be set to null."""
    proto = started()
    update = {"type": "realtime", "tracing": None,
              "audio": {"input": {"turn_detection": None, "transcription": None, "noise_reduction": None}}}
    (updated,) = send(proto, {"type": "session.update", "session": update})
    assert updated["session"]["audio"]["input"]["turn_detection"] is None


# -- input buffer and memory -----------------------------------------------------------------------------


def test_input_buffer_without_turn_detection_is_capped() -> None:
    """issue 15: with turn_detection null the buffer stops at 15 MiB with an error; commit still works."""
    proto = started()
    send(proto, {"type": "session.update", "session": {"type": "realtime", "audio": {
        "input": {"turn_detection": None}}}})
    assert errors(send(proto, append(bytes(15 * MiB)))) == []
    (error,) = errors(send(proto, append(bytes(48_000))))
    assert (error["code"], error["param"]) == ("input_audio_buffer_too_large", "audio")
    assert "commit" in error["message"]
    committed = send(proto, {"type": "input_audio_buffer.commit"})
    assert committed[0]["type"] == "input_audio_buffer.committed"


def test_input_buffer_with_turn_detection_slides() -> None:
    """A muted microphone streaming for long with server VAD keeps at most the cap, without errors."""
    memory = MemoryBudget(per_session=64 * MiB, total=64 * MiB)
    account = memory.account()
    proto = started(limits=Limits(max_input_buffer_bytes=MiB), memory=account)
    for _ in range(8):
        assert errors(send(proto, append(bytes(480_000)))) == []
    assert MiB - 2 <= account.held <= MiB + 1024


def test_memory_caps_per_session_and_for_the_server() -> None:
    """A session past its cap, or a server past its total, refuses more data; deleting frees it again."""
    budget = MemoryBudget(per_session=3 * MiB, total=3 * MiB)
    first, second = started(memory=budget.account()), started(memory=budget.account())
    audio = base64.b64encode(bytes(MiB)).decode()
    item = {"type": "conversation.item.create", "item": {"id": "item_a", "type": "message", "role": "user",
                                                          "content": [{"type": "input_audio", "audio": audio}]}}
    assert errors(send(first, item)) == []
    item["item"]["id"] = "item_b"
    assert errors(send(first, item)) == []
    item["item"]["id"] = "item_c"
    (error,) = errors(send(first, item))
    assert error["code"] == "session_memory_limit" and "conversation.item.delete" in error["message"]
    item["item"]["id"] = "item_d"
    (error,) = errors(send(second, item))
    assert error["code"] == "server_memory_limit"
    send(first, {"type": "conversation.item.delete", "item_id": "item_a"})
    assert errors(send(second, item)) == []


# -- handshake --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_digest", [None, sha256_hex("room")])
def test_duplicate_credential_headers_are_a_401_not_a_crash(key_digest: str | None) -> None:
    """issue 15: two api-key (or Authorization) headers give a 401 asking for one, never an exception."""
    for name in ("api-key", "Authorization"):
        headers = Headers([(name, "Bearer room"), (name, "Bearer other")])
        record, refusal = review_handshake("/v1/realtime", headers, key_digest)
        assert record.status == 401 and refusal is not None and "one credential header" in refusal


def test_a_key_that_is_not_utf8_is_refused_not_a_crash() -> None:
    """issue 15: header bytes that are not UTF-8 (websockets' surrogate escapes) hash and are refused."""
    headers = Headers({"api-key": b"\xff\xfe".decode("ascii", "surrogateescape")})
    record, refusal = review_handshake("/v1/realtime", headers, sha256_hex("room"))
    assert record.status == 401 and refusal is not None and record.credential_sha256 is not None


def test_a_key_in_the_query_is_refused() -> None:
    """issue 15: ?api-key= is refused (401) even when it is the right key; the record keeps it redacted."""
    record, refusal = review_handshake("/openai/v1/realtime?api-key=room", Headers(), sha256_hex("room"))
    assert record.status == 401 and refusal is not None and "'api-key: <key>'" in refusal
    assert record.query == {"api-key": "<redacted>"}


def test_a_handshake_record_keeps_a_bounded_size() -> None:
    """issue 15: 128 huge header names keep at most 64 names of 128 characters."""
    headers = Headers([(f"x-{i}-" + "a" * 8000, "v") for i in range(128)])
    record, _ = review_handshake("/nowhere", headers, None)
    assert len(record.header_names) == 64 and max(map(len, record.header_names)) == 128


# -- logs -------------------------------------------------------------------------------------------------


def _record(msg: str, *args: Any, level: int = logging.ERROR, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord("realtime_kit.server", level, "", 0, msg, args or None, exc_info)


def test_repeated_lines_are_summarised() -> None:
    """Five lines of a kind per window pass; the rest are counted and reported with the next window's first."""
    now = [0.0]
    repeat = RepeatFilter(burst=5, window_s=10.0, clock=lambda: now[0])
    passed = [repeat.filter(_record("session failed for %s", i)) for i in range(500)]
    assert sum(passed) == 5 and repeat.filter(_record("another kind"))
    now[0] = 11.0
    summary = _record("session failed for %s", 0)
    assert repeat.filter(summary) and "495 more like it" in summary.getMessage()
    assert repeat.filter(_record("debug %s", 1, level=logging.DEBUG))


def test_forgetting_repeats_lets_a_kind_through_again() -> None:
    """After forget() a kind that used its burst passes at once (tests reset the shared filter this way)."""
    repeat = RepeatFilter(burst=1, window_s=60.0, clock=lambda: 0.0)
    assert repeat.filter(_record("closed a session (1008): %s", 1))
    assert not repeat.filter(_record("closed a session (1008): %s", 2))
    repeat.forget()
    assert repeat.filter(_record("closed a session (1008): %s", 3))


def test_a_client_vanishing_mid_handshake_is_info_without_traceback() -> None:
    """websockets' "opening handshake failed" for a client's EOF becomes one INFO line, no traceback."""
    record = _record("opening handshake failed", exc=EOFError("connection closed while reading"))
    assert ClientTrouble().filter(record)
    assert record.levelno == logging.INFO and record.exc_info is None and "EOFError" in record.getMessage()
    bug = _record("opening handshake failed", exc=KeyError("x"))
    assert ClientTrouble().filter(bug) and bug.levelno == logging.ERROR


@pytest.mark.parametrize(("msg", "args"), [
    ("> %s: %s", ("api-key", "sk-canary")),
    ("> %s: %s", ("Authorization", "Bearer sk-canary")),
    ("> %s: %s", ("Sec-WebSocket-Protocol", "realtime, openai-insecure-api-key.sk-canary")),
    ("> GET %s HTTP/1.1", ("/v1/realtime?model=m&api-key=sk-canary",)),
    ("connecting with Bearer sk-canary", ()),
])
def test_websockets_debug_lines_are_redacted(msg: str, args: tuple[str, ...]) -> None:
    """Credential headers, the subprotocol key, a query key and a bearer token never survive the filter."""
    record = logging.LogRecord("realtime_kit.websockets", logging.DEBUG, "", 0, msg, args or None, None)
    assert RedactCredentials().filter(record)
    assert "sk-canary" not in record.getMessage() and "<redacted>" in record.getMessage()


def test_what_start_up_made_is_left_out_of_later_collections() -> None:
    """A full collection walked every module, SDK type and engine binding: 66-100 ms with the GIL held at each room's
    leaving (`bench_server.py`'s bursts, 2026-11-30), 0.6-12 ms once the CLI server froze them after start-up."""
    import realtime_kit.server.protocol  # noqa: F401  (the heaviest import a server makes: the SDK's types)

    tracked = len(gc.get_objects())
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() >= tracked // 2 and len(gc.get_objects()) < tracked // 10
    finally:
        gc.unfreeze()   # this test process is not a server: its objects go back to the collector
    assert gc.get_freeze_count() == 0


def test_each_workers_process_tunes_itself_as_the_cli_server_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``--workers`` process (more_servers.serve_more) sets the GIL's switch interval and freezes start-up's objects
    once listening, as the CLI's own process does: before, only the first process of ``--workers 2`` had them."""
    from realtime_kit.server import more_servers
    from realtime_kit.server.limits import SWITCH_INTERVAL_S

    seen: dict[str, Any] = {}

    class ListeningServer:
        def __init__(self, **settings: Any) -> None:
            seen["settings"] = settings

        async def serve_forever(self, on_ready: Any) -> None:
            on_ready(self)
            seen["switch_s"], seen["frozen"] = sys.getswitchinterval(), gc.get_freeze_count()

        def stop(self) -> None:
            pass

    monkeypatch.setattr(more_servers, "LocalServer", ListeningServer)
    monkeypatch.setattr(more_servers.EngineWorkers, "processes", more_servers.EngineWorkers.processes)  # it sets it
    before = sys.getswitchinterval()
    try:
        more_servers.serve_more({"port": 8123}, 1)
    finally:
        sys.setswitchinterval(before)
        gc.unfreeze()
    assert seen["settings"] == {"port": 8123}
    assert seen["switch_s"] == pytest.approx(SWITCH_INTERVAL_S) and seen["frozen"] > 0
