"""Experiment: the same turns through every config on every target, a few times, measured side by side.

    exp = rk.Experiment(
        configs={"eager": dict(vad_threshold=0.5, silence_duration_ms=200),
                 "patient": dict(silence_duration_ms=800, voice="cedar")},
        turns=["How are you?", rk.Audio.from_wav("q1.wav"), ("q2.wav", "expected words of q2")],
        targets=["local"], repeats=3)
    results = await exp.run()        # a progress bar; after Ctrl-C, exp.results holds what finished
    results.table, results.summary(), results.plot()

Each turn runs in a session of its own (connect, `session.update(**config)`, one `send_text` or
`send_audio`, close), so turns are independent. Each target runs `concurrency` turns at a time; by
default one per CPU core for the embedded server (it shares this machine, and an overloaded server
measures its own load) and 8 for a cloud target, where the service's limits decide. An audio turn
with expected words gets input transcription (`transcription=True`) unless its config says
otherwise, to measure the word error rate. Against a target that reports `rate_limits.updated`
or answers with rate-limit errors, new turns wait for the limit to reset, and a refused turn is
retried (`retries` times, waiting `backoff_s`, then twice as long each time). A spoken turn waits
up to `vad_timeout` seconds for the server's VAD before committing the audio itself (`send_audio`'s
fallback; the row's `error` then says so), longer than `send_audio`'s default, so a slow server is
measured rather than second-guessed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError
from .cost import Price, transcription_model
from .metrics import speech_end_s, speech_end_sent, turn_metrics
from .ratelimit import RateGate, is_rate_limited
from .results import Results
from .turns import Turn, expand_turns

__all__ = ["Experiment", "Job"]


@dataclass(frozen=True)
class Job:
    """One cell of the grid: a turn, on a target, with a config, for the n-th time."""

    target: str
    config_name: str
    config: Mapping[str, Any]
    turn_index: int
    turn: Turn
    repeat: int


class Experiment:
    """A grid of targets x configs x turns x repeats; `await exp.run()` gives `Results`. See the module doc."""

    def __init__(self, configs: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
                 turns: Sequence[Any], targets: Sequence[Any] = ("local",), repeats: int = 1, *,
                 concurrency: int | None = None, retries: int = 3, backoff_s: float = 1.0, turn_timeout: float = 120.0,
                 vad_timeout: float = 10.0, progress: bool = True,
                 prices: Mapping[str, Price] | None = None, connect_options: Mapping[str, Any] | None = None) -> None:
        if repeats < 1 or (concurrency is not None and concurrency < 1):
            raise ValueError(f"Experiment: repeats ({repeats}) and concurrency ({concurrency}) must be at least 1.")
        self.turns = expand_turns(turns)
        if not self.turns:
            raise ValueError("Experiment: no turns; give at least one text or audio clip.")
        self.configs = _checked_configs(configs, self.turns)
        self.targets = [_checked_target(target, connect_options or {}) for target in targets]
        self.repeats, self.concurrency, self.retries = repeats, concurrency, retries
        self.turn_timeout, self.vad_timeout, self.progress, self.prices = turn_timeout, vad_timeout, progress, prices
        self.connect_options = dict(connect_options or {})
        self._rows: list[dict[str, Any]] = []   # grows as turns finish, so an interrupted run keeps them
        self._interrupted = False
        self._gates = {target: RateGate(base_s=backoff_s) for target in self.targets}

    def __repr__(self) -> str:
        return (f"Experiment({len(self.targets)} targets x {len(self.configs)} configs x {len(self.turns)} turns x "
                f"{self.repeats} repeats = {len(self.jobs())} turns to run)")

    @property
    def results(self) -> Results:
        """The turns finished so far (all of them after `run`; what finished, after an interruption)."""
        return Results(self._rows, interrupted=self._interrupted)

    def jobs(self) -> list[Job]:
        """Every turn to run, in the order they start: configs and targets interleaved turn by turn, so a
        machine or a service whose load drifts during the run weighs on every config alike."""
        return [Job(target, name, config, index, turn, repeat)
                for repeat, (index, turn), target, (name, config) in itertools.product(
                    range(self.repeats), enumerate(self.turns), self.targets, self.configs.items())]

    async def run(self) -> Results:
        """Run every turn, `concurrency` at a time per target; Results of what finished (all, unless interrupted)."""
        from tqdm.auto import tqdm

        jobs = self.jobs()
        self._rows, self._interrupted = [], False
        slots = {target: asyncio.Semaphore(self.concurrency or _default_concurrency(target))
                 for target in self.targets}

        async def guarded(job: Job) -> dict[str, Any]:
            async with slots[job.target]:
                return await self._attempt(job)

        tasks = [asyncio.ensure_future(guarded(job)) for job in jobs]
        bar = tqdm(total=len(jobs), desc="experiment", unit="turn", disable=not self.progress)
        try:
            for finished in asyncio.as_completed(tasks):
                self._rows.append(await finished)
                bar.update()
        except (KeyboardInterrupt, asyncio.CancelledError):
            await _cancel(tasks)
            self._interrupted = True
            if asyncio.current_task() is not None and asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise  # someone else cancelled us: keep asyncio's contract (exp.results holds the rows)
            return self.results
        finally:
            bar.close()
        return self.results

    async def _attempt(self, job: Job) -> dict[str, Any]:
        gate, loop = self._gates[job.target], asyncio.get_running_loop()
        for attempt in itertools.count(1):
            await asyncio.sleep(gate.delay(loop.time()))
            started = datetime.now(UTC)
            try:
                return await asyncio.wait_for(self._turn(job, gate), self.turn_timeout)
            except TimeoutError:
                return {**self._identity(job, started), "status": "error",
                        "error": f"TimeoutError: the turn did not finish within turn_timeout={self.turn_timeout} s"}
            except Exception as err:  # a failed turn is a row, not the end of the run
                if is_rate_limited(err) and attempt <= self.retries:
                    gate.backoff(attempt, loop.time())
                    continue
                return {**self._identity(job, started), "status": "error",
                        "error": f"{type(err).__name__}: {err}" if str(err) else type(err).__name__}
        raise AssertionError("unreachable")

    async def _turn(self, job: Job, gate: RateGate) -> dict[str, Any]:
        from ..session.core import connect

        started, clock = datetime.now(UTC), time.perf_counter()
        loop = asyncio.get_running_loop()
        async with connect(job.target, **self.connect_options) as session:
            session.on("rate_limits.updated", lambda event: gate.observe(event.rate_limits or [], loop.time()))
            if job.config:
                await session.update(**job.config)
            before = len(session.responses)
            turn = job.turn
            reply = await (session.send_text(turn.text) if turn.text is not None
                           else session.send_audio(turn.audio, vad_timeout=self.vad_timeout))
            chain = _chain(session.responses[before:], reply)
            speech_end, end_of_speech = None, None
            if turn.audio is not None:
                speech_end = speech_end_s(turn.audio.samples, turn.audio.rate)
                end_of_speech = speech_end_sent(_append_times(session, chain[0]), speech_end, _chunk_s())
            model = session.config.get("model") or session.target.model
            row = turn_metrics(chain, end_of_speech=end_of_speech, speech_end=speech_end, expected=turn.expected,
                               model=model, prices=self.prices, transcription_model=transcription_model(session.config))
            identity = self._identity(job, started, model=model)
            identity["session_config"] = json.dumps(session.config, sort_keys=True, default=str)
        identity["wall_s"] = round(time.perf_counter() - clock, 6)
        return {**identity, **row}

    def _identity(self, job: Job, started: datetime, model: str | None = None) -> dict[str, Any]:
        return {"target": job.target, "model": model, "config": job.config_name, "turn": job.turn_index,
                "label": job.turn.label, "kind": job.turn.kind, "repeat": job.repeat,
                "input_s": round(job.turn.audio.duration, 3) if job.turn.audio is not None else None,
                "started_at": started.isoformat(timespec="milliseconds")}


def _default_concurrency(target: str) -> int:
    """Turns at a time on a target: one per CPU core for a server on this machine, 8 for the cloud."""
    import os
    from urllib.parse import urlsplit

    on_this_machine = target == "local" or urlsplit(target).hostname in ("127.0.0.1", "localhost", "::1")
    return (os.cpu_count() or 2) if on_this_machine else 8


def _chain(created: Sequence[Any], reply: Any) -> list[Any]:
    """The turn's responses: the first one the server created for it, and its tool-call follow-ups."""
    from ..session.turns import response_chain

    for head in created:
        chain = response_chain(head)
        if reply in chain:
            return chain
    return [reply]


