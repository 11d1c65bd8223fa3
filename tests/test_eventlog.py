"""EventLog: both directions, times, filters, tables and a JSONL export with audio summarised."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from realtime_kit.session.eventlog import EventLog, audio_summary, scrub

pytestmark = pytest.mark.pure

_ADAPTER: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
AUDIO = base64.b64encode(bytes(4800)).decode()


def server(kind: str, **fields: Any) -> Any:
    return _ADAPTER.validate_python({"type": kind, "event_id": "event_1", **fields})


def sample_log() -> EventLog:
    log = EventLog(start=100.0)
    log.record("out", {"type": "input_audio_buffer.append", "event_id": "rk_1", "audio": AUDIO}, at=100.5)
    log.record("out", {"type": "response.create", "event_id": "rk_2", "response": {}}, at=101.0)
    log.record("in", server("response.created", response={"id": "resp_1", "status": "in_progress"}), at=101.25)
    log.record("in", server("response.output_audio.delta", response_id="resp_1", item_id="item_1",
                            output_index=0, content_index=0, delta=AUDIO), at=101.5)
    log.record("in", server("response.output_audio_transcript.delta", response_id="resp_1", item_id="item_1",
                            output_index=0, content_index=0, delta="Hi"), at=101.75)
    log.record("in", server("error", error={"type": "invalid_request_error", "code": "unknown_parameter",
                                            "message": "Unknown parameter: 'x'.", "event_id": "rk_2"}), at=102.0)
    return log


def test_rows_keep_direction_type_time_and_ids() -> None:
    """Each row has its direction, type, seconds since start, response id and item id."""
    rows = sample_log().rows
    assert [(r.direction, r.type) for r in rows[:3]] == [
        ("out", "input_audio_buffer.append"), ("out", "response.create"), ("in", "response.created")]
    assert [r.t for r in rows] == [0.5, 1.0, 1.25, 1.5, 1.75, 2.0]
    assert rows[2].response_id == "resp_1" and rows[3].item_id == "item_1"


def test_audio_payloads_are_summarised_both_ways() -> None:
    """Appended and received audio appear as '<N bytes base64 audio>', never as base64."""
    log = sample_log()
    assert log[0].event["audio"] == "<4800 bytes base64 audio>"
    assert log[3].event["delta"] == "<4800 bytes base64 audio>"
    assert log[3].summary == "<4800 bytes base64 audio>"
    assert AUDIO not in log.table(last=None)
    assert AUDIO not in json.dumps(log.to_dicts())


def test_received_audio_deltas_are_not_kept_in_memory() -> None:
    """The row for an output audio delta holds the summary, not the SDK event with its payload."""
    row = sample_log()[3]
    assert AUDIO not in json.dumps(row.source)


def test_filter_by_type_glob_direction_and_response() -> None:
    """filter() narrows by exact type, glob, direction and response id, and combines them."""
    log = sample_log()
    assert len(log.filter("response.created")) == 1
    assert [r.type for r in log.filter("response.output_*")] == [
        "response.output_audio.delta", "response.output_audio_transcript.delta"]
    assert len(log.filter(direction="out")) == 2
    assert len(log.filter(response_id="resp_1")) == 3
    assert len(log.filter(["error", "response.create"], direction="out")) == 1


def test_summaries_name_what_matters() -> None:
    """Errors show code and message; transcript deltas their text."""
    log = sample_log()
    assert log[5].summary == "unknown_parameter: Unknown parameter: 'x'."
    assert log[4].summary == "'Hi'"
    assert "in_progress" in log[2].summary


def test_jsonl_export_round_trips(tmp_path: Path) -> None:
    """to_jsonl writes one JSON object per event, in order, with the summarised payloads."""
    path = sample_log().to_jsonl(tmp_path / "events.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["type"] for line in lines][:2] == ["input_audio_buffer.append", "response.create"]
    assert lines[0]["direction"] == "out" and lines[0]["t"] == 0.5
    assert lines[3]["event"]["delta"] == "<4800 bytes base64 audio>"


def test_table_shows_the_last_rows_and_says_how_many_are_hidden() -> None:
    """table(last=N) shows N rows and a line counting the earlier ones; HTML escapes content."""
    log = sample_log()
    text = log.table(last=2)
    assert "4 earlier events" in text and "response.output_audio_transcript.delta" in text
    assert "input_audio_buffer.append" not in text
    assert "&#x27;x&#x27;" in log._repr_html_() or "'x'" not in log._repr_html_()


def test_types_counts_events() -> None:
    """types() counts events per type in order of first appearance."""
    assert list(sample_log().types().items())[:2] == [("input_audio_buffer.append", 1), ("response.create", 1)]


def test_scrub_reaches_nested_input_audio_content() -> None:
    """scrub replaces base64 audio inside conversation items too, and leaves other fields alone."""
    part_in = {"type": "input_audio", "audio": AUDIO, "transcript": "hello"}
    event: dict[str, Any] = {"type": "conversation.item.create",
                             "item": {"type": "message", "role": "user", "content": [part_in]}}
    cleaned = scrub(event)
    part = cleaned["item"]["content"][0]
    assert part == {"type": "input_audio", "audio": audio_summary(AUDIO), "transcript": "hello"}
    assert event["item"]["content"][0]["audio"] == AUDIO  # the original is untouched


def test_to_dataframe_says_what_to_install_without_pandas() -> None:
    """to_dataframe gives a DataFrame with pandas, or an ImportError naming pandas."""
    try:
        frame = sample_log().to_dataframe()
    except ImportError as err:
        assert "pip install pandas" in str(err)
    else:
        assert frame["type"].iloc[0] == "input_audio_buffer.append"


def test_audio_summary_counts_decoded_bytes_exactly() -> None:
    """The summary gives the decoded size, padding included in the arithmetic."""
    for size in (0, 1, 2, 3, 3027):
        assert audio_summary(base64.b64encode(bytes(size)).decode()) == f"<{size} bytes base64 audio>"


def test_notebook_view_collapses_deltas_and_shows_the_start_and_the_end():
    """300 interleaved deltas show as two rows with counts; the first and last events are in view."""
    from realtime_kit.session.eventlog import collapse

    log = EventLog(start=0.0)
    log.record("in", {"type": "session.created", "event_id": "e0"}, at=0.0)
    for i in range(150):
        log.record("in", {"type": "response.output_audio_transcript.delta", "response_id": "resp_1", "delta": "a"},
                   at=0.1 + i / 1000)
        log.record("in", {"type": "response.output_audio.delta", "response_id": "resp_1",
                          "delta": base64.b64encode(b"\0" * 100).decode()}, at=0.1 + i / 1000)
    log.record("in", {"type": "response.done", "response": {"id": "resp_1", "status": "completed"}}, at=1.0)
    runs = collapse(log.rows)
    assert [(run.first.type, run.count) for run in runs] == [
        ("session.created", 1), ("response.output_audio_transcript.delta", 150),
        ("response.output_audio.delta", 150), ("response.done", 1)]
    assert runs[1].summary == repr("a" * 150) and runs[2].summary == "15000 bytes of audio in 150 events"
    page = log._repr_html_()
    assert "session.created" in page and "response.done" in page and "×150" in page
    assert "text-align:right" not in page and "white-space:nowrap" in page


def test_notebook_view_of_a_long_log_keeps_its_head_and_tail():
    """A log longer than the view shows its first and last rows and says how many are hidden."""
    log = EventLog(start=0.0)
    for i in range(100):
        log.record("in", {"type": "conversation.item.added", "event_id": f"ev{i}"}, at=i)
    page = log._repr_html_(head=5, tail=5)
    assert page.count("<tr>") == 1 + 5 + 1 + 5
    assert "90 events in 90 rows not shown" in page
    assert ">0.000<" in page and ">99.000<" in page
