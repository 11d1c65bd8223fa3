"""The audio playground in a cell: config controls, text and voice turns, transcript, players, event log.

    session = await rk.connect("local")
    panel = rk.Playground(session)
    panel                      # Apply settings, type and press Enter, or Start listening and talk

The microphone and the speakers are the browser's (Microphone and StreamingPlayer widgets), so the
kernel needs no audio device. As in Azure AI Foundry's playground, a new message, speaking over the
assistant (server VAD's speech_started) or pressing Stop silences the player, cancels the response
and truncates the assistant item at the audio actually heard (`conversation.item.truncate` with the
player's played ms, never past the end).

The controls show the session's effective state, whoever changed it (Apply, or `session.update` from
code); a refused Apply puts them back and says why, once. Input transcription is switched on when the
panel opens, so spoken turns have their words. Widget callbacks are sync, and ipykernel 7 runs them on
its shell-channel thread, not on the loop where the session lives: each hands its work to the
session's loop (call_soon_threadsafe), where session calls run as tasks; a failure turns up in red,
cleared by the next success.
The panel folds nothing itself: it reads the session's conversation fold (messages, responses with
their audio and timings) and its event log, and subscribes to the fold's changes.
Saved with the notebook, the panel leaves a still snapshot (transcript, latencies, waveforms) in place
of the live widget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import ipywidgets as w
import numpy as np

from ..errors import RealtimeKitError
from ..session.conversation import Change, Response
from .closing import close_own_parts, close_tree
from .controls import (
    GA_VOICES,
    ControlValues,
    server_interrupts,
    session_config,
    truncate_point,
    turn_detection_type,
)
from .microphone import Microphone
from .player import StreamingPlayer
from .render import (
    config_html,
    error_html,
    event_log_html,
    snapshot_html,
    transcript_html,
)
from .tasks import SessionTasks, loop_of, what_went_wrong
from .turns import TurnList
from .views import TranscriptView

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
        self.player = player or StreamingPlayer(show_stop=False)  # the panel has the one Stop
        self.conversation = session.conversation  # the one fold: the panel reads it, never folds again
        self.errors: list[str] = []
        self._error_keys: list[str] = []  # what each shown error is about: each is shown once
        self._cutting: asyncio.Future[Any] | None = None  # an interruption on its way (cancel + truncate)
        self._snapshot: Any = None  # the display handle of the saved-notebook snapshot
        self.truncations: list[dict[str, Any]] = []
        # every session call runs on the session's loop, whichever thread a widget event came in on
        self._runner = SessionTasks(loop_of(session), self._task_failed)
        self._spawn, self._on_loop = self._runner.spawn, self._runner.on_loop
        self._interrupted: set[str] = set()  # assistant items cut off: late deltas are not played
        self._finished: list[Response] = []  # responses done, waiting for their turn box
        self._render_handle: asyncio.TimerHandle | None = None
        self._mic_queue: asyncio.Queue[tuple[np.ndarray, int]] | None = None
        self._streaming = True  # chunks go to append_audio (VAD) rather than one send_audio per take
        self._build_controls(ControlValues.from_config(session_config(session)))
        super().__init__(children=self._layout())
        self.add_class("rk-playground")
        self._unsubscribe: list[Callable[[], Any]] = [
            self.conversation.subscribe(self._on_change),
            self.microphone.on_chunk(lambda samples, rate: self._on_loop(self._on_mic_chunk, samples, rate)),
            self.microphone.on_take(lambda audio: self._on_loop(self._on_mic_take, audio)),
            self.player.on_stop_pressed(lambda: self._on_loop(self._on_player_stop)),
        ]
        self.config_out.value = config_html(session_config(session)) if session_config(session) else ""
        self._render_now()
        if not self.control_values().transcription or not _transcribing(session_config(session)):
            self._spawn(self._transcribe_by_default(), "Input transcription")

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
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger",
                                    tooltip="Stop the assistant: cut its reply at what you heard")
        self.status = w.HTML()
        self.transcript = TranscriptView(max_height=340)
        self.turn_list = TurnList(self.conversation, self._show_error)
        self.turns = self.turn_list.box
        self.event_log = w.HTML()
        self.error_box = w.HTML()
        self.text.on_msg(self._on_text_message)  # Enter in the text box sends
        self.turn_detection.observe(lambda _change: self._enable_vad_sliders(), names="value")
        self._enable_vad_sliders()
        self.apply_button.on_click(lambda _b: self._on_loop(self.apply))
        self.send_button.on_click(lambda _b: self._on_loop(self.send))
        self.listen_button.on_click(lambda _b: self._on_loop(self.toggle_listening))
        self.stop_button.on_click(lambda _b: self._on_loop(self.stop))

    def _layout(self) -> list[w.Widget]:
        settings = w.VBox([
            w.HTML("<b>Session</b>"), self.instructions, self.voice, self.modality, self.turn_detection,
            self.threshold, self.prefix_padding, self.silence, self.transcription, self.apply_button,
            self.config_out,
        ], layout=w.Layout(width="34%", padding="0 8px 0 0"))
        talk = w.VBox([
            self.transcript,
            w.HBox([self.text, self.send_button]),
            w.HBox([self.listen_button, self.stop_button, self.microphone]),
            self.player,
            self.error_box,
        ], layout=w.Layout(width="66%"))
        header = w.HTML("<b style='font-size:15px'>Realtime playground</b>")
        details = w.Accordion(children=[self.turns, self.event_log], titles=("Turns", "Events"), selected_index=0)
        return [header, self.status, w.HBox([settings, talk]), details]

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
        # a new voice is refused once the assistant has spoken: sent on its own, so the rest still applies
        voice = kwargs.pop("voice") if values.voice != self._effective().voice else None
        parts = [kwargs] + ([{"voice": voice}] if voice is not None else [])
        refused: list[str] = []
        state: Any = None
        for part in parts:
            try:
                state = await self.session.update(**part)
            except RealtimeKitError as err:
                refused.append(what_went_wrong(err))
        self._show_controls(self._effective())  # refused values go back to what the session has
        if refused:
            self.config_out.value = "<span class='rk-not-applied' style='color:#c62828'>Not applied</span>"
            for message in refused:
                self._show_error(f"Apply: {message}", key=message)
            return
        self._clear_errors()
        changes = [c for c in getattr(state, "changes", []) if getattr(c, "kind", "") != "filled in"]
        effective = getattr(state, "effective", None) or session_config(self.session)
        self.config_out.value = ("<span class='rk-applied' style='color:#2e7d32'>✓ Applied</span>"
                                 + config_html(effective, changes))
        self._render_now()

    def _effective(self) -> ControlValues:
        return ControlValues.from_config(session_config(self.session))

    def _show_controls(self, values: ControlValues) -> None:
        """Set the controls to `values` (the session's effective state)."""
        if values.voice not in self.voice.options:
            self.voice.options = [*self.voice.options, values.voice]
        self.instructions.value, self.voice.value = values.instructions, values.voice
        self.modality.value, self.turn_detection.value = values.output_modality, values.turn_detection
        self.threshold.value, self.prefix_padding.value = values.vad_threshold, values.prefix_padding_ms
        self.silence.value, self.transcription.value = values.silence_duration_ms, values.transcription

    async def _transcribe_by_default(self) -> None:
        await self.session.update(transcription=True)
        self._show_controls(self._effective())

    def send(self, text: str | None = None) -> None:
        """Send the text box's message (or `text`) as a user turn, cutting off a reply still in progress."""
        message = (self.text.value if text is None else text).strip()
        if not message:
            return
        self.text.value = ""
        self.interrupt("new message")
        self._spawn(self._send_message(message, self._cutting), "Send")

    async def _send_message(self, message: str, cutting: asyncio.Future[Any] | None) -> None:
        if cutting is not None:
            await asyncio.wait([cutting])  # the cancel and truncate go first; their failure is shown by them
        await self.session.send_text(message)
        self._clear_errors()

    def _on_text_message(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("event") == "submit":
            self._on_loop(self.send)

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
        in_flight = self.conversation.in_flight
        flight_items = {m.item_id for m in self.conversation.messages if in_flight is not None
                        and m.response_id == in_flight.id}
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
        self._cutting = self._spawn(self._interrupt(stopped, cancel, item if speaking else None, reason), "Interrupt")
        return True

    async def _interrupt(self, stopped: Awaitable[dict[str, int]], cancel: bool, item_id: str | None,
                         reason: str) -> None:
        played = await stopped
        if cancel:
            await self.session.cancel()
        if item_id is None:
            return
        received = self.player.received_ms(item_id)
        heard = truncate_point(played.get(item_id, 0), received)
        self.truncations.append({"item_id": item_id, "audio_end_ms": heard, "reason": reason,
                                 "received_ms": round(received), "played_reported_ms": int(played.get(item_id, 0))})
        await self.session.truncate(item_id, heard)  # the fold marks the message at conversation.item.truncated

    def close(self) -> None:
        """Unsubscribe from the session, stop the microphone and close every widget of the panel."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        self._runner.cancel_all()
        if self._render_handle is not None:
            self._render_handle.cancel()
        for child in self.children:
            close_tree(child)
        close_own_parts(self)
        super().close()

    def _on_player_stop(self) -> None:
        self.interrupt("player stop")

    # ---- the fold's changes (told by the session's event pump, on the kernel's loop)

    def _on_change(self, change: Change) -> None:
        try:
            self._follow(change)
        except Exception as err:  # the session's pump must never die of a display problem
            self._show_error(f"The panel could not show {change.event_type}: {err!r}")

    def _follow(self, change: Change) -> None:
        if change.kind == "audio":
            self._play(change)
        elif change.event_type == "input_audio_buffer.speech_started":
            self.interrupt("speech")
        elif change.event_type == "response.done" and change.response is not None:
            self._finished.append(change.response)
        elif change.event_type == "conversation.item.truncated" and change.item_id:
            self.turn_list.refresh(change.item_id)
            self._update_snapshot()
        elif change.kind == "session":
            self._show_controls(self._effective())
        elif change.kind == "error":
            error = self.conversation.last_error
            message = str(getattr(error, "message", None) or "the server reported an error")
            code = getattr(error, "code", None) or getattr(error, "type", None)
            self._show_error(f"{message} ({code})", key=message)
        self._schedule_render()

    def _play(self, change: Change) -> None:
        """Hand the delta the fold just decoded to the player (PCM16; G.711 is expanded)."""
        from ..audio.core import Audio

        item_id = change.item_id or ""
        if change.response is None or item_id in self._interrupted:
            return
        fmt, rate = self.conversation.output_format
        self.player.push_audio(Audio.from_bytes(change.response.last_audio, fmt, rate), item_id=item_id)

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
        self.transcript.html = transcript_html(self.conversation.messages)
        self.event_log.value = event_log_html(self.session.events.rows)
        while self._finished:
            self._add_turn(self._finished.pop(0))
        mode = turn_detection_type(session_config(self.session)) or "none (push to talk)"
        listening = "listening" if self.microphone.recording else "off"
        count = len(self.conversation.responses)
        self.status.value = (f"<span class='rk-status' style='color:#555'>turn detection: {mode} · microphone: "
                             f"{listening} · {count} response{'' if count == 1 else 's'}</span>")

    def _add_turn(self, response: Response) -> None:
        self.turn_list.add(response)
        self._update_snapshot()

    # ---- the snapshot a saved notebook keeps

    def snapshot_html(self) -> str:
        """The panel as still HTML: transcript, and each turn's title, latency and waveform."""
        return snapshot_html(self.conversation.messages, self.turn_list.snapshot_rows())

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        display(self._repr_mimebundle_(), raw=True)
        self._snapshot = display(HTML(self.snapshot_html()), display_id=True)

    def _update_snapshot(self) -> None:
        if self._snapshot is not None:
            from IPython.display import HTML

            self._snapshot.update(HTML(self.snapshot_html()))

    def _show_error(self, message: str, key: str | None = None) -> None:
        """Show `message` in red, unless an error about the same thing (`key`) is already shown."""
        key = key or message
        if key in self._error_keys:
            return
        self._error_keys.append(key)
        self.errors.append(message)
        self.error_box.value = error_html(self.errors)

    def _clear_errors(self) -> None:
        """A success: the red lines of earlier failures go away."""
        self.errors, self._error_keys = [], []
        self.error_box.value = ""

    def _task_failed(self, what: str, err: BaseException) -> None:
        self._show_error(f"{what}: {what_went_wrong(err)}", key=what_went_wrong(err))


def _transcribing(config: dict[str, Any]) -> bool:
    audio_in = (config.get("audio") or {}).get("input") or {}
    return bool(audio_in.get("transcription"))
