"""The playground on a real session against the embedded server: what it shows after real turns.

A recording comm stands in for the kernel (no browser; tests/browser/ has that); the browser's
messages (a played count, a stop answer, microphone chunks) are fed in as the comm would deliver them.
Everything else is real: the session, its fold and event log, the server's events.
"""

from __future__ import annotations

import asyncio
import html
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import numpy as np
import pytest
from widget_comms import RecordingComm, browser_sets, custom_messages, from_browser

import realtime_kit as rk
from conftest import until
from realtime_kit.server import LocalServer
from realtime_kit.session.conversation import Response
from realtime_kit.widgets import Playground, StreamingPlayer
from realtime_kit.widgets.playground import RENDER_DELAY_S
from realtime_kit.widgets.render import latency_line

pytestmark = pytest.mark.wire

CHUNK = 2400  # 100 ms at 24 kHz, what microphone.js sends


async def redrawn() -> None:
    """Let the panel's coalesced redraw happen."""
    await asyncio.sleep(3 * RENDER_DELAY_S)


@pytest.fixture(scope="module")
def live_server() -> Iterator[LocalServer]:
    """Replies paced like the service (audio no faster than it plays): there is time to interrupt."""
    with LocalServer(pace="realtime") as server:
        yield server


@pytest.fixture
async def open_panel(comms: list[RecordingComm]) -> AsyncIterator[Callable[..., Any]]:
    """Open sessions with a Playground each (input transcription on); both closed after the test."""
    opened: list[tuple[Any, Playground]] = []

    async def make(server: LocalServer) -> tuple[Any, Playground]:
        session = await rk.connect(server.url)
        panel = Playground(session)
        opened.append((session, panel))
        await until(lambda: panel.transcription.value and _transcribing(session), "input transcription on")
        return session, panel

    yield make
    for session, panel in opened:
        panel.close()
        await session.close()


def _transcribing(session: Any) -> bool:
    return bool(((session.config.get("audio") or {}).get("input") or {}).get("transcription"))


def sent(session: Any, kind: str) -> list[dict[str, Any]]:
    """The client events of this type the session sent, as its event log holds them."""
    return [row.event for row in session.events.filter(type=kind, direction="out")]


def player_chunks(player: StreamingPlayer) -> list[tuple[dict[str, Any], bytes]]:
    return [(content, buffers[0]) for content, buffers in custom_messages(player) if content["type"] == "chunk"]


async def browser_answers_stop(player: StreamingPlayer, played: dict[str, int]) -> None:
    """Answer the player's latest stop request as player.js does: with its exact played count."""
    await until(lambda: any(c["type"] == "stop" and "request" in c for c, _ in custom_messages(player)),
                "the player's stop request")
    stops = [content for content, _ in custom_messages(player) if content["type"] == "stop" and "request" in content]
    from_browser(player, {"type": "stopped", "request": stops[-1]["request"], "played": played})


def speech_chunks(text: str, tail_s: float = 1.0) -> list[np.ndarray]:
    """Synthesized speech plus trailing silence, in the microphone's 100 ms chunks (int16, 24 kHz)."""
    from realtime_kit.server.voice import synthesize

    samples = np.concatenate([np.zeros(CHUNK * 3, np.int16), synthesize(text, voice="alloy", rate=24000),
                              np.zeros(int(tail_s * 24000), np.int16)]).astype(np.int16)
    return [samples[i:i + CHUNK] for i in range(0, len(samples), CHUNK)]


def last_reply(session: Any) -> Response:
    return session.conversation.responses[-1]


async def test_a_text_turn_shows_both_sides_a_timed_turn_and_its_audio(
        local_server: LocalServer, open_panel: Callable[..., Any]) -> None:
    """Enter sends the typed text; the transcript, the turn's row (latencies from reply.timings) and
    the players show what the fold holds: the same bytes, decoded once."""
    session, panel = await open_panel(local_server)
    panel.text.value = "Please repeat after me: the panel reads the fold."
    from_browser(panel.text, {"event": "submit"})  # Enter in the text box
    await until(lambda: panel.turns.children, "the turn's row")
    await redrawn()
    reply = last_reply(session)
    assert reply.done and reply.transcript == "The panel reads the fold."
    assert panel.text.value == "" and "Please repeat after me" in panel.transcript.html
    assert "rk-assistant" in panel.transcript.html and "The panel reads the fold." in panel.transcript.html
    head, clip = panel.turns.children[0].children
    assert "rk-turn-title'>Please repeat after me: the panel reads the fold.<" in head.value
    assert latency_line(reply) in head.value and "(after the request)" in head.value
    first_audio_ms = round(reply.timings["first_audio"] * 1000)
    assert f"first audio {first_audio_ms} ms" in head.value  # the same clock as reply.timings
    pcm = reply.audio.samples.astype("<i2").tobytes()
    assert b"".join(data for _, data in player_chunks(panel.player)) == pcm
    assert clip.duration_s == pytest.approx(reply.audio.duration) and "pcm" not in clip.get_state()
    from_browser(clip, {"type": "load"})  # the first press of the turn's play button
    assert custom_messages(clip)[-1] == ({"type": "pcm", "rate": 24000}, [pcm])
    assert "conversation.item.create" in panel.event_log.value and "response.done" in panel.event_log.value
    assert "1 response" in panel.status.value and panel.errors == []
    snapshot = panel.snapshot_html()
    assert "rk-snapshot" in snapshot and "The panel reads the fold." in snapshot and "<audio" not in snapshot


