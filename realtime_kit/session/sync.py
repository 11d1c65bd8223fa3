"""Run realtime_kit's awaitables from code that cannot `await`: a plain script or a widget callback.

    import realtime_kit as rk
    session = rk.run(rk.connect("local"))          # a script: no event loop of its own
    reply = rk.run(session.send_text("Hello"))
    button.on_click(lambda _: rk.run(session.send_text("Hi")))   # a callback in a running kernel

Two cases, chosen by whether this thread is already running an event loop:

* no running loop (a script, a REPL): the awaitable runs on one persistent background loop in a
  daemon thread, so sessions made by one `run` call keep working (and keep their WebSocket alive)
  between calls. Callbacks (`session.on`) and tools then run in that thread.
* a running loop (a Jupyter cell, an ipywidgets callback): `nest_asyncio` lets the loop be
  re-entered, so `run` drives the awaitable to completion on the kernel's own loop, where the
  sessions made with `await rk.connect()` live. In a cell, plain `await` is still the better choice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

_background: asyncio.AbstractEventLoop | None = None
_background_lock = threading.Lock()


def run(awaitable: Awaitable[T]) -> T:
    """Run `awaitable` to completion and return its result, with or without a running loop."""
    if not inspect_awaitable(awaitable):
        raise TypeError(f"rk.run needs an awaitable (like session.send_text('hi')), got {type(awaitable).__name__}.")
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _run_in_background(awaitable)
    return _run_nested(loop, awaitable)


def background_loop() -> asyncio.AbstractEventLoop:
    """The persistent loop `run` uses when the caller has none (started on first use)."""
    global _background
    with _background_lock:
        if _background is None or _background.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=serve, name="realtime-kit-loop", daemon=True).start()
            ready.wait()
            _background = loop
        return _background


class SyncFacade:
    """Blocking versions of an object's coroutine methods: `session.sync.send_text("hi")`."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def blocking(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            return run(result) if inspect_awaitable(result) else result

        blocking.__name__ = name
        blocking.__doc__ = getattr(attribute, "__doc__", None)
        return blocking

    def __dir__(self) -> list[str]:
        return [name for name in dir(self._target) if not name.startswith("_")]

    def __repr__(self) -> str:
        return f"<blocking facade of {self._target!r}>"


def inspect_awaitable(value: Any) -> bool:
    """True for coroutines, futures, tasks and objects with __await__."""
    import inspect

    return inspect.isawaitable(value)


def _run_in_background(awaitable: Awaitable[T]) -> T:
    loop = background_loop()
    future = asyncio.run_coroutine_threadsafe(_as_coroutine(awaitable), loop)
    try:
        return future.result()
    except (KeyboardInterrupt, concurrent.futures.CancelledError):
        future.cancel()
        raise


def _run_nested(loop: asyncio.AbstractEventLoop, awaitable: Awaitable[T]) -> T:
    import nest_asyncio

    # idempotent: nest_asyncio marks the loop it patched
    if not getattr(loop, "_nest_patched", False):
        nest_asyncio.apply(loop)
    return loop.run_until_complete(_as_coroutine(awaitable))


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def blocking(fn: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Decorator: a blocking twin of a coroutine function (`rk.run` around each call)."""

    def wrapper(*args: Any, **kwargs: Any) -> T:
        return run(fn(*args, **kwargs))

    wrapper.__name__ = getattr(fn, "__name__", "blocking")
    wrapper.__doc__ = fn.__doc__
    return wrapper
