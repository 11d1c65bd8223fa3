"""Experiment measures as pure functions: event lists in, numbers out; cost arithmetic; turns; rate limits."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest

import realtime_kit as rk
from realtime_kit.experiment import cost as costs
from realtime_kit.experiment.metrics import fold, speech_end_s, speech_end_sent, turn_metrics, word_error_rate
from realtime_kit.experiment.ratelimit import RateGate, is_rate_limited
from realtime_kit.experiment.results import Results
from realtime_kit.experiment.turns import Turn, coerce_turn

pytestmark = pytest.mark.pure

USAGE = {"total_tokens": 1750, "input_tokens": 650, "output_tokens": 1100,
         "input_token_details": {"text_tokens": 150, "audio_tokens": 500, "image_tokens": 0, "cached_tokens": 300,
                                 "cached_tokens_details": {"text_tokens": 100, "audio_tokens": 200, "image_tokens": 0}},
         "output_token_details": {"text_tokens": 100, "audio_tokens": 1000}}


def created(response_id: str = "r1") -> dict:
    return {"type": "response.created", "event_id": f"c_{response_id}",
            "response": {"id": response_id, "object": "realtime.response", "status": "in_progress"}}


def audio_delta(response_id: str = "r1", ms: int = 100) -> dict:
    pcm = np.zeros(24 * ms, np.int16).tobytes()
    return {"type": "response.output_audio.delta", "event_id": f"a_{response_id}_{ms}", "response_id": response_id,
            "item_id": f"item_{response_id}", "output_index": 0, "content_index": 0,
            "delta": base64.b64encode(pcm).decode()}


def done(response_id: str = "r1", usage: dict | None = None, status: str = "completed") -> dict:
    response = {"id": response_id, "object": "realtime.response", "status": status, "output": []}
    if usage is not None:
        response["usage"] = usage
    return {"type": "response.done", "event_id": f"d_{response_id}", "response": response}


def vad(kind: str, ms: int) -> dict:
    key = "audio_start_ms" if kind == "speech_started" else "audio_end_ms"
    return {"type": f"input_audio_buffer.{kind}", "event_id": f"v_{kind}", "item_id": "item_user", key: ms}


def committed() -> dict:
    return {"type": "input_audio_buffer.committed", "event_id": "v_commit", "item_id": "item_user"}


def heard(text: str, usage: dict | None = None) -> dict:
    return {"type": "conversation.item.input_audio_transcription.completed", "event_id": "t1", "item_id": "item_user",
            "content_index": 0, "transcript": text,
            "usage": usage or {"type": "duration", "seconds": 1.0}}


# -- latencies from events ------------------------------------------------------------------------


def test_text_turn_latencies_are_differences_of_its_moments():
    """A text turn: request (0) -> created -> first audio -> done, each gap its own column, first audio the headline."""
    chain = fold([(0.120, created()), (0.150, audio_delta()), (0.200, audio_delta(ms=200)), (0.900, done())])
    row = turn_metrics(chain)
    assert row["request_to_created_s"] == pytest.approx(0.120)
    assert row["created_to_first_audio_s"] == pytest.approx(0.030)
    assert row["first_audio_to_done_s"] == pytest.approx(0.750)
    assert row["to_first_audio_s"] == pytest.approx(0.150)
    assert math.isnan(row["end_of_speech_to_speech_stopped_s"]) and math.isnan(row["committed_to_created_s"])
    assert row["audio_s"] == pytest.approx(0.3) and row["status"] == "completed" and row["error"] is None


def test_audio_turn_latencies_start_at_the_end_of_speech():
    """An audio turn: end of speech -> speech_stopped -> committed -> created -> first audio -> done."""
    events = [(0.05, vad("speech_started", 300)), (1.40, vad("speech_stopped", 1900)), (1.45, committed()),
              (1.50, created()), (1.65, audio_delta()), (2.50, done())]
    row = turn_metrics(fold(events), end_of_speech=1.00, speech_end=1.95)
    assert row["end_of_speech_to_speech_stopped_s"] == pytest.approx(0.40)
    assert row["speech_stopped_to_committed_s"] == pytest.approx(0.05)
    assert row["committed_to_created_s"] == pytest.approx(0.05)
    assert row["created_to_first_audio_s"] == pytest.approx(0.15)
    assert row["to_first_audio_s"] == pytest.approx(0.65)
    assert math.isnan(row["request_to_created_s"])  # no text request in an audio turn
    assert row["vad_end_s"] == pytest.approx(1.9) and row["vad_lag_s"] == pytest.approx(-0.05)


def test_a_tool_call_chain_is_timed_to_the_follow_up_answer():
    """With a tool call, first audio and done come from the follow-up response, on the first request's clock."""
    call = {"type": "function_call", "id": "item_call", "call_id": "call_1", "name": "get_weather",
            "arguments": '{"city": "Paris"}', "status": "completed"}
    first_done = done("r1")
    first_done["response"]["output"] = [call]
    chain = fold([(0.10, created("r1")), (0.20, first_done), (0.30, created("r2")), (0.45, audio_delta("r2")),
                  (0.80, done("r2"))])
    chain[0].follow_up = chain[1]  # the session links them when it answers the call
    row = turn_metrics(chain)
    assert row["tool_calls"] == 1 and row["tool_names"] == "get_weather"
    assert row["to_first_audio_s"] == pytest.approx(0.45) and row["first_audio_to_done_s"] == pytest.approx(0.35)