async def test_a_spoken_turn_from_the_microphone(local_server: LocalServer, open_panel: Callable[..., Any]) -> None:
    """Microphone chunks stream into the session; server VAD takes the turn; the row is titled by the
    transcript and timed after speech stopped. (Which words pocketsphinx hears is its business: the
    test asserts they are the fold's.)"""
    session, panel = await open_panel(local_server)
    panel.listen_button.click()
    assert panel.microphone.recording and panel.listen_button.description == "Stop listening"
    chunks = speech_chunks("what time is it")
    for chunk in chunks:
        from_browser(panel.microphone, {"type": "chunk", "rate": 24000}, [chunk.tobytes()])
    await until(lambda: panel.turns.children, "the spoken turn's row", timeout=60)
    await redrawn()
    panel.listen_button.click()
    appended = sent(session, "input_audio_buffer.append")
    assert sum(int(e["audio"].split()[0][1:]) for e in appended) == 2 * sum(len(c) for c in chunks)
    reply = last_reply(session)
    asked = session.conversation.messages.get(reply.answers)
    assert asked is not None and asked.role == "user" and not asked.pending
    head = panel.turns.children[0].children[0].value
    assert "(after speech stopped)" in head and latency_line(reply) in head
    assert f"rk-turn-title'>{asked.text or '(speech)'}<" in head
    assert not panel.microphone.recording and panel.errors == []


async def test_stop_cancels_and_truncates_at_the_played_ms(
        live_server: LocalServer, open_panel: Callable[..., Any]) -> None:
    """Stop while the reply plays: player flushed, response cancelled, item truncated at the browser's
    count; the transcript and the turn's row show what was heard; late deltas are not played."""
    session, panel = await open_panel(live_server)
    panel.send("Count to 30.")
    await until(lambda: panel.player.current_item and panel.player.received_ms(panel.player.current_item) >= 600,
                "600 ms of the reply")
    item = panel.player.current_item
    browser_sets(panel.player, played={item: 380}, played_ms=380, playing=True)  # a periodic report
    panel.stop_button.click()
    chunks_at_stop = len(player_chunks(panel.player))
    await browser_answers_stop(panel.player, {item: 420})  # the exact count at the stop
    message = session.conversation.messages.get(item)
    await until(lambda: message.heard_ms is not None and panel.turns.children, "the truncation and the row")
    await redrawn()
    assert [e["response_id"] for e in sent(session, "response.cancel")] == [last_reply(session).id]
    [truncate] = sent(session, "conversation.item.truncate")
    assert (truncate["item_id"], truncate["audio_end_ms"]) == (item, 420) and message.heard_ms == 420
    assert panel.truncations[0]["reason"] == "stop pressed" and panel.truncations[0]["received_ms"] >= 600
    assert "interrupted: 0.42 s heard" in panel.transcript.html
    assert "interrupted: 0.42 s heard" in panel.turns.children[0].children[0].value
    assert last_reply(session).status == "cancelled"
    assert len(player_chunks(panel.player)) == chunks_at_stop  # late deltas of the cut item are not played


async def test_a_new_message_cuts_off_the_reply_in_progress(
        live_server: LocalServer, open_panel: Callable[..., Any]) -> None:
    """Sending while the assistant speaks cancels its response and truncates it, then sends the message."""
    session, panel = await open_panel(live_server)
    panel.send("Count to 30.")
    await until(lambda: panel.player.current_item and panel.player.received_ms(panel.player.current_item) >= 300,
                "the reply's audio")
    panel.send("Please repeat after me: something else.")
    await browser_answers_stop(panel.player, {panel.player.current_item: 250})
    await until(lambda: len(session.conversation.responses) == 2 and last_reply(session).done, "the second reply")
    order = [row.type for row in session.events.filter(direction="out")
             if row.type in ("response.cancel", "conversation.item.truncate", "conversation.item.create")]
    assert order == ["conversation.item.create", "response.cancel", "conversation.item.truncate",
                     "conversation.item.create"]
    assert last_reply(session).transcript == "Something else."
    assert session.conversation.responses[0].status == "cancelled"


