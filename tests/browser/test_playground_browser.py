"""rk.Playground in a real JupyterLab in headless Chromium: clicks, the fake microphone, audio, interruption.

Run: python3 -m pytest tests/browser -m browser   (screenshots land in tests/artifacts/)
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

from .conftest import MICROPHONE, MICROPHONE_DENIED, REPO, NotebookPage

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def panel_button(page: Any, label: str) -> Any:
    return page.locator(f".rk-playground button.jupyter-button:has-text('{label}')").first


def wait_for_text(page: Any, selector: str, pattern: str, timeout: float = 30_000) -> None:
    """Wait until some element matching `selector` has text matching the regex `pattern`."""
    page.wait_for_function(
        "([selector, pattern]) => [...document.querySelectorAll(selector)]"
        ".some(e => new RegExp(pattern, 'i').test(e.textContent))",
        arg=[selector, pattern], timeout=timeout)


def wait_for_played(page: Any, at_least_ms: int, timeout: float = 30_000) -> None:
    """Wait until the streaming player reports at least this much audio heard."""
    page.wait_for_function(
        "(ms) => [...document.querySelectorAll('.rk-player')].some(e => Number(e.dataset.playedMs || 0) >= ms)",
        arg=at_least_ms, timeout=timeout)


def apply_with_transcription(page: Any) -> None:
    checkbox = page.locator(".rk-playground .widget-checkbox:has-text('Input transcription') input").first
    if not checkbox.is_checked():
        checkbox.check()
    panel_button(page, "Apply").click()
    wait_for_text(page, ".rk-config pre", '"transcription"')


def test_send_text_shows_the_transcript_and_plays_the_reply(notebook_page: NotebookPage) -> None:
    """Apply a voice, type a question and press Send: both sides appear, the player plays the reply."""
    page = notebook_page.page
    page.locator(".rk-playground .widget-dropdown:has-text('Voice') select").first.select_option("coral")
    panel_button(page, "Apply").click()
    wait_for_text(page, ".rk-config pre", '"voice": "coral"')
    page.locator(".rk-playground input[placeholder='Type a message…']").first.fill("Please tell me a story.")
    panel_button(page, "Send").click()
    wait_for_text(page, ".rk-transcript .rk-user", "tell me a story")
    wait_for_text(page, ".rk-transcript .rk-assistant", "robot")
    wait_for_played(page, 500)
    page.locator(".rk-clip .rk-clip-play").first.click()  # the turn's own player fetches its audio as bytes
    page.locator(".rk-clip audio").first.wait_for()
    wait_for_text(page, ".rk-turn .rk-latency", r"first audio (\d+ ms|\d+\.\d\d s)")
    state = notebook_page.probe.state()
    assert state["errors"] == []
    assert state["config"]["audio"]["output"]["voice"] == "coral"
    [item] = [item for item, ms in state["played"].items() if ms > 0]
    assert 500 <= state["played"][item] <= state["received_ms"][item]
    notebook_page.screenshot("send-text")


def test_listening_hears_speech_and_speaking_over_the_reply_truncates_it(notebook_page: NotebookPage) -> None:
    """Start listening with the fake mic: the transcript shows what was said and the reply; talking
    over the reply truncates it at the audio actually played."""
    page = notebook_page.page
    apply_with_transcription(page)
    panel_button(page, "Start listening").click()
    wait_for_text(page, ".rk-transcript .rk-user", r"\w+", timeout=30_000)
    wait_for_text(page, ".rk-transcript .rk-assistant", r"\w+", timeout=30_000)
    wait_for_played(page, 300)
    # the fake device loops the WAV: its next "please tell me a story" talks over the reply
    wait_for_text(page, ".rk-transcript .rk-note", "interrupted", timeout=30_000)
    wait_for_text(page, ".rk-turn .rk-latency", "interrupted")  # the cut shows on the turn's waveform too
    path = notebook_page.screenshot("listening")  # the moment of the interruption (the README's picture)
    panel_button(page, "Stop listening").click()
    state = notebook_page.probe.state()
    assert state["errors"] == []
    assert state["appended"] > 10 and state["speech_started"] >= 2
    user_lines = [text for role, text, _ in state["lines"] if role == "user" and text]
    assert any("story" in text for text in user_lines), user_lines
    cut = state["truncations"][0]
    assert cut["reason"] == "speech"
    [truncated] = [event for event in state["truncated"] if event["item_id"] == cut["item_id"]]
    assert truncated["audio_end_ms"] == cut["audio_end_ms"]
    assert 0 < truncated["audio_end_ms"] <= cut["played_reported_ms"] <= cut["received_ms"]
    if os.environ.get("RK_UPDATE_DOCS") == "1":  # refresh the README figure only when asked: keeps git clean
        docs = REPO / "docs"
        docs.mkdir(exist_ok=True)
        shutil.copyfile(path, docs / "playground.png")


def test_stop_button_truncates_at_the_played_position(notebook_page: NotebookPage) -> None:
    """Stop while the reply plays silences it and truncates the item at the played ms, never past it."""
    page = notebook_page.page
    page.locator(".rk-playground input[placeholder='Type a message…']").first.fill("Count to 40.")
    panel_button(page, "Send").click()
    wait_for_played(page, 1500)
    page.locator(".rk-playground button.mod-danger:has-text('Stop')").first.click()
    wait_for_text(page, ".rk-transcript .rk-note", "interrupted")
    wait_for_text(page, ".rk-event-log", "conversation.item.truncated")
    state = notebook_page.probe.state()
    assert state["errors"] == []
    cut = state["truncations"][0]
    assert cut["reason"] == "stop pressed"
    [truncated] = state["truncated"]
    assert truncated["item_id"] == cut["item_id"] and truncated["audio_end_ms"] == cut["audio_end_ms"]
    assert 1500 <= truncated["audio_end_ms"] == cut["played_reported_ms"] < cut["received_ms"]
    # the browser's count after the flush is the truncation point: nothing played after the stop
    assert state["played"][cut["item_id"]] == truncated["audio_end_ms"]
    notebook_page.screenshot("stop")


@pytest.mark.parametrize("notebook_spec", [MICROPHONE], ids=["microphone"])
def test_microphone_alone_records_24khz_speech_into_an_audio(notebook_page: NotebookPage) -> None:
    """rk.Microphone() on its own: Start, Stop, and mic.audio holds the fake mic's speech at 24 kHz."""
    page = notebook_page.page
    toggle = page.locator(".rk-microphone .rk-mic-toggle").first
    toggle.click()
    wait_for_text(page, ".rk-microphone .rk-mic-time", r"^[3-9]\.\d s$", timeout=20_000)
    notebook_page.screenshot("recording")
    toggle.click()
    state = notebook_page.probe.state()
    assert state["error"] == "" and not state["recording"]
    assert state["rate"] == 24000 and state["dtype"] == "int16"
    assert 3.0 <= state["duration"] <= 12.0
    assert state["rms_dbfs"] > -40.0  # speech, not silence
    assert "story" in state["heard"], state["heard"]


@pytest.mark.parametrize("notebook_spec", [MICROPHONE_DENIED], ids=["denied"])
def test_a_denied_microphone_says_so_in_the_widget(notebook_page: NotebookPage) -> None:
    """When the browser refuses the microphone, the widget shows why in red and Python sees the error."""
    page = notebook_page.page
    page.locator(".rk-microphone .rk-mic-toggle").first.click()
    wait_for_text(page, ".rk-microphone .rk-mic-error", "permission was denied")
    assert page.locator(".rk-microphone .rk-mic-toggle").first.inner_text() == "● Start"
    notebook_page.screenshot("denied")
    state = notebook_page.probe.state()
    assert state["error"].startswith("Microphone permission was denied") and not state["recording"]
    assert state["duration"] == 0.0
