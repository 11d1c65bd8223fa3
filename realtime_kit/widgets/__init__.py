"""Notebook widgets: the audio playground, the browser's microphone and a streaming player.

    import realtime_kit as rk
    rk.Playground(session)        # controls, transcript, players, event log for one session
    mic = rk.Microphone()         # records in the browser; mic.audio is an rk.Audio
    player = rk.StreamingPlayer() # plays output audio deltas as they arrive

Audio crosses the widget channel as binary buffers; the kernel needs no sound card.
"""

from __future__ import annotations

from .microphone import Microphone
from .player import StreamingPlayer
from .playground import Playground

__all__ = ["Microphone", "Playground", "StreamingPlayer"]
