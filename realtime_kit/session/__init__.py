"""Sessions: connect, the Session and its pump, tool loop and audio input, the one conversation fold,
the event log, targets and blocking use (see core.py)."""

from .core import *  # noqa: F403
from .core import LOCAL_NOTICE as LOCAL_NOTICE
from .core import __all__ as __all__