def test_missing_moments_give_nan_not_zero():
    """A text-only answer has no first audio: its audio latencies are NaN, the rest are still measured."""
    row = turn_metrics(fold([(0.1, created()), (0.4, done())]))
    assert math.isnan(row["to_first_audio_s"]) and math.isnan(row["first_audio_to_done_s"])
    assert row["request_to_created_s"] == pytest.approx(0.1) and row["audio_s"] == 0


def test_tokens_and_cost_come_from_the_usage_of_response_done():
    """Tokens per modality with cached input apart, and their cost on the turn's model."""
    row = turn_metrics(fold([(0.1, created()), (0.5, done(usage=USAGE))]), model="gpt-realtime")
    assert (row["tokens_text_in"], row["tokens_text_cached"]) == (50, 100)
    assert (row["tokens_audio_in"], row["tokens_audio_cached"]) == (300, 200)
    assert (row["tokens_text_out"], row["tokens_audio_out"]) == (100, 1000)
    assert row["cost_usd"] == pytest.approx(costs.cost_of(USAGE, "gpt-realtime").total)


def test_input_transcript_is_scored_against_the_expected_words():
    """The word error rate compares the server's input transcript with the expected text."""
    events = [(0.1, vad("speech_started", 0)), (0.5, vad("speech_stopped", 900)), (0.5, committed()),
              (0.6, heard("what is the whether like")), (0.7, created()), (0.9, done())]
    row = turn_metrics(fold(events), expected="What is the weather like?")
    assert row["input_transcript"] == "what is the whether like"
    assert row["wer"] == pytest.approx(0.2)


def test_a_failed_response_is_reported_with_its_reason():
    """A response that ends failed gives status and an error naming why."""
    failed = done(status="failed")
    failed["response"]["status_details"] = {"type": "failed", "error": {"type": "server_error", "code": "boom",
                                                                         "message": "engine crashed"}}
    row = turn_metrics(fold([(0.1, created()), (0.2, failed)]))
    assert row["status"] == "failed" and "engine crashed" in row["error"]


def test_word_error_rate_ignores_case_and_punctuation_and_needs_expected_text():
    """WER is jiwer's over normalised words; NaN without expected words or a transcript; 1.0 for hearing nothing."""
    assert word_error_rate("Hello, World!", "hello world") == 0.0
    assert math.isnan(word_error_rate(None, "anything")) and math.isnan(word_error_rate("two words", None))
    assert word_error_rate("two words", "") == 1.0


