"""Running a widget callback's session calls where the session lives.

    runner = SessionTasks(loop_of(session), on_failure=lambda what, err: print(what, err))
    button.on_click(lambda _b: runner.on_loop(panel.send))     # a callback from any thread
    runner.spawn(session.send_text("hi"), "Send")              # a task; a failure goes to on_failure

ipykernel 7 delivers widget events on its shell-channel thread, not on the loop where the cells (and
the session's event pump) run. A future of the session resolved from the pump would then wake a
task of that other loop only at its next message. So every callback's action is handed to the
session's loop (call_soon_threadsafe), and session calls run there as tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ..errors import RealtimeError


def loop_of(session: Any) -> asyncio.AbstractEventLoop | None:
    """The loop the session's event pump runs on (else the running loop, else None)."""
    loop = getattr(session, "loop", None)
    if isinstance(loop, asyncio.AbstractEventLoop):
        return loop
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def what_went_wrong(err: BaseException) -> str:
    """The sentence of an error (for a server error, its message: the same one the event carried)."""
    return err.message if isinstance(err, RealtimeError) else str(err)


class SessionTasks:
    """Hands actions to the session's loop and keeps the tasks it starts there."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None, on_failure: Callable[[str, BaseException], None]
                 ) -> None:
        self.loop = loop
        self.tasks: set[asyncio.Future[Any]] = set()
        self._on_failure = on_failure

    def on_loop(self, action: Callable[..., Any], *args: Any) -> None:
        """Run `action(*args)` on the session's loop: now if this is that loop, else as soon as it can."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self.loop is None or running is self.loop or self.loop.is_closed():
            action(*args)
        else:
            self.loop.call_soon_threadsafe(action, *args)

    def spawn(self, coro: Coroutine[Any, Any, Any] | Awaitable[Any], what: str) -> asyncio.Future[Any] | None:
        """Run a session call as a task on the running loop; with none, to completion (rk.run)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            from ..session.sync import run

            try:
                run(coro)
            except Exception as err:
                self._on_failure(what, err)
            return None
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(lambda done: self._done(done, what))
        return task

    def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()

    def _done(self, task: asyncio.Future[Any], what: str) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._on_failure(what, task.exception())  # type: ignore[arg-type]