async def test_speech_over_the_assistant_truncates_without_a_second_cancel(
        live_server: LocalServer, open_panel: Callable[..., Any]) -> None:
    """Speaking over the reply (server VAD's speech_started) truncates it at the played ms; the server
    cancelled the response itself, so the panel sends no response.cancel."""
    session, panel = await open_panel(live_server)
    panel.send("Count to 30.")
    await until(lambda: panel.player.current_item and panel.player.received_ms(panel.player.current_item) >= 300,
                "the reply's audio")
    item = panel.player.current_item
    browser_sets(panel.player, played={item: 200}, played_ms=200, playing=True)
    panel.start_listening()
    for chunk in speech_chunks("stop please", tail_s=0.3):
        from_browser(panel.microphone, {"type": "chunk", "rate": 24000}, [chunk.tobytes()])
    await browser_answers_stop(panel.player, {item: 230})
    await until(lambda: session.conversation.messages.get(item).heard_ms is not None, "the truncation")
    panel.stop_listening()
    assert sent(session, "response.cancel") == [] and panel.truncations[0]["reason"] == "speech"
    assert [e["audio_end_ms"] for e in sent(session, "conversation.item.truncate")] == [230]
    await redrawn()
    assert "interrupted: 0.23 s heard" in panel.transcript.html


async def test_apply_sends_the_controls_and_a_refusal_reverts_them(
        local_server: LocalServer, open_panel: Callable[..., Any]) -> None:
    """Apply updates the real session; a voice refused after the assistant spoke goes back to the session's
    voice, is shown once, and the rest of the Apply stays applied."""
    session, panel = await open_panel(local_server)
    panel.instructions.value = "Answer in one sentence."
    panel.voice.value = "verse"
    panel.threshold.value, panel.silence.value = 0.8, 700
    panel.apply_button.click()
    await until(lambda: "Applied" in panel.config_out.value, "Applied")
    turn = session.config["audio"]["input"]["turn_detection"]
    assert session.config["instructions"] == "Answer in one sentence."
    assert session.config["audio"]["output"]["voice"] == "verse" and "verse" in panel.config_out.value
    assert (turn["threshold"], turn["silence_duration_ms"]) == (0.8, 700)
    panel.turn_detection.value = "semantic_vad"
    assert panel.threshold.disabled and panel.silence.disabled
    await session.send_text("Hello!")  # once the assistant has spoken, the voice is fixed
    panel.turn_detection.value = "server_vad"
    panel.voice.value, panel.instructions.value = "shimmer", "Be brief."
    panel.apply_button.click()
    await until(lambda: "Not applied" in panel.config_out.value, "Not applied")
    await redrawn()
    assert panel.voice.value == "verse" and session.config["audio"]["output"]["voice"] == "verse"
    assert panel.instructions.value == "Be brief." and session.config["instructions"] == "Be brief."
    [refusal] = panel.errors
    assert "voice" in refusal.lower() and panel.error_box.value.count("⚠") == 1  # shown once, not per source
    panel.instructions.value = "Be very brief."
    panel.apply_button.click()
    await until(lambda: "Applied" in panel.config_out.value, "the next Apply")
    assert panel.error_box.value == "" and session.config["instructions"] == "Be very brief."


async def test_controls_follow_updates_made_from_code(local_server: LocalServer,
                                                     open_panel: Callable[..., Any]) -> None:
    """session.update from a cell reaches the panel's controls, so Apply cannot silently undo it."""
    session, panel = await open_panel(local_server)
    await session.update(voice="sage", instructions="Answer like a pirate.", vad_threshold=0.7)
    await redrawn()
    assert (panel.voice.value, panel.instructions.value, panel.threshold.value) == (
        "sage", "Answer like a pirate.", 0.7)


async def test_input_transcription_is_switched_on_when_the_panel_opens(local_server: LocalServer,
                                                                       comms: list[RecordingComm]) -> None:
    """A session without input transcription gets it from the panel, so spoken turns show their words."""
    session = await rk.connect(local_server.url)
    try:
        await session.update(transcription=None)
        assert not _transcribing(session)
        panel = Playground(session)
        await until(lambda: _transcribing(session), "transcription switched on")
        await redrawn()
        assert panel.transcription.value is True
        assert sent(session, "session.update")[-1]["session"]["audio"]["input"]["transcription"]
        panel.close()
    finally:
        await session.close()


