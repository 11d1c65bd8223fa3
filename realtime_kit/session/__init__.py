"""Sessions: connect, the Session composed of a pump, a turn controller, a tool runner, audio and
transcription input and a reconnect strategy; the one conversation fold, the event log, targets and
blocking use (see core.py)."""

from .core import *  # noqa: F403
from .core import LOCAL_NOTICE as LOCAL_NOTICE
from .core import __all__ as __all__
