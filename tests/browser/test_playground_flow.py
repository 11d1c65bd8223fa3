"""The playground behaves like Foundry's, in a real JupyterLab: Enter sends, a new message cuts the reply,
a refused Apply reverts, the newest turn stays in view, and a saved notebook reopens to a snapshot."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .conftest import Lab, NotebookPage
from .test_playground_browser import panel_button, wait_for_played, wait_for_text

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

TEXT_BOX = ".rk-playground input[placeholder='Type a message…']"


def type_and_enter(page: Any, text: str) -> None:
    box = page.locator(TEXT_BOX).first
    box.fill(text)
    box.press("Enter")


def test_enter_sends_the_message(notebook_page: NotebookPage) -> None:
    """Typing a message and pressing Enter sends it: both sides appear and the box empties."""
    page = notebook_page.page
    type_and_enter(page, "Say hello from the keyboard.")
    wait_for_text(page, ".rk-transcript .rk-user", "hello from the keyboard")
    wait_for_text(page, ".rk-transcript .rk-assistant", "hello from the keyboard")
    assert page.locator(TEXT_BOX).first.input_value() == ""
    assert notebook_page.probe.state()["errors"] == []


def test_a_second_send_cuts_off_the_first_reply(notebook_page: NotebookPage) -> None:
    """A new message while the assistant speaks cancels and truncates the reply at what was heard, then answers."""
    page = notebook_page.page
    type_and_enter(page, "Count to 40.")
    wait_for_played(page, 1200)
    type_and_enter(page, "Say second message.")
    wait_for_text(page, ".rk-transcript .rk-assistant", "second message")
    wait_for_text(page, ".rk-transcript .rk-note", "interrupted")
    wait_for_text(page, ".rk-turn .rk-turn-title", "second message")  # its response is done
    state = notebook_page.probe.state()
    assert state["errors"] == []
    [cut] = state["truncations"]
    assert cut["reason"] == "new message"
    [truncated] = state["truncated"]
    assert truncated["item_id"] == cut["item_id"]
    assert 1200 <= truncated["audio_end_ms"] <= cut["played_reported_ms"] < cut["received_ms"]
    assert state["types"].get("response.done", 0) >= 2
    notebook_page.screenshot("second-send")


def test_a_refused_voice_change_reverts_the_dropdown(notebook_page: NotebookPage) -> None:
    """Once the assistant has spoken the server refuses a new voice: the dropdown returns to the session's
    voice, the error shows once, and the other changes of the same Apply are applied."""
    page = notebook_page.page
    type_and_enter(page, "Say ready.")
    wait_for_text(page, ".rk-transcript .rk-assistant", "ready")
    voice = page.locator(".rk-playground .widget-dropdown:has-text('Voice') select").first
    spoken_with = notebook_page.probe.state()["config"]["audio"]["output"]["voice"]   # the model's default voice
    voice.select_option("coral")
    page.locator(".rk-playground textarea").first.fill("Answer in one sentence.")
    panel_button(page, "Apply").click()
    wait_for_text(page, ".rk-playground .rk-not-applied", "Not applied")
    page.wait_for_function("([el, name]) => el.value === name", arg=[voice.element_handle(), spoken_with],
                           timeout=10_000)
    state = notebook_page.probe.state()
    assert spoken_with != "coral"
    assert state["voice_control"] == spoken_with and state["config"]["audio"]["output"]["voice"] == spoken_with
    assert state["config"]["instructions"] == "Answer in one sentence."
    assert len(state["errors"]) == 1, state["errors"]
    assert page.locator(".rk-playground .rk-errors > div").count() == 1
    notebook_page.screenshot("refused-apply")


def test_the_newest_turn_is_in_view_after_twelve_turns(notebook_page: NotebookPage) -> None:
    """After 12 turns the transcript shows its newest line without scrolling, and the panel stays compact."""
    page = notebook_page.page
    notebook_page.probe.run("for i in range(12):\n    await session.send_text(f'Say turn number {i + 1}.')")
    wait_for_text(page, ".rk-transcript .rk-assistant", "turn number 12")
    page.wait_for_timeout(300)  # the 50 ms redraw and the scroll after it
    in_view = page.evaluate("""() => {
        const box = document.querySelector('.rk-transcript-scroll');
        const lines = box.querySelectorAll('.rk-line');
        const last = lines[lines.length - 1].getBoundingClientRect(), frame = box.getBoundingClientRect();
        return {top: last.top >= frame.top - 1, bottom: last.bottom <= frame.bottom + 1,
                text: lines[lines.length - 1].textContent, height: frame.height};
    }""")
    assert in_view["top"] and in_view["bottom"], in_view
    assert "turn number 12" in in_view["text"].lower()
    assert page.locator(".rk-playground").first.bounding_box()["height"] < 1300
    notebook_page.screenshot("twelve-turns")


def test_a_saved_notebook_reopens_to_a_snapshot(notebook_page: NotebookPage, lab: Lab) -> None:
    """Saved and reopened without its kernel's widgets, the notebook shows the transcript snapshot, no error."""
    page = notebook_page.page
    type_and_enter(page, "Say snapshot please.")
    wait_for_text(page, ".rk-transcript .rk-assistant", "snapshot please")
    page.wait_for_selector(".rk-playground .rk-turn")
    page.wait_for_timeout(500)
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Save Notebook", exact=True).click()
    saved = lab.root / f"{notebook_page.name}.ipynb"
    deadline = time.monotonic() + 20
    while "snapshot please" not in saved.read_text().lower() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert "rk-snapshot" in saved.read_text() and "snapshot please" in saved.read_text().lower()
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Shut Down Kernel", exact=True).click()
    page.wait_for_timeout(1000)
    page.reload()
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    snapshot = page.locator(".rk-snapshot").first
    snapshot.wait_for(timeout=30_000)
    assert "snapshot please" in snapshot.inner_text().lower()
    page.wait_for_timeout(3000)  # the widget manager gives up on the lost model after about 2 s
    assert "model not found" not in page.locator(".jp-Notebook").first.inner_text()
    assert page.locator(".rk-playground").count() == 0
    snapshot.screenshot(path=str(notebook_page.screenshot_path("reopened")))