def _append_times(session: Any, head: Any) -> list[float]:
    """When each input_audio_buffer.append of the turn was sent, in seconds since its request."""
    ids = set(head.request_event_ids)
    offset = session.events.start - head.requested_at
    return [row.t + offset for row in session.events.filter("input_audio_buffer.append", direction="out")
            if (row.source or {}).get("event_id") in ids]


def _chunk_s() -> float:
    from ..session.audio_input import APPEND_CHUNK_MS

    return APPEND_CHUNK_MS / 1000


def _checked_configs(configs: Any, turns: Sequence[Turn]) -> dict[str, dict[str, Any]]:
    """Configs by name, each checked as session.update keywords now (a typo fails before anything runs)."""
    from ..config.build import build_session

    if isinstance(configs, Mapping):
        named = {str(name): dict(config or {}) for name, config in configs.items()}
    elif isinstance(configs, Sequence) and not isinstance(configs, str):
        named = {f"config {index}": dict(config or {}) for index, config in enumerate(configs)}
    else:
        raise ConfigError("Experiment: configs must be a dict of name -> session keywords, e.g. "
                          "{'eager': dict(silence_duration_ms=200)}, or a list of such dicts.")
    if not named:
        raise ConfigError("Experiment: no configs; give at least one, e.g. {'default': {}}.")
    wants_wer = any(turn.audio is not None and turn.expected for turn in turns)
    for name, config in named.items():
        try:
            build_session(**{key: value for key, value in config.items() if key != "tools"})
        except ConfigError as err:
            raise ConfigError(f"Experiment config {name!r}: {err}") from None
        if wants_wer and "transcription" not in config:
            config["transcription"] = True  # the word error rate needs the input transcript
    return named


def _checked_target(target: Any, options: Mapping[str, Any]) -> str:
    """A target as rk.connect takes it ("local", "azure", "openai", a URL; a LocalServer's URL; None), checked now."""
    from ..session.targets import resolve_target

    url = getattr(target, "azure_base_url", None)
    if isinstance(url, str):
        return url
    if target is not None and not isinstance(target, str):
        raise TypeError(f"Experiment target {target!r}: give 'local', 'azure', 'openai', a ws:// URL, an "
                        f"rk.LocalServer, or None for what rk.connect() would pick.")
    target_options = {k: v for k, v in options.items() if k in ("endpoint", "api_key", "deployment", "model")}
    resolved = resolve_target(target, **target_options)  # raises TargetError naming the missing variable
    return target if target is not None else resolved.kind  # None: named once, so no notice per turn


async def _cancel(tasks: Sequence[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait(tasks, timeout=5.0)
