"""Audio as numpy: rk.Audio and its formats, codecs, WAV, resampling (core.py), G.711 (g711.py),
plots (plots.py)."""

from .core import *  # noqa: F403
from .core import __all__ as __all__
