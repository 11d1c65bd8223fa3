"""The audio playground in a cell: config controls, text and voice turns, transcript, players, event log.

    session = await rk.connect("local")
    panel = rk.Playground(session)
    panel                      # Apply settings, type and Send, or Start listening and talk

The microphone and the speakers are the browser's (Microphone and StreamingPlayer widgets), so the
kernel needs no audio device. Speaking over the assistant (server VAD's speech_started) or pressing
Stop silences the player, cancels the response and truncates the assistant item at the audio
actually heard (`conversation.item.truncate` with the player's played ms, never past the end).
Widget callbacks are sync and run on the kernel's loop: session calls are scheduled as tasks, and a
failure turns up in red in the panel, which keeps everything it had.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import ipywidgets as w
import numpy as np

from ..errors import RealtimeKitError
from .closing import close_own_parts, close_tree
from .controls import (
    GA_VOICES,
    ControlValues,
    output_format,
    server_interrupts,
    session_config,
    truncate_point,
    turn_detection_type,
)
from .microphone import Microphone
from .player import StreamingPlayer, pcm16_from_delta
from .render import (
    LogRow,
    add_log_row,
    config_html,
    error_html,
    event_log_html,
    transcript_html,
    turn_html,
)
from .transcript import TranscriptFold, as_dict

KEEP_TURNS = 8  # per-turn players kept in the panel; older ones are closed to free their comms
RENDER_DELAY_S = 0.05  # coalesce bursts of deltas into one redraw


class Playground(w.VBox):
    """An ipywidgets panel that drives one realtime session, like Azure AI Foundry's audio playground.

        panel = Playground(session)      # display it as a cell's last line
        panel.interrupt()                # what the Stop button does
        panel.truncations                # [{"item_id": ..., "audio_end_ms": ..., ...}]
    """

    def __init__(self, session: Any, *, microphone: Microphone | None = None,
                 player: StreamingPlayer | None = None) -> None:
        self.session = session
        # the panel's Start/Stop listening buttons drive the microphone; its own button would confuse
        self.microphone = microphone or Microphone(keep_audio=False, show_button=False)
        self.player = player or StreamingPlayer()
        self.fold = TranscriptFold()
        self.errors: list[str] = []
        self.log_rows: list[LogRow] = []
        self.truncations: list[dict[str, Any]] = []
        self._t0 = time.monotonic()
        self._tasks: set[Any] = set()
        self._audio: dict[str, bytearray] = {}  # response id -> its PCM16 output audio
        self._interrupted: set[str] = set()  # assistant items cut off: late deltas are not played
        self._finished: list[str] = []  # responses done, waiting for their turn box
        self._turn_boxes: dict[str, tuple[w.HTML, tuple[str, str]]] = {}  # response id -> box, media html
        self._render_handle: asyncio.TimerHandle | None = None
        self._mic_queue: asyncio.Queue[tuple[np.ndarray, int]] | None = None
        self._streaming = True  # chunks go to append_audio (VAD) rather than one send_audio per take
        self._build_controls(ControlValues.from_config(session_config(session)))
        super().__init__(children=self._layout())
        self.add_class("rk-playground")
        self._unsubscribe: list[Callable[[], Any]] = [
            session.on("*", self._on_server_event),
            self.microphone.on_chunk(self._on_mic_chunk),
            self.microphone.on_take(self._on_mic_take),
            self.player.on_stop_pressed(self._on_player_stop),
        ]
        self.config_out.value = config_html(session_config(session)) if session_config(session) else ""
        self._render_now()

    # ---- building

    def _build_controls(self, values: ControlValues) -> None:
        wide = w.Layout(width="98%")
        voices = list(GA_VOICES) + ([values.voice] if values.voice not in GA_VOICES else [])
        self.instructions = w.Textarea(value=values.instructions, placeholder="Instructions (system prompt)",
                                       rows=3, layout=wide)
        self.voice = w.Dropdown(options=voices, value=values.voice, description="Voice", layout=wide)
        self.modality = w.Dropdown(options=[("audio + transcript", "audio"), ("text only", "text")],
                                   value=values.output_modality, description="Output", layout=wide)
        self.turn_detection = w.Dropdown(
            options=[("server VAD", "server_vad"), ("semantic VAD", "semantic_vad"), ("none (push to talk)", "none")],
            value=values.turn_detection, description="Turns", layout=wide)
        self.threshold = w.FloatSlider(value=values.vad_threshold, min=0.0, max=1.0, step=0.05,
                                       description="Threshold", layout=wide)
        self.prefix_padding = w.IntSlider(value=values.prefix_padding_ms, min=0, max=1000, step=50,
                                          description="Prefix ms", layout=wide)
        self.silence = w.IntSlider(value=values.silence_duration_ms, min=100, max=2000, step=50,
                                   description="Silence ms", layout=wide)
        self.transcription = w.Checkbox(value=values.transcription, description="Input transcription")
        self.apply_button = w.Button(description="Apply", button_style="primary", icon="check")
        self.config_out = w.HTML()
        self.text = w.Text(placeholder="Type a message…", layout=w.Layout(flex="1"))
        self.send_button = w.Button(description="Send", icon="paper-plane")
        self.listen_button = w.Button(description="Start listening", icon="microphone", button_style="success")
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger")
        self.status = w.HTML()
        self.transcript = w.HTML()
        self.turns = w.VBox()
        self.event_log = w.HTML()
        self.error_box = w.HTML()
        self.turn_detection.observe(lambda _change: self._enable_vad_sliders(), names="value")
        self._enable_vad_sliders()
        self.apply_button.on_click(lambda _b: self.apply())
        self.send_button.on_click(lambda _b: self.send())
        self.listen_button.on_click(lambda _b: self.toggle_listening())
        self.stop_button.on_click(lambda _b: self.stop())

    def _layout(self) -> list[w.Widget]:
        settings = w.VBox([
            w.HTML("<b>Session</b>"), self.instructions, self.voice, self.modality, self.turn_detection,
            self.threshold, self.prefix_padding, self.silence, self.transcription, self.apply_button,
            self.config_out,
        ], layout=w.Layout(width="36%", padding="0 8px 0 0"))
        talk = w.VBox([
            self.transcript,
            w.HBox([self.text, self.send_button]),
            w.HBox([self.listen_button, self.stop_button, self.microphone]),
            self.player,
            self.error_box,
        ], layout=w.Layout(width="64%"))
        header = w.HTML("<b style='font-size:15px'>Realtime playground</b>")
        return [header, self.status, w.HBox([settings, talk]), w.HTML("<b>Turns</b>"), self.turns,
                w.HTML("<b>Events</b>"), self.event_log]

    def _enable_vad_sliders(self) -> None:
        disabled = self.turn_detection.value != "server_vad"  # only server_vad has these three
        for slider in (self.threshold, self.prefix_padding, self.silence):
            slider.disabled = disabled

    # ---- actions (button callbacks; also callable from code)

    def control_values(self) -> ControlValues:
        """What the controls show now."""
        return ControlValues(
            instructions=self.instructions.value, voice=self.voice.value, output_modality=self.modality.value,
            turn_detection=self.turn_detection.value, vad_threshold=self.threshold.value,
            prefix_padding_ms=self.prefix_padding.value, silence_duration_ms=self.silence.value,
            transcription=self.transcription.value)

    def apply(self) -> None:
        """Send the controls to the server (session.update); the panel shows the result or the error."""
        self._spawn(self._apply(self.control_values()), "Apply")

    async def _apply(self, values: ControlValues) -> None:
        kwargs = values.update_kwargs()
        self._log_out("session.update", ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "instructions"))
        try:
            state = await self.session.update(**kwargs)
        except RealtimeKitError as err:
            self.config_out.value = error_html([f"Apply: {err}"])
            raise
        changes = [c for c in getattr(state, "changes", []) if getattr(c, "kind", "") != "filled in"]
        self.config_out.value = config_html(getattr(state, "effective", None) or session_config(self.session), changes)
        self._render_now()

    def send(self, text: str | None = None) -> None:
        """Send the text box's message (or `text`) as a user turn."""
        message = (self.text.value if text is None else text).strip()
        if not message:
            return
        self.text.value = ""
        self._log_out("send_text", message)
        self._spawn(self.session.send_text(message), "Send")

    def toggle_listening(self) -> None:
        """Start or stop streaming the browser's microphone into the session."""
        if self.microphone.recording:
            self.stop_listening()
        else:
            self.start_listening()

    def start_listening(self) -> None:
        """Record in the browser: with turn detection the audio streams in and the server takes turns;
        without it, the take is sent as one user turn at Stop listening."""
        self._streaming = turn_detection_type(session_config(self.session)) is not None
        self.microphone.start()
        self.listen_button.description, self.listen_button.button_style = "Stop listening", "warning"
        self._render_now()

    def stop_listening(self) -> None:
        """Stop the microphone (its last partial chunk still reaches the session)."""
        self.microphone.stop()
        self.listen_button.description, self.listen_button.button_style = "Start listening", "success"
        self._render_now()

    def stop(self) -> None:
        """The Stop button: stop listening and interrupt the assistant if it is speaking."""
        if self.microphone.recording:
            self.stop_listening()
        self.interrupt("stop pressed")

    def interrupt(self, reason: str = "stop pressed") -> bool:
        """Silence the player, cancel the response in flight and truncate the assistant item at the ms
        heard; returns False when there was nothing to interrupt."""
        in_flight = self.fold.in_flight()
        flight_items = {item for rid in in_flight for item in self.fold.turns[rid].item_ids}
        item = self.player.current_item
        speaking = item is not None and item not in self._interrupted and (
            self.player.has_unplayed(item) or item in flight_items)
        if not speaking and not in_flight:
            return False
        if speaking and item is not None:
            self._interrupted.add(item)  # late deltas of this item are no longer played
        # with interrupt_response the server has cancelled on speech_started itself
        cancel = bool(in_flight) and not (reason == "speech" and server_interrupts(session_config(self.session)))
        stopped = self.player.stop_measured()  # silence now; the browser answers with its exact count
        self._spawn(self._interrupt(stopped, cancel, item if speaking else None, reason), "Interrupt")
        return True

    async def _interrupt(self, stopped: Awaitable[dict[str, int]], cancel: bool, item_id: str | None,
                         reason: str) -> None:
        played = await stopped
        if cancel:
            self._log_out("response.cancel", reason)
            await self.session.cancel()
        if item_id is None:
            return
        received = self.player.received_ms(item_id)
        heard = truncate_point(played.get(item_id, 0), received)
        self.truncations.append({"item_id": item_id, "audio_end_ms": heard, "reason": reason,
                                 "received_ms": round(received), "played_reported_ms": int(played.get(item_id, 0))})
        self._log_out("conversation.item.truncate", f"item_id={item_id} audio_end_ms={heard} ({reason})")
        self.fold.interrupted(item_id, heard)
        self._refresh_turn_of(item_id)
        self._schedule_render()
        await self.session.truncate(item_id, heard)

    def close(self) -> None:
        """Unsubscribe from the session, stop the microphone and close every widget of the panel."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        for task in list(self._tasks):
            task.cancel()
        if self._render_handle is not None:
            self._render_handle.cancel()
        for child in self.children:
            close_tree(child)
        close_own_parts(self)
        super().close()

    def _on_player_stop(self) -> None:
        self.interrupt("player stop")

    # ---- session events (called by the session's event pump, on the kernel's loop)

    def _on_server_event(self, event: Any) -> None:
        try:
            self._handle_server_event(event)
        except Exception as err:  # the session's pump must never die of a display problem
            self._show_error(f"The panel could not show {getattr(event, 'type', 'an event')}: {err!r}")

    def _handle_server_event(self, event: Any) -> None:
        at = time.monotonic() - self._t0
        data = as_dict(event)
        kind = str(data.get("type", ""))
        if kind == "response.output_audio.delta":
            self._play_delta(data, at)
        error = self.fold.apply(data, at)
        self._log_in(kind, data, at)
        if kind == "input_audio_buffer.speech_started":
            self.interrupt("speech")
        if kind == "response.done":
            self._finished.append(str((data.get("response") or {}).get("id") or ""))
        if error:
            self._show_error(error)
        self._schedule_render()

    def _play_delta(self, data: dict[str, Any], at: float) -> None:
        pcm, rate = pcm16_from_delta(str(data.get("delta") or ""), output_format(session_config(self.session)))
        response_id, item_id = str(data.get("response_id") or ""), str(data.get("item_id") or "")
        self._audio.setdefault(response_id, bytearray()).extend(pcm)
        self.fold.audio_delta(response_id, item_id, len(pcm), rate, at)
        if item_id not in self._interrupted:
            self.player.push(pcm, rate=rate, item_id=item_id)

    # ---- microphone

    def _on_mic_chunk(self, samples: np.ndarray, rate: int) -> None:
        if not self._streaming:
            return
        if self._mic_queue is None:
            self._mic_queue = asyncio.Queue()
            self._spawn(self._forward_mic(self._mic_queue), "Microphone")
        self._mic_queue.put_nowait((samples, rate))

    async def _forward_mic(self, queue: asyncio.Queue[tuple[np.ndarray, int]]) -> None:
        # one consumer keeps the chunks in order on the wire
        while True:
            samples, rate = await queue.get()
            if not self._streaming:
                continue  # dropped after a failure, until the next Start listening
            try:
                await self.session.append_audio(samples, rate)
            except Exception as err:
                self._streaming = False  # one red line, not ten a second
                self.stop_listening()
                self._show_error(f"Microphone audio could not be sent, so listening stopped: {err}")

    def _on_mic_take(self, audio: Any) -> None:
        if not self._streaming and audio.duration > 0:
            self._log_out("send_audio", f"{audio.duration:.2f} s from the microphone")
            self._spawn(self.session.send_audio(audio), "Send recording")

    # ---- display

    def _schedule_render(self) -> None:
        if self._render_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._render_now()
            return
        self._render_handle = loop.call_later(RENDER_DELAY_S, self._render_now)

    def _render_now(self) -> None:
        self._render_handle = None
        self.transcript.value = transcript_html(self.fold.lines)
        self.event_log.value = event_log_html(self.log_rows)
        while self._finished:
            self._add_turn(self._finished.pop(0))
        mode = turn_detection_type(session_config(self.session)) or "none (push to talk)"
        listening = "listening" if self.microphone.recording else "not listening"
        self.status.value = (f"<span class='rk-status' style='color:#555'>turn detection: {mode} · microphone: "
                             f"{listening} · {len(self.fold.turns)} responses</span>")

    def _add_turn(self, response_id: str) -> None:
        turn = self.fold.turns.get(response_id)
        if turn is None:
            return
        pcm = self._audio.pop(response_id, None)
        parts = ("", "")
        if pcm:
            try:
                parts = _turn_media(bytes(pcm), turn.audio_rate)
            except Exception as err:
                self._show_error(f"The waveform of {response_id} could not be drawn: {err!r}")
        box = w.HTML(turn_html(turn, *parts))
        self._turn_boxes[response_id] = (box, parts)
        kept = [box, *self.turns.children]  # newest first, next to the controls
        for old in kept[KEEP_TURNS:]:
            close_tree(old)
        self.turns.children = kept[:KEEP_TURNS]
        self._turn_boxes = {rid: entry for rid, entry in self._turn_boxes.items() if entry[0] in self.turns.children}

    def _refresh_turn_of(self, item_id: str) -> None:
        """Redraw the turn box of the response that produced `item_id` (after a truncation)."""
        for response_id, turn in self.fold.turns.items():
            if item_id in turn.item_ids and response_id in self._turn_boxes:
                box, parts = self._turn_boxes[response_id]
                box.value = turn_html(turn, *parts)

    def _log_in(self, kind: str, data: dict[str, Any], at: float) -> None:
        from ..session.eventlog import scrub, summarize

        add_log_row(self.log_rows, LogRow(at, "in", kind, summarize(kind, scrub(data, kind))))

    def _log_out(self, kind: str, summary: str) -> None:
        add_log_row(self.log_rows, LogRow(time.monotonic() - self._t0, "out", kind, summary))
        self._schedule_render()

    def _show_error(self, message: str) -> None:
        self.errors.append(message)
        self.error_box.value = error_html(self.errors)

    def _spawn(self, coro: Coroutine[Any, Any, Any] | Awaitable[Any], what: str) -> None:
        """Run a session call from a sync callback: a task on the running loop, failures shown in red."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            from ..session.sync import run

            try:
                run(coro)
            except Exception as err:
                self._show_error(f"{what}: {err}")
            return
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._task_done(done, what))

    def _task_done(self, task: asyncio.Future[Any], what: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        err = task.exception()
        if err is not None:
            self._show_error(f"{what}: {err}")


def _turn_media(pcm: bytes, rate: int) -> tuple[str, str]:
    """A turn's waveform (base64 PNG) and player (IPython Audio HTML), drawn once per turn."""
    from ..audio.core import Audio
    from ..audio.plots import waveform_png
    from .render import WAVE_HEIGHT, WAVE_WIDTH

    audio = Audio(np.frombuffer(pcm, dtype="<i2"), rate=rate)
    png = base64.b64encode(waveform_png(audio, WAVE_WIDTH * 2, WAVE_HEIGHT * 2)).decode("ascii")
    return png, str(audio.play()._repr_html_())
