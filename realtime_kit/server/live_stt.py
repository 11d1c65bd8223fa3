"""Live transcription: each turn fed to a streaming pocketsphinx decoder while the user speaks.

pocketsphinx decodes as audio arrives, so at the end of a turn only the last frames and the
second (fwdflat) pass remain: the words are ready a fraction of a second after speech stops,
instead of a whole decode later. Runs inside a worker process (`workers.py`): one object per process.
Every decoder searches the language model's `stt.SEARCH_WORDS` most likely words, not the whole dictionary: 0.76x the
CPU of a turn and half the build, for no more words wrong (`stt.search_dictionary`).

    turns = LiveTurns(max_decoders=2)
    turns.handle("start", "item_1", empty, 24000, normalisation)   # where this speaker's last turn left the CMN
    turns.handle("feed", "item_1", chunk, 24000)          # as often as audio comes
    turns.handle("end", "item_1", last_chunk, 24000)      # -> ("hello my name is", the CMN this turn left)
    turns.handle("start", "item_2", empty, 24000, normalisation, hurry=True)   # the process is behind: cheaper search

A turn starts from the feature normalisation (CMN) it is given: the caller keeps each session's, so a session's
later turns adapt to its speaker and no other session's speech moves them; a first turn ("") starts from one CMN
measured on speech. The process keeps nothing of a session between turns, so any process can hear any turn.

A turn started with ``hurry`` (its process has fallen behind the audio: more turns than the machine can decode at
full search) is decoded with a narrower search, about 0.6x the CPU for a few more words wrong, so the backlog drains
instead of growing without bound while a room keeps talking. A full turn beside others takes a free hurried decoder
rather than stall them all while a full one is built (`prepare` builds it at the process's next idle moment).

A room (many microphones on the server at once, told by ``handle("room", ...)``) gets its decoders before it talks:
`prepare` builds `ROOM_DECODERS` of each search while the process is idle, since a build inside a turn's start
stalls every turn in the process. Full decoders built in a room search a little narrower (`ROOM_OPTIONS`: about
0.7x the CPU for about 0.02 more WER), since a room's speech is more than two cores decode at the full search. When
the room has left (``"room-left"``) and its last turn is over, the extra decoders go (a full-search one stays if there
is one) and their memory goes back to the system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .limits import release_free_memory
from .stt import DECODER_RATE, PADDING_S, SILENCE_RMS, new_decoder, start_utterance, transcribe, words_of
from .vad import SPEECH_PEAK, StreamingResampler

__all__ = ["BUSY_TURNS", "ROOM_DECODERS", "LiveTurns"]


@dataclass(eq=False)
class _Turn:
    """One turn being heard: its decoder (None while all are busy: it takes the next one freed) and level."""

    decoder: Any
    resampler: StreamingResampler
    rate: int
    normalisation: str
    hurried: bool = False                                   # decoded with HURRIED_OPTIONS
    held: list[np.ndarray] = field(default_factory=list)    # the audio, kept only while there is no decoder
    energy: float = 0.0
    samples: int = 0
    quiet_tail: int = 0     # samples since the last one above the end-of-speech level: silence already heard


class LiveTurns:
    """The turns one process is hearing, each on its own streaming decoder (at most ``max_decoders``)."""

    def __init__(self, max_decoders: int) -> None:
        self._max = max_decoders
        self._idle: dict[bool, list[Any]] = {False: [], True: []}     # by hurried: decoders free
        self._built = {False: 0, True: 0}
        self._room_built: set[int] = set()   # ids of the full decoders built with the room's search
        self._prior = ""   # the CMN a session's first turn starts from, measured with the first decoder
        self._turns: dict[str, _Turn] = {}
        self._room = False        # many microphones are on: build the room's decoders ahead
        self._room_left = False   # a room has left: drop its extra decoders once its turns are over

    def handle(self, step: str, key: str, samples: np.ndarray, rate: int,
               normalisation: str = "", hurry: bool = False) -> tuple[str, str] | tuple[int, int] | str | None:
        """One step of a turn; "end" gives (the words, the CMN to start its speaker's next turn from).

        ``hurry`` (read at "start"): decode this turn with the narrower, cheaper search. Steps of the process, not of a
        turn: "transcribe" (a whole clip: its words), "warm", "room", "room-left", "decoders" (-> (full, hurried)).
        """
        if step == "transcribe":
            return transcribe(samples, rate)
        if step == "warm":      # build a decoder now (1-2 s, the first), so the first turn does not wait for it
            if not self._idle[False] and self._built[False] < self._max:
                self._idle[False].append(self._build(hurried=False))
            return None
        if step in ("room", "room-left"):
            self._room, self._room_left = step == "room", step == "room-left"
            return None
        if step == "decoders":   # how many of each search this process holds: (full, hurried)
            return self._built[False], self._built[True]
        if step == "start":
            started = _Turn(None, StreamingResampler(rate, DECODER_RATE), rate, normalisation, hurry)
            self._turns[key] = started
            self._feed(started, np.zeros(int(PADDING_S * rate), np.int16))  # the decoder misses words cut tight
        turn = self._turns.get(key)
        if turn is None:
            return ("", normalisation) if step == "end" else None
        if turn.decoder is None:
            self._begin(turn)   # a decoder free (now, or freed since): it catches up on the audio held so far
        self._feed(turn, samples)
        return self._end(key) if step == "end" else None

    def prepare(self) -> bool:
        """Build one decoder a coming turn would otherwise wait for; True if one was built (call while idle).

        A turn that finds no decoder free waits for one to be built (about 0.2 s of CPU, several times that in wall time
        on a full machine), and so does every turn in the process. In a room, `ROOM_DECODERS` of each search are built
        ahead and nothing more while its turns are heard; outside a room, while at least `BUSY_TURNS` turns are being
        heard, one full and one hurried decoder are kept free; each kind up to ``max_decoders``. A lone speaker's
        process builds nothing more. Once a room has left and no turn is in hand, the decoders beyond one full one are
        dropped (their memory goes back).
        """
        # a room's decoders were built before it talked: a build beside its turns stalls them all (0.2 s of CPU, more
        # in wall time in a full room), and a turn finding none free borrows the other search or builds its own
        busy = len(self._turns) >= BUSY_TURNS and not self._room
        for hurried in (False, True):
            wanted = (self._room and self._built[hurried] < ROOM_DECODERS) or (busy and not self._idle[hurried])
            if wanted and self._built[hurried] < self._max:
                self._idle[hurried].append(self._build(hurried))
                return True
        if self._room_left and not self._turns:
            self._let_room_decoders_go()
        return False

    def _let_room_decoders_go(self) -> None:
        self._room_left = False
        # one full decoder stays for the next lone speaker: a full-search one if there is one (a build costs a turn)
        self._idle[False].sort(key=lambda decoder: id(decoder) in self._room_built)
        dropped = 0
        for hurried, kept in ((False, 1), (True, 0)):
            extra = max(0, len(self._idle[hurried]) - kept)
            del self._idle[hurried][kept:]
            self._built[hurried] -= extra
            dropped += extra
        self._room_built &= {id(decoder) for decoder in self._idle[False]}
        if dropped:
            release_free_memory(collect=False)   # pocketsphinx frees into the heap: ~57 MB each back to the system

    def _begin(self, turn: _Turn) -> None:
        # beside other turns, a full turn takes a free hurried decoder rather than stall them with a build; a hurried
        # turn builds its own (its process is behind and stays so for turns to come: lent full decoders kept it there)
        found = self._decoder(turn.hurried, lend=not turn.hurried and len(self._turns) > 1)
        if found is None:
            return
        turn.hurried, decoder = found
        # pocketsphinx carries CMN and its noise estimate from one utterance to the next, whoever spoke it: each turn
        # starts as on a new decoder, from its own session's CMN
        start_utterance(decoder, turn.normalisation or self._prior)
        turn.decoder, held, turn.held = decoder, turn.held, []
        for samples in held:
            self._decode(turn, samples)

    def _feed(self, turn: _Turn, samples: np.ndarray) -> None:
        if not samples.size:
            return
        turn.energy += float(np.sum(samples.astype(np.float64) ** 2))
        turn.samples += samples.size
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > _LOUD)
        turn.quiet_tail = samples.size - 1 - int(loud[-1]) if loud.size else turn.quiet_tail + samples.size
        if turn.decoder is None:
            turn.held.append(samples)
        else:
            self._decode(turn, samples)

    @staticmethod
    def _decode(turn: _Turn, samples: np.ndarray) -> None:
        pcm = np.clip(turn.resampler.process(samples.astype(np.float64)), -32768, 32767).astype(np.int16)
        if pcm.size:
            turn.decoder.process_raw(pcm.tobytes(), full_utt=False)

    def _end(self, key: str) -> tuple[str, str]:
        turn = self._turns.pop(key)
        if turn.decoder is None:   # no decoder freed during the whole turn: decoded whole now
            return (transcribe(np.concatenate(turn.held), turn.rate) if turn.held else ""), turn.normalisation
        # the decoder needs PADDING_S of quiet after the last word; a server VAD turn brings its own silence
        missing_s = PADDING_S - turn.quiet_tail / turn.rate
        if missing_s > 0:
            turn.decoder.process_raw(np.zeros(int(missing_s * DECODER_RATE), np.int16).tobytes(), full_utt=False)
        turn.decoder.end_utt()
        left = turn.decoder.get_cmn(False)
        hypothesis = turn.decoder.hyp()
        self._idle[turn.hurried].append(turn.decoder)
        loud = turn.samples and (turn.energy / turn.samples) ** 0.5 >= SILENCE_RMS
        return (words_of(hypothesis.hypstr) if hypothesis is not None and loud else ""), left

    def _decoder(self, hurried: bool, lend: bool) -> tuple[bool, Any] | None:
        """A free decoder and whether it searches hurried: of the search asked for; else, with ``lend``, a free one of
        the other search; else one built now (if fewer than ``max_decoders`` exist).

        A build stalls every turn in the process: about 0.2 s of CPU, several times that in wall time in a full room.
        """
        if self._idle[hurried]:
            return hurried, self._idle[hurried].pop()
        if lend and self._idle[not hurried]:
            return not hurried, self._idle[not hurried].pop()
        return (hurried, self._build(hurried)) if self._built[hurried] < self._max else None

    def _build(self, hurried: bool) -> Any:
        self._built[hurried] += 1
        room = self._room and not hurried
        decoder = _new_decoder(hurried, room=room)
        if room:
            self._room_built.add(id(decoder))
        self._prior = self._prior or _speech_prior(decoder)
        return decoder


# No second (fwdflat) pass: it runs over the whole turn at its end, the wait this module exists to remove
# (0.37 s CPU for a 4 s turn without it 0.24 s; accuracy on the bench phrases was the same or better).
# At most 5000 HMMs active and 10 words ending per frame (pocketsphinx: 30000, no limit): 0.7x the CPU, and the last
# pass over the turn's word lattice at its end (bestpath) 14 ms instead of 52, for 0.003-0.02 more WER (README.md)
LIVE_OPTIONS = {"cmn": "batch", "fwdflat": False, "maxhmmpf": 5000, "maxwpf": 10}
# At most 1500 HMMs active and 5 words ending per frame: about 0.6x the CPU of the full live search for a few more
# words wrong (`python3 bench/bench_engines.py --hurried`; the figures are in README.md)
HURRIED_OPTIONS = {**LIVE_OPTIONS, "maxhmmpf": 1500, "maxwpf": 5}
# A room's full search: at most 2500 HMMs active, 0.69x the CPU of the full live search for 0.017 more WER over 10
# voices (`python3 bench/bench_engines.py --room --all-voices`; the figures are in README.md)
ROOM_OPTIONS = {**LIVE_OPTIONS, "maxhmmpf": 2500}
# turns heard at once from which a process keeps a free decoder of each search ready (`LiveTurns.prepare`)
BUSY_TURNS = 2
# decoders of each search a process builds ahead for a room (~57 MB each): 30 speakers, `bench_voice.py` alternating
# with building them as turns came (2026-11-30): first audio p95 955, 732, 1172 ms against 2518, 1530, 1465 ms
ROOM_DECODERS = 2
_LOUD = SPEECH_PEAK * 32768   # int16: where the VAD says speech ends, trailing quiet begins


def _new_decoder(hurried: bool = False, room: bool = False) -> Any:
    return new_decoder(**(HURRIED_OPTIONS if hurried else ROOM_OPTIONS if room else LIVE_OPTIONS))


# Sentences in four voices: the CMN they leave is where a session's first turn starts (`python3
# bench/bench_engines.py --live`, 10 voices' turns interleaved: 51% of words heard vs 45% with CMN carried over)
_PRIMERS = (
    ("Hello, how are you today?", "alloy"),
    ("Good morning, I would like to ask a question.", "echo"),
    ("Thank you very much, that is all for now.", "shimmer"),
    ("Could you please repeat that more slowly?", "cedar"),
)


def _speech_prior(decoder: Any) -> str:
    """The CMN of a few spoken sentences, for every turn to start from (about a second, once per process): the
    model's default garbles the first words of a streamed turn ("one two" came back "well you do")."""
    from .voice import synthesize

    prior = ""
    for text, voice in _PRIMERS:
        decoder.start_utt()
        decoder.process_raw(np.asarray(synthesize(text, voice=voice, rate=DECODER_RATE), np.int16).tobytes(),
                            full_utt=False)
        prior = decoder.get_cmn(True)  # the mean updated with this sentence (without update: the model's default)
        decoder.end_utt()
    return prior