async def test_server_errors_turn_red_and_keep_the_transcript(local_server: LocalServer,
                                                             open_panel: Callable[..., Any]) -> None:
    """A server error (here: truncating an item that does not exist) shows in red; the transcript stays."""
    session, panel = await open_panel(local_server)
    await session.send_text("Please repeat after me: still here.")
    with pytest.raises(rk.RealtimeError) as refused:
        await session.truncate("item_that_does_not_exist", 10)
    await redrawn()
    assert html.escape(refused.value.message) in panel.error_box.value and "#c62828" in panel.error_box.value
    assert "Still here." in panel.transcript.html


async def test_a_closed_session_turns_send_and_the_microphone_red(local_server: LocalServer,
                                                                 open_panel: Callable[..., Any]) -> None:
    """After the session closes, Send shows why in red (the transcript kept), and listening stops with
    one red line, not one per chunk."""
    session, panel = await open_panel(local_server)
    reply = await session.send_text("Please repeat after me: earlier words.")
    browser_sets(panel.player, played={reply.item_id: 10_000})  # all of it heard: nothing to interrupt
    await session.close()
    panel.send("again")
    await until(lambda: panel.errors, "the Send error")
    assert "Send: This session is closed" in panel.error_box.value
    await redrawn()
    assert "Earlier words." in panel.transcript.html
    panel.start_listening()
    for _ in range(5):
        from_browser(panel.microphone, {"type": "chunk", "rate": 24000}, [np.ones(CHUNK, "<i2").tobytes()])
    await until(lambda: not panel.microphone.recording, "listening stopped")
    assert sum("listening stopped" in error for error in panel.errors) == 1
    assert panel.listen_button.description == "Start listening"


async def test_push_to_talk_sends_the_take_when_turn_detection_is_off(
        local_server: LocalServer, open_panel: Callable[..., Any]) -> None:
    """With turn detection off, the recording goes as one send_audio at Stop listening, committed by the
    client; its answer becomes a turn."""
    session, panel = await open_panel(local_server)
    await session.update(turn_detection=None)
    panel.start_listening()
    from_browser(panel.microphone, {"type": "started"})
    for chunk in speech_chunks("hello there", tail_s=0.2):
        from_browser(panel.microphone, {"type": "chunk", "rate": 24000}, [chunk.tobytes()])
    panel.stop_listening()
    from_browser(panel.microphone, {"type": "stopped"})
    await until(lambda: panel.turns.children, "the push-to-talk turn", timeout=60)
    assert len(sent(session, "input_audio_buffer.commit")) == 1
    assert sent(session, "response.create") and panel.errors == []


async def test_g711_output_reaches_the_player_as_pcm16(local_server: LocalServer,
                                                      open_panel: Callable[..., Any]) -> None:
    """With G.711 μ-law output, the fold's decoded deltas reach the player as PCM16 at 8 kHz: the same
    samples as reply.audio."""
    session, panel = await open_panel(local_server)
    await session.update(output_format="g711_ulaw")
    reply = await session.send_text("Please repeat after me: telephone.")
    await redrawn()
    chunks = player_chunks(panel.player)
    assert chunks and all(content["rate"] == 8000 for content, _ in chunks)
    played = np.frombuffer(b"".join(data for _, data in chunks), dtype="<i2")
    assert reply.audio.rate == 8000 and np.array_equal(played, reply.audio.samples)


async def test_widget_events_from_another_thread_run_on_the_session_loop(
        local_server: LocalServer, open_panel: Callable[..., Any]) -> None:
    """ipykernel 7 delivers widget events on its shell-channel thread; the panel runs them on the
    session's loop, and the message reaches the server."""
    session, panel = await open_panel(local_server)
    loops: list[asyncio.AbstractEventLoop] = []
    real_send_text = session.send_text

    async def send_text(text: str, **options: Any) -> Any:
        loops.append(asyncio.get_running_loop())
        return await real_send_text(text, **options)

    session.send_text = send_text
    panel.text.value = "Please repeat after me: from the comm thread."
    thread = threading.Thread(target=lambda: from_browser(panel.text, {"event": "submit"}))
    thread.start()
    thread.join()
    await until(lambda: panel.turns.children, "the reply")
    assert loops == [asyncio.get_running_loop()]
    assert last_reply(session).transcript == "From the comm thread."
