"""How fast the local server's engines run, as multiples of real time, and how well STT hears the voice.

    python3 bench/bench_engines.py            # prints one line per measurement
    python3 bench/bench_engines.py --live     # also: live transcription, each session's CMN vs two baselines,
                                              # and the hurried and room searches against the full one
    python3 bench/bench_engines.py --hurried  # only the hurried search against the full one
    python3 bench/bench_engines.py --room     # only a room's search against the full one (--all-voices: 10 voices)
    python3 bench/bench_engines.py --vocabulary   # each live search with the searched words against the whole
                                                  # dictionary; decoder builds (--all-voices: 10 voices)
    python3 bench/bench_engines.py --noise-estimate   # each utterance from a cleared noise estimate against the
                                                      # one the utterance before left (--all-voices: 10 voices)

Speeds use CPU time of this process (time.process_time), so other work on a shared machine skews
them less than wall-clock time would; "x real time" = seconds of audio per CPU second.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from speech_fixtures import EVERYDAY_PHRASES as PHRASES  # the set the engine tests state their accuracy over
from speech_fixtures import WIDER_PHRASES, hear_live

from realtime_kit.server import live_stt, stt
from realtime_kit.server.stt import transcribe
from realtime_kit.server.vad import SileroVad
from realtime_kit.server.voice import GA_VOICES, synthesize
from realtime_kit.server.workers import TurnRouter

T = TypeVar("T")
PARAGRAPH = (
    "Hello! I am the local assistant. I heard you ask about the weather. "
    "The session uses the alloy voice, server voice activity detection, and a threshold of one half."
)


def cpu_seconds(work: Callable[[], T]) -> tuple[float, T]:
    start = time.process_time()
    result = work()
    return time.process_time() - start, result


def bench_synthesis() -> None:
    synthesize("warm up", "alloy")
    for voice in ("alloy", "cedar", "verse"):
        spent, samples = cpu_seconds(partial(synthesize, PARAGRAPH, voice, 24000))
        seconds = len(samples) / 24000
        print(f"synthesis {voice:7s}: {seconds:5.1f} s of audio, {seconds / spent:6.0f} x real time")


def bench_vad() -> None:
    audio = np.concatenate([synthesize(PARAGRAPH, "alloy", 24000), np.zeros(24000 * 2, np.int16)])
    vad = SileroVad(rate=24000)
    chunk = 2400  # 100 ms appends, like a microphone stream
    spent, _ = cpu_seconds(lambda: [vad.feed(audio[i : i + chunk]) for i in range(0, audio.size, chunk)])
    seconds = audio.size / 24000
    print(f"vad 24 kHz in 100 ms chunks: {seconds / spent:6.0f} x real time")


def overlap(reference: str, heard: str) -> float:
    wanted, got = Counter(reference.split()), Counter(heard.split())
    return sum((wanted & got).values()) / sum(wanted.values())


def bench_stt(voices: tuple[str, ...], rate: int = 24000) -> None:
    transcribe(synthesize("warm up", "alloy", rate), rate)  # builds a decoder
    for voice in voices:
        total_spent, total_audio, scores, exact = 0.0, 0.0, [], 0
        for text in PHRASES:
            clip = synthesize(text, voice, rate)
            spent, heard = cpu_seconds(partial(transcribe, clip, rate))
            total_spent += spent
            total_audio += clip.size / rate
            scores.append(overlap(text, heard))
            exact += heard == text
        print(
            f"stt {voice:7s} at {rate} Hz: words {np.mean(scores):4.0%}, phrases exact {exact}/{len(PHRASES)}, "
            f"{total_audio / total_spent:4.1f} x real time"
        )


class _Carrying:
    """A decoder whose CMN cannot be set, so it carries over from turn to turn: the way before 2026-11-29."""

    def __init__(self, decoder: Any) -> None:
        self._decoder = decoder

    def set_cmn(self, _cmn: str) -> None:
        pass

    def reinit_feat(self) -> None:
        cmn = self._decoder.get_cmn(False)    # the noise estimate is cleared as the server does; the CMN carries on
        self._decoder.reinit_feat()
        self._decoder.set_cmn(cmn)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._decoder, name)


def _carrying_noise_over(decoder: Any, normalisation: str | None = None) -> None:
    """`stt.start_utterance` the way before 2026-12-01: each utterance starts with the noise estimate the last left."""
    if normalisation is not None:
        decoder.set_cmn(normalisation)
    decoder.start_utt()


def bench_noise_estimate(voices: tuple[str, ...]) -> None:
    """Each utterance from a cleared noise estimate (`stt.start_utterance`, the server's way) against the estimate
    carried over from the utterance before, another voice's (the way before): WER of whole-clip transcription and of
    each live search over the same clips, and in how many the words differ."""
    import jiwer

    clips = [(text, synthesize(text, voice, 24000)) for text in PHRASES + WIDER_PHRASES for voice in voices]
    references = [text for text, _ in clips]
    cleared = stt.start_utterance
    heard: dict[tuple[str, str], list[str]] = {}
    for way, start in (("cleared", cleared), ("carried over", _carrying_noise_over)):
        stt.start_utterance = live_stt.start_utterance = start   # type: ignore[assignment]
        try:
            stt._decoder = None       # a new shared decoder: both ways start from the same state
            heard["whole clip", way] = [transcribe(clip, 24000) or "-" for _, clip in clips]
            for search in ("full", "room", "hurried"):
                heard[search, way] = _hear_each(search, [clip for _, clip in clips])[1]
        finally:
            stt.start_utterance = live_stt.start_utterance = cleared   # type: ignore[assignment]
    for search in ("whole clip", "full", "room", "hurried"):
        now, before = heard[search, "cleared"], heard[search, "carried over"]
        differ = sum(a != b for a, b in zip(now, before, strict=True))
        print(f"stt {search:10s}: WER {jiwer.wer(references, now):.3f} with the noise estimate cleared, "
              f"{jiwer.wer(references, before):.3f} carried over; words differ in {differ} of {len(clips)} clips "
              f"({len(voices)} voices, each utterance after another voice's)")


def bench_live_stt(voices: tuple[str, ...]) -> None:
    """Live transcription as in a room: one session per voice, their turns interleaved on one decoder. The server's
    way (each session's CMN kept apart) against two baselines in the same run: CMN carried from whichever turn came
    before (the way before 2026-11-29), and every turn from the same CMN (no adaptation at all)."""
    clips = [(voice, text, synthesize(text, voice, 24000)) for text in PHRASES for voice in voices]
    new_decoder = live_stt._new_decoder
    results = {}

    def carrying(hurried: bool = False, room: bool = False) -> _Carrying:
        return _Carrying(new_decoder(hurried, room))

    for name, make, per_session in (("per session", new_decoder, True),
                                    ("carried over", carrying, True),
                                    ("one for all turns", new_decoder, False)):
        live_stt._new_decoder = make
        try:
            turns, router = live_stt.LiveTurns(max_decoders=1), TurnRouter(1)
            heard = [hear_live(turns, router, clip, f"turn{i}", voice if per_session else "")
                     for i, (voice, _, clip) in enumerate(clips)]
        finally:
            live_stt._new_decoder = new_decoder
        scores = [overlap(text, words) for (_, text, _), words in zip(clips, heard, strict=True)]
        exact = sum(words == text for (_, text, _), words in zip(clips, heard, strict=True))
        results[name] = float(np.mean(scores))
        print(f"live stt, CMN {name:17s}: words {results[name]:4.0%}, phrases exact {exact}/{len(clips)} "
              f"({len(voices)} voices interleaved)")
    for baseline in ("carried over", "one for all turns"):
        print(f"live stt words heard, per session / {baseline}: {results['per session'] / results[baseline]:.2f}")


def bench_search(voices: tuple[str, ...], other: str, rounds: int = 2) -> None:
    """The full live search against a narrower one, ``other``: "hurried" (a listener behind its audio) or "room" (full
    decoders built while a room is on the server). CPU per second of audio and WER over the same clips, the two
    alternating in rounds (this machine's speed drifts)."""
    import jiwer

    clips = [(text, synthesize(text, voice, 24000)) for text in PHRASES for voice in voices]
    spent: dict[str, list[float]] = {"full": [], other: []}
    heard: dict[str, list[str]] = {}
    for _ in range(rounds):
        for search in spent:
            cpu, heard[search] = _hear_each(search, [clip for _, clip in clips])
            spent[search].append(cpu)
    references = [text for text, _ in clips]
    for search in spent:
        print(f"live stt {search:7s} search: {np.median(spent[search]):.3f} CPU s per s of audio (median of {rounds}), "
              f"WER {jiwer.wer(references, heard[search]):.3f} ({len(clips)} clips, {len(voices)} voices)")
    print(f"live stt {other} / full CPU: {np.median(spent[other]) / np.median(spent['full']):.2f}")


def _hear_each(search: str, clips: list[np.ndarray]) -> tuple[float, list[str]]:
    """Each clip a turn on one process's live decoders searching as ``search`` ("full", "room" or "hurried"): the CPU
    seconds per second of audio, and the words heard ("-" for none)."""
    turns, router = live_stt.LiveTurns(max_decoders=1), TurnRouter(1)
    if search == "room":
        turns.handle("room", "", np.zeros(0, np.int16), 24000)    # its full decoders search as a room's
    hurry = search == "hurried"
    hear_live(turns, router, np.zeros(0, np.int16), "warm", "", hurry=hurry)   # builds its decoder
    # session "": every turn starts from the speech prior, as a session's first turn does
    start = time.process_time()
    words = [hear_live(turns, router, clip, f"turn{i}", "", hurry=hurry) or "-" for i, clip in enumerate(clips)]
    return (time.process_time() - start) / (sum(clip.size for clip in clips) / 24000), words


def bench_vocabulary(voices: tuple[str, ...], rounds: int = 2) -> None:
    """The decoders searching `stt.SEARCH_WORDS` words against the wheel's whole dictionary, for each live search
    (full, a room's, hurried): CPU per second of audio and WER over the everyday and the wider phrases, alternating in
    rounds (this machine's speed drifts); then a decoder's build, CPU and memory."""
    import jiwer
    from pocketsphinx import Decoder

    searched = live_stt.new_decoder
    clips = [(text, synthesize(text, voice, 24000)) for text in PHRASES + WIDER_PHRASES for voice in voices]
    spent: dict[tuple[str, str], list[float]] = {}
    heard: dict[tuple[str, str], list[str]] = {}
    for _ in range(rounds):
        for search in ("full", "room", "hurried"):
            for words, make in (("whole", Decoder), ("searched", searched)):
                live_stt.new_decoder = make    # the whole dictionary: pocketsphinx's own Decoder, as before
                try:
                    cpu, heard[search, words] = _hear_each(search, [clip for _, clip in clips])
                    spent.setdefault((search, words), []).append(cpu)
                finally:
                    live_stt.new_decoder = searched
    everyday = len(PHRASES) * len(voices)
    references = [text for text, _ in clips]
    for search, words in spent:
        said = heard[search, words]
        print(f"live stt {search:7s} search, {words:8s} words: {np.median(spent[search, words]):.3f} CPU s per s of "
              f"audio (median of {rounds}), WER everyday {jiwer.wer(references[:everyday], said[:everyday]):.3f}, "
              f"wider {jiwer.wer(references[everyday:], said[everyday:]):.3f} ({len(voices)} voices)")
    for search in ("full", "room", "hurried"):
        print(f"live stt {search} search, searched / whole CPU: "
              f"{np.median(spent[search, 'searched']) / np.median(spent[search, 'whole']):.2f}")
    for words, options in (("whole", {}), ("searched", {"dict": stt.search_dictionary()})):
        built, grown = _build_alone({**live_stt.ROOM_OPTIONS, **options})
        print(f"decoder build, {words:8s} words: {built:.2f} CPU s, {grown:.0f} MB")


def _build_alone(options: dict[str, Any]) -> tuple[float, float]:
    """CPU seconds and resident MB one decoder's build takes, in a fresh process (here, a freed decoder's memory would
    be reused by the next one). Linux /proc, as bench_server.py reads CPU."""
    import json
    import subprocess

    code = ("import json, os, pathlib, sys, time\n"
            "from pocketsphinx import Decoder\n"
            "def rss(): return int(pathlib.Path('/proc/self/statm').read_text().split()[1])"
            " * os.sysconf('SC_PAGE_SIZE')\n"
            "before, start = rss(), time.process_time()\n"
            "decoder = Decoder(loglevel='FATAL', **json.loads(sys.argv[1]))\n"
            "print(json.dumps([time.process_time() - start, (rss() - before) / 1e6]))\n")
    printed = subprocess.run([sys.executable, "-c", code, json.dumps(options)], capture_output=True, text=True,
                             check=True).stdout
    built, grown = json.loads(printed)
    return float(built), float(grown)


SEARCH_VOICES = ("alloy", "echo", "shimmer", "cedar", "coral")

if __name__ == "__main__":
    if "--noise-estimate" in sys.argv:
        bench_noise_estimate(GA_VOICES if "--all-voices" in sys.argv else SEARCH_VOICES)
        raise SystemExit
    if "--vocabulary" in sys.argv:
        bench_vocabulary(GA_VOICES if "--all-voices" in sys.argv else SEARCH_VOICES)
        raise SystemExit
    if "--hurried" in sys.argv or "--room" in sys.argv:
        bench_search(GA_VOICES if "--all-voices" in sys.argv else SEARCH_VOICES,
                     "hurried" if "--hurried" in sys.argv else "room")
        raise SystemExit
    bench_synthesis()
    bench_vad()
    bench_stt(GA_VOICES if "--all-voices" in sys.argv else ("alloy",))
    bench_stt(("alloy",), rate=8000)
    if "--live" in sys.argv:
        bench_live_stt(GA_VOICES)
        bench_search(SEARCH_VOICES, "hurried")
        bench_search(SEARCH_VOICES, "room")
