"""Experiments and VAD sweeps against the embedded server over loopback: the grid, the table, the sweep."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tone_engines import tone_speech

import realtime_kit as rk
from realtime_kit.experiment import Results
from realtime_kit.server import LocalServer
from realtime_kit.server.protocol import RealtimeProtocol
from realtime_kit.server.vad import MODELS
from realtime_kit.server.voice import synthesize
from realtime_kit.server.wire import Outgoing

pytestmark = pytest.mark.wire


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    # Silero loads on the process's first detection (~2 s, longer on a busy machine): vad_sweep stops waiting
    # 0.2 s after the appends when no event came, so the sweep must not be the one to meet that load
    MODELS.give_back(MODELS.lend())
    with LocalServer(pace="fast") as running:
        yield running


def spoken(text: str, lead_s: float = 0.3, tail_s: float = 0.3) -> rk.Audio:
    return rk.Audio.silence(lead_s, 16000) + rk.Audio(synthesize(text, voice="alloy", rate=16000), 16000) \
        + rk.Audio.silence(tail_s, 16000)


async def test_a_2x2x2_experiment_fills_one_row_per_config_turn_and_repeat(tone_server: LocalServer,
                                                                           tmp_path: Path) -> None:
    """2 configs x 2 turns (text, audio) x 2 repeats: 8 completed rows with latencies, WER, tokens, the config used.

    On the deterministic tone engines (tone_engines.py), so every audio turn is heard exactly: WER 0.
    """
    exp = rk.Experiment(
        configs={"eager": dict(vad_threshold=0.5, silence_duration_ms=200),
                 "patient": dict(silence_duration_ms=800, voice="cedar")},
        turns=["How are you?", (rk.Audio(tone_speech("what time is it", 0.3, 0.3, 16000), 16000), "what time is it")],
        targets=[tone_server], repeats=2, concurrency=4, progress=False)
    results = await exp.run()
    table = results.table
    assert len(table) == 8 and set(table.status) == {"completed"}, table[["status", "error"]]
    assert sorted(set(zip(table.config, table.turn, table["repeat"], strict=True))) == [
        (c, t, r) for c in ("eager", "patient") for t in (0, 1) for r in (0, 1)]
    effective = [json.loads(s) for s in table.session_config]
    voices = {config: session["audio"]["output"]["voice"] for config, session in zip(table.config, effective,
                                                                                         strict=True)}
    assert voices["patient"] == "cedar" and voices["eager"] != "cedar"
    silences = {session["audio"]["input"]["turn_detection"]["silence_duration_ms"] for session in effective}
    assert silences == {200, 800}
    text, audio = table[table.kind == "text"], table[table.kind == "audio"]
    assert (text.request_to_created_s > 0).all() and (text.to_first_audio_s >= text.request_to_created_s).all()
    assert (audio.end_of_speech_to_speech_stopped_s > 0).all() and audio.committed_to_created_s.notna().all()
    assert (audio.wer == 0).all() and (audio.input_transcript == "what time is it").all()
    assert (table.tokens_audio_out > 0).all() and (table.cost_usd > 0).all()
    assert set(table.model) == {"gpt-realtime-2.1"}
    summary = results.summary()
    assert len(summary) == 4 and (summary.errors == 0).all()
    loaded = Results.load(results.save(tmp_path / "run.csv")).table
    assert list(loaded.config) == list(table.config) and list(loaded.session_config) == list(table.session_config)


async def test_a_3x3_sweep_cuts_a_short_pause_only_when_the_silence_setting_is_shorter(server: LocalServer) -> None:
    """A 0.45 s pause splits the speech in two at silence 200 ms, and not at 800 ms, at every threshold.

    Real engines on purpose (a sweep is about Silero's thresholds): it depends on Silero finding espeak-ng's
    words at 0.3-0.7 and not bridging 0.45 s of silence at 200 ms (test_vad.py states its offset error).
    """
    recording = spoken("good morning everyone", tail_s=0.0) + spoken("what time is it", lead_s=0.45)
    sweep = await rk.vad_sweep(recording, threshold=[0.3, 0.5, 0.7], silence_duration_ms=[200, 500, 800],
                               target=server, progress=False)
    assert len(sweep.settings) == 9
    turns = {(row.threshold, row.silence_duration_ms): row.turns for row in sweep.settings.itertuples()}
    for threshold in (0.3, 0.5, 0.7):
        assert turns[(threshold, 200)] == 2 and turns[(threshold, 800)] == 1, turns
    cuts = sweep.table[(sweep.table.threshold == 0.5) & (sweep.table.silence_duration_ms == 200)]
    assert (cuts.end_s > cuts.start_s).all() and cuts.end_s.max() <= recording.duration
    assert len(sweep.plot().axes) == 2


async def test_tool_calls_are_counted_and_timed_across_the_chain(server: LocalServer) -> None:
    """A turn that calls a tool: the call is in the row, and first audio / done come from the follow-up answer."""

    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        return f"Sunny in {city}"

    exp = rk.Experiment({"tools": {"tools": [get_weather]}}, ["What is the weather in Paris?"], targets=[server],
                        progress=False)
    row = (await exp.run()).table.iloc[0]
    assert row.status == "completed" and row.tool_calls == 1 and row.tool_names == "get_weather"
    assert "Sunny" in row.transcript and row.first_audio_to_done_s >= 0
    assert row.to_first_audio_s > row.request_to_created_s


async def test_session_cost_adds_up_its_responses(server: LocalServer) -> None:
    """session.cost is the priced sum of every response's usage so far."""
    from realtime_kit.experiment.cost import cost_of

    async with rk.connect(server.url) as session:
        assert session.cost.total == 0
        first = await session.send_text("Hello")
        second = await session.send_text("How are you?")
        expected = cost_of(first.usage, "gpt-realtime-2.1").total + cost_of(second.usage, "gpt-realtime-2.1").total
        assert session.cost.total == pytest.approx(expected) and session.cost.audio_out > 0


async def test_cancelling_a_run_keeps_the_turns_that_finished(server: LocalServer) -> None:
    """A run cancelled midway raises CancelledError, and exp.results holds what finished, marked interrupted."""
    exp = rk.Experiment(configs={"a": {}}, turns=["Count to 20"] * 12, targets=[server], concurrency=1,
                        progress=False)
    task = asyncio.ensure_future(exp.run())
    while len(exp.results) < 2:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert exp.results.interrupted and 2 <= len(exp.results) < 12
    assert set(exp.results.table.status) == {"completed"}


class RateLimitedOnce:
    """The real protocol, but the first response.create on the server gets the service's rate-limit error."""

    refused = 0

    def __init__(self, **options: Any) -> None:
        self.inner = RealtimeProtocol(**options)
        self.queued: list[Outgoing] = []

    @property
    def ready(self) -> bool:
        return bool(self.queued) or self.inner.ready

    @property
    def unsent(self) -> int:
        return len(self.queued) + self.inner.unsent

    def start(self) -> None:
        self.inner.start()

    def receive(self, frame: str | bytes) -> None:
        event = json.loads(frame)
        if event.get("type") == "response.create" and RateLimitedOnce.refused == 0:
            RateLimitedOnce.refused += 1
            self.queued.append(Outgoing({"type": "error", "event_id": "event_rl", "error": {
                "type": "rate_limit_error", "code": "rate_limit_exceeded", "event_id": event.get("event_id"),
                "message": "Rate limit reached for requests. Please try again in 0.1s."}}))
            return
        self.inner.receive(frame)

    def next_event(self) -> Outgoing | None:
        return self.queued.pop(0) if self.queued else self.inner.next_event()


async def test_a_rate_limited_turn_is_retried_after_backing_off() -> None:
    """The service's rate_limit_exceeded error makes the runner wait and retry; the turn then completes."""
    with LocalServer(protocol_factory=RateLimitedOnce) as server:
        exp = rk.Experiment(configs={"a": {}}, turns=["Hello"], targets=[server], backoff_s=0.05, progress=False)
        results = await exp.run()
    assert RateLimitedOnce.refused == 1
    assert list(results.table.status) == ["completed"] and not math.isnan(results.table.to_first_audio_s[0])


async def test_bad_configs_and_targets_fail_before_anything_runs() -> None:
    """A config typo or an unusable target raises at Experiment(), naming the config and the fix."""
    with pytest.raises(rk.ConfigError, match=r"config 'b'.*silence_duration_ms"):
        rk.Experiment(configs={"a": {}, "b": {"silence_duraton_ms": 200}}, turns=["hi"])
    with pytest.raises(rk.TargetError):
        rk.Experiment(configs={"a": {}}, turns=["hi"], targets=["ftp://nowhere"])


def test_sweep_refuses_a_text(server: LocalServer) -> None:
    """vad_sweep needs audio; a text gets a TypeError saying so."""
    with pytest.raises(TypeError, match="needs audio"):
        asyncio.run(rk.vad_sweep("hello there", target=server, progress=False))


async def test_a_recording_is_a_set_of_turns_to_run_through_new_configs(server: LocalServer, tmp_path) -> None:
    """An rk.Recording given as a turn stands for the user's typed turns it holds, re-run per config."""
    path = tmp_path / "lesson.rkrec"
    async with rk.connect(server.url, record=path) as session:
        await session.send_text("Hello there.")
        await session.send_text("Repeat after me: the sky is blue.")
    recording = rk.Recording.load(path)
    exp = rk.Experiment(configs={"coral": dict(voice="coral"), "cedar": dict(voice="cedar")}, turns=[recording],
                        targets=[server], progress=False)
    assert [turn.text for turn in exp.turns] == ["Hello there.", "Repeat after me: the sky is blue."]
    table = (await exp.run()).table
    assert len(table) == 4 and set(table.status) == {"completed"}
    said = table[table.turn == 1].transcript.str.lower()
    assert said.str.contains("the sky is blue").all()
