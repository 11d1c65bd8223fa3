"""Session config: build and check it against the SDK's GA types, with did-you-mean (see build.py)."""

from .build import *  # noqa: F403
from .build import __all__ as __all__