def test_speech_end_is_the_last_loud_frame():
    """The end of speech is where the last 10 ms frame above -50 dBFS ends; None for silence."""
    rate = 16000
    clip = np.concatenate([np.zeros(rate // 2, np.int16), np.full(rate, 3000, np.int16), np.zeros(rate, np.int16)])
    assert speech_end_s(clip, rate) == pytest.approx(1.5)
    assert speech_end_s(np.zeros(rate, np.int16), rate) is None


def test_speech_end_sent_is_the_append_that_carried_it():
    """With 0.5 s appends, speech ending at 1.2 s was sent with the third append."""
    assert speech_end_sent([0.0, 0.01, 0.02, 0.03], 1.2, 0.5) == 0.02
    assert speech_end_sent([0.0, 0.01], 9.0, 0.5) == 0.01  # past the end: the last append
    assert speech_end_sent([0.0], None, 0.5) is None


# -- cost -------------------------------------------------------------------------------------------


def test_cost_prices_each_modality_and_cached_input_apart():
    """Uncached input at the input price, cached at the cached price, output at the output price."""
    price = costs.PRICES["gpt-realtime"]
    cost = costs.cost_of(USAGE, "gpt-realtime")
    assert cost.text_in == pytest.approx(50 * price.text_in / 1e6)
    assert cost.text_cached == pytest.approx(100 * price.text_cached / 1e6)
    assert cost.audio_in == pytest.approx(300 * price.audio_in / 1e6)
    assert cost.audio_cached == pytest.approx(200 * price.audio_cached / 1e6)
    assert cost.audio_out == pytest.approx(1000 * price.audio_out / 1e6)
    assert cost.total == pytest.approx(sum(cost.as_dict()[k] for k in cost.as_dict() if k != "total"))


def test_cost_table_is_dated_and_overridable():
    """The table carries its date; a user table, or a dated snapshot of a known model, is priced."""
    assert costs.PRICES_CHECKED.count("-") == 2
    mine = {"my-deployment": costs.Price(1, 0, 2, 3, 0, 4)}
    assert costs.cost_of({"output_token_details": {"audio_tokens": 10**6}}, "my-deployment", mine).total == 4.0
    assert costs.price_for("gpt-realtime-2025-08-28") is costs.PRICES["gpt-realtime"]


def test_every_gpt_realtime_model_the_sdk_names_has_a_price():
    """The table covers each gpt-realtime* model of the installed SDK's session type (a new SDK shows gaps)."""
    import typing

    from openai.types.realtime import RealtimeSessionCreateRequest

    def literals(hint: object) -> list[str]:
        if typing.get_origin(hint) is typing.Literal:
            return list(typing.get_args(hint))
        return [value for arg in typing.get_args(hint) for value in literals(arg)]

    models = [m for m in literals(RealtimeSessionCreateRequest.model_fields["model"].annotation)
              if m.startswith("gpt-realtime")]
    assert models and [m for m in models if costs.price_for(m) is None] == []


def test_unknown_model_costs_nan_and_says_how_to_price_it():
    """No price: NaN amounts, and a note naming the table to add the model to."""
    cost = costs.cost_of(USAGE, "my-deployment")
    assert math.isnan(cost.total) and "PRICES['my-deployment']" in cost.note and "unknown" in repr(cost)


def test_cached_tokens_without_details_are_priced_as_cached_text():
    """A usage reporting cached_tokens but no breakdown still prices them at the cached rate, once."""
    counts = costs.tokens_of({"input_token_details": {"text_tokens": 100, "cached_tokens": 40}})
    assert counts["text_in"] == 60 and counts["text_cached"] == 40


def test_total_cost_sums_responses():
    """A session's cost is the sum of its responses' costs."""
    one = costs.cost_of(USAGE, "gpt-realtime-mini")
    assert costs.total_cost([USAGE, None, USAGE], "gpt-realtime-mini").total == pytest.approx(2 * one.total)


def test_transcription_is_priced_by_the_minute_or_by_tokens_as_its_usage_says():
    """Duration usage at the model's per-minute price; token usage at its audio/text/output prices; unknown: NaN."""
    by_minute = costs.transcription_cost({"type": "duration", "seconds": 90}, "whisper-1")
    assert by_minute.transcription == pytest.approx(1.5 * 0.006) and by_minute.total == by_minute.transcription
    tokens = {"type": "tokens", "input_tokens": 1000, "output_tokens": 200,
              "input_token_details": {"audio_tokens": 900, "text_tokens": 100}}
    assert costs.transcription_cost(tokens, "gpt-4o-transcribe").transcription == pytest.approx(
        (900 * 2.50 + 100 * 2.50 + 200 * 10.00) / 1e6)
    unknown = costs.transcription_cost({"type": "duration", "seconds": 60}, "my-stt")
    assert math.isnan(unknown.total) and "TRANSCRIPTION_PRICES['my-stt']" in unknown.note
    assert costs.transcription_cost({"type": "duration", "seconds": 60}, "gpt-4o-transcribe").note  # no such price
    assert costs.transcription_cost(None, "whisper-1").total == 0


def test_a_turn_and_a_session_add_the_transcription_of_the_user_audio():
    """The turn's row prices its input transcription apart and in cost_usd; total_cost adds transcriptions."""
    usage = {"type": "duration", "seconds": 30}
    events = [(0.1, vad("speech_started", 0)), (0.5, vad("speech_stopped", 900)), (0.5, committed()),
              (0.6, heard("hello", usage=usage)), (0.7, created()), (0.9, done(usage=USAGE))]
    row = turn_metrics(fold(events), model="gpt-realtime", transcription_model="whisper-1")
    assert row["transcription_cost_usd"] == pytest.approx(0.003)
    assert row["cost_usd"] == pytest.approx(costs.cost_of(USAGE, "gpt-realtime").total + 0.003)
    session = costs.total_cost([USAGE], "gpt-realtime", transcriptions=[usage, usage], transcription_model="whisper-1")
    assert session.transcription == pytest.approx(0.006)
    assert costs.transcription_model({"audio": {"input": {"transcription": None}}}) is None


# -- turns ------------------------------------------------------------------------------------------


def test_turns_accept_text_audio_pairs_dicts_and_recordings(tmp_path):
    """Each accepted shape becomes a Turn; a recording-like object with audio_in is an audio turn."""
    clip = rk.Audio.tone(440, 0.2)
    path = clip.to_wav(tmp_path / "q.wav")
    assert coerce_turn("Hi").text == "Hi"
    assert coerce_turn(clip).audio is clip
    assert coerce_turn((str(path), "hello")).expected == "hello"
    assert coerce_turn({"text": "Hi", "label": "greeting"}).label == "greeting"

    class Recording:
        audio_in = clip
        transcript = "what the user said"

    turn = coerce_turn(Recording())
    assert isinstance(turn, Turn) and turn.kind == "audio" and turn.expected == "what the user said"


def test_bad_turns_get_errors_that_name_the_fix():
    """A missing WAV file, an unknown shape and a dict with both text and audio are refused clearly."""
    with pytest.raises(FileNotFoundError, match=r"no file 'nowhere\.wav'"):
        coerce_turn("nowhere.wav")
    with pytest.raises(TypeError, match="is not a turn"):
        coerce_turn(42, 3)
    with pytest.raises(TypeError, match="exactly one of text= or audio="):
        coerce_turn({"text": "a", "audio": "b.wav"})


# -- the grid ---------------------------------------------------------------------------------------


def test_jobs_interleave_configs_turn_by_turn():
    """Configs alternate within each turn and repeat, so load drifting during a run hits them alike."""
    exp = rk.Experiment({"a": {}, "b": {}}, ["one", "two"], repeats=2, progress=False)
    order = [(job.config_name, job.turn_index, job.repeat) for job in exp.jobs()]
    assert order[:4] == [("a", 0, 0), ("b", 0, 0), ("a", 1, 0), ("b", 1, 0)] and len(order) == 8


def test_expected_words_turn_on_transcription_unless_the_config_says_otherwise():
    """An audio turn with expected words needs the input transcript: transcription=True where not set."""
    exp = rk.Experiment({"a": {}, "b": {"transcription": None}}, [(rk.Audio.tone(440, 0.2), "hi")])
    assert exp.configs["a"]["transcription"] is True and exp.configs["b"]["transcription"] is None


def test_default_concurrency_spares_this_machine_and_lets_the_cloud_decide():
    """The embedded server (or any loopback URL) gets one turn per core; a cloud endpoint gets 8."""
    import os

    from realtime_kit.experiment.runner import _default_concurrency

    assert _default_concurrency("local") == _default_concurrency("ws://127.0.0.1:8765/openai/v1")
    assert _default_concurrency("local") == (os.cpu_count() or 2)
    assert _default_concurrency("wss://my.openai.azure.com/openai/v1") == 8


# -- rate limits ------------------------------------------------------------------------------------


def test_a_spent_limit_holds_turns_until_it_resets():
    """remaining at the reserve holds new turns back for reset_seconds; plenty left holds nothing."""
    gate = RateGate()
    gate.observe([{"name": "tokens", "limit": 1000, "remaining": 900, "reset_seconds": 5.0}], now=0.0)
    assert gate.delay(0.0) == 0.0
    gate.observe([{"name": "tokens", "limit": 1000, "remaining": 10, "reset_seconds": 5.0}], now=1.0)
    assert gate.delay(2.0) == pytest.approx(4.0)


def test_rate_limit_errors_back_off_exponentially_up_to_a_cap():
    """Each retry waits twice as long, never more than cap_s; other errors are not rate limits."""
    gate = RateGate(base_s=1.0, cap_s=5.0)
    assert [gate.backoff(n, 0.0, jitter=0.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert is_rate_limited(rk.RealtimeError("Slow down", code="rate_limit_exceeded"))
    assert not is_rate_limited(rk.RealtimeError("bad value", code="invalid_value"))


# -- results ----------------------------------------------------------------------------------------


def _rows() -> list[dict]:
    rows = []
    for config, base in (("a", 0.1), ("b", 0.3)):
        for turn in range(4):
            rows.append({"target": "local", "config": config, "kind": "text", "turn": turn, "repeat": 0,
                         "status": "completed" if turn else "failed", "request_to_created_s": base,
                         "created_to_first_audio_s": 0.01 * turn, "first_audio_to_done_s": 0.5,
                         "to_first_audio_s": base + 0.01 * turn, "wer": 0.0, "cost_usd": 0.001})
    return rows


def test_summary_gives_percentiles_errors_and_cost_per_config():
    """p50/p95 in ms per config, errors counted, cost summed."""
    summary = Results(_rows()).summary()
    row = summary.loc[("local", "b", "text")]
    assert row["turns"] == 4 and row["errors"] == 1
    assert row["to_first_audio_p50_ms"] == pytest.approx(315.0)
    assert row["to_first_audio_p95_ms"] == pytest.approx(328.5)
    assert row["cost_usd"] == pytest.approx(0.004)


def test_results_round_trip_through_csv(tmp_path):
    """save then load gives the same table; Parquet without pyarrow says what to do."""
    results = Results(_rows())
    loaded = Results.load(results.save(tmp_path / "run.csv"))
    assert loaded.table.equals(results.table)
    pytest.importorskip("matplotlib")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"save as \.csv"):
            results.save(tmp_path / "run.parquet")


def test_plot_returns_a_figure_with_both_panels():
    """plot() draws the stacked components and the spread, and hands back the figure."""
    figure = Results(_rows()).plot()
    stacked, spread = figure.axes
    assert len(stacked.patches) == 6 and spread.get_title().startswith("to first audio")
