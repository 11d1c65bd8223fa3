"""Errors a notebook reader can act on: realtime-kit's own errors as their sentence, not 60 lines of library.

In IPython, an `rk` error shows its sentence first and only the frames of your own code (realtime-kit's,
asyncio's and installed libraries' frames are hidden); `rk.errors.SHORT_TRACEBACKS = False` brings the
full traceback back. A forgotten `await` gets a hint::

    reply = session.send_text("hi")     # no await: reply is a coroutine
    reply.transcript                    # AttributeError, then: `reply` is an unawaited call of send_text():
                                        # did you forget `await`? Write `reply = await session.send_text(...)`.

The pure functions here format; `install(shell)` (called when realtime_kit is imported inside IPython)
registers the hint for AttributeError and TypeError, unless the notebook already has its own handler.
"""

from __future__ import annotations

import inspect
import os
import sys
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_LIBRARY_MARKERS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep,
                    os.path.dirname(os.__file__) + os.sep)
_RED, _GREEN, _DIM, _RESET = "\x1b[0;31m", "\x1b[0;32m", "\x1b[2m", "\x1b[0m"


def _is_yours(filename: str) -> bool:
    """A frame of the reader's code: not realtime-kit's, not the standard library's, not an installed package's."""
    path = os.path.abspath(filename)
    if path.startswith(_PACKAGE + os.sep):
        return False
    return not any(marker in path for marker in _LIBRARY_MARKERS)


def _cell_name(filename: str) -> str:
    """'Cell In[3]' for a notebook cell's file (as IPython shows it), else the file name."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    number = getattr(getattr(shell, "compile", None), "_filename_map", {}).get(filename)
    return f"Cell In[{number}]" if number is not None else filename


def your_frames(tb: TracebackType | None) -> list[traceback.FrameSummary]:
    """The frames of `tb` that are the reader's own code, outermost first."""
    return [frame for frame in traceback.extract_tb(tb) if _is_yours(frame.filename)]


def short_traceback(error: BaseException, *, color: bool = True) -> list[str]:
    """The error's sentence, where in your code it happened, and what caused it, as IPython traceback lines."""
    red, green, dim, reset = (_RED, _GREEN, _DIM, _RESET) if color else ("", "", "", "")
    lines = [f"{red}{type(error).__name__}{reset}: {error}"]
    for frame in your_frames(error.__traceback__):
        lines.append(f"  {green}{_cell_name(frame.filename)}, line {frame.lineno}{reset}: {(frame.line or '').strip()}")
    cause = error.__cause__
    if cause is not None and not isinstance(cause, type(error)):
        lines.append(f"  caused by {type(cause).__name__}: {cause}")
    lines.append(f"{dim}(realtime-kit's own frames are hidden; rk.errors.SHORT_TRACEBACKS = False shows them){reset}")
    return lines


def await_hint(error: BaseException, namespace: Mapping[str, Any] | None = None) -> str | None:
    """The "did you forget `await`?" hint when `error` comes from using a coroutine or rk.connect() unawaited.

    `namespace` (the notebook's variables) names the variable holding the coroutine and the call that made it.
    """
    text = str(error)
    if "'Connecting' object" in text:
        return "rk.connect() gives something to await: did you forget `await`? Write `session = await rk.connect()`."
    if not isinstance(error, AttributeError | TypeError) or "coroutine" not in text:
        return None
    pending = [(name, value) for name, value in (namespace or {}).items()
               if inspect.iscoroutine(value) and not name.startswith("_")]
    if not pending:
        return "did you forget `await`? A call like session.send_text(...) needs `await` in front of it."
    name, coroutine = pending[-1]
    method = coroutine.__qualname__.rsplit(".", 1)[-1]
    return (f"`{name}` is an unawaited call of {method}(): did you forget `await`? "
            f"Write `{name} = await session.{method}(...)`.")


def _hinting_handler(shell: Any, etype: type[BaseException], value: BaseException, tb: TracebackType | None,
                     tb_offset: int | None = None) -> list[str]:
    """IPython custom-exception handler: the usual traceback, plus the await hint when it applies."""
    if "did you forget `await`?" in str(value):  # our own sentence already (rk.connect() used unawaited)
        stb = short_traceback(value)
        shell._showtraceback(etype, value, stb)
        return stb
    stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    hint = await_hint(value, getattr(shell, "user_ns", None))
    if hint:
        stb = [*stb, f"{_GREEN}Hint{_RESET}: {hint}"]
    shell._showtraceback(etype, value, stb)
    return stb


def install(shell: Any) -> bool:
    """Register the await hint in an IPython shell, unless it already has custom exception handlers."""
    if shell is None or getattr(shell, "custom_exceptions", ()) not in ((), None):
        return False
    shell.set_custom_exc((AttributeError, TypeError), _hinting_handler)
    return True


def install_if_in_ipython() -> None:
    """Called on `import realtime_kit`: installs the hint when running inside IPython (never imports it)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return
    try:
        install(ipython.get_ipython())
    except Exception:  # a shell without set_custom_exc: no hint, nothing else changes
        return
