"""bench_voice.py's verdict on issue 10's goals: what a run prints as met or NOT met."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))   # the benches import each other by name

from bench_voice import Results, Spoken, verdicts

pytestmark = pytest.mark.pure


def room(first_audio: list[float | None], lateness_ms: float = -100.0) -> Results:
    return Results(spoken=[Spoken(215.0, 216.0, ms) for ms in first_audio], lateness_ms=[lateness_ms] * 10)


def test_a_fast_room_meets_every_goal() -> None:
    said = verdicts(30, room([250.0] * 40))
    assert said == ["speech_stopped p95 215 <= 260 met", "first audio p95 250 <= 600 met",
                    "text lateness p99 -100.0 < 20 met", "40 of 40 questions heard"]


def test_a_question_never_answered_counts_as_late_not_as_missing() -> None:
    # 3 of 40 unanswered is more than 5%: the p95 lands on them, however fast the other 37 were
    said = verdicts(30, room([250.0] * 37 + [None] * 3))
    assert "first audio p95 inf <= 600 NOT met" in said
    assert "37 of 40 questions heard NOT met" in said


def test_the_limits_are_the_issues() -> None:
    assert "first audio p95 600 <= 600 met" in verdicts(30, room([600.0] * 20))
    assert "first audio p95 601 <= 600 NOT met" in verdicts(30, room([601.0] * 20))
    assert "text lateness p99 20.0 < 20 NOT met" in verdicts(30, room([250.0], lateness_ms=20.0))


def test_one_speaker_is_not_judged_on_the_rooms_first_audio_goal() -> None:
    said = verdicts(1, room([900.0, 950.0]))
    assert not any(verdict.startswith("first audio") for verdict in said)
    assert said[0] == "speech_stopped p95 215 <= 260 met"
