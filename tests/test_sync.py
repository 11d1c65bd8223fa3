"""rk.run and session.sync: realtime_kit's awaitables from code that cannot await."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import pytest

from realtime_kit.session.sync import SyncFacade, background_loop, blocking, run

pytestmark = pytest.mark.wire

REPO = Path(__file__).resolve().parents[1]


def run_script(source: str, timeout: float = 120) -> str:
    """Run a Python script in a fresh interpreter (no AZURE/OPENAI variables); return its stdout."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": tempfile.gettempdir()}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(source)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_run_without_a_loop_uses_one_persistent_background_loop() -> None:
    """Two rk.run calls from plain code run on the same background loop, in another thread."""
    async def where() -> tuple[asyncio.AbstractEventLoop, str]:
        return asyncio.get_running_loop(), threading.current_thread().name

    first, second = run(where()), run(where())
    assert first[0] is second[0] is background_loop()
    assert first[1] == "realtime-kit-loop" != threading.current_thread().name


def test_objects_made_by_one_run_keep_working_in_the_next() -> None:
    """A task started in one rk.run call is still running and can be awaited in the next."""
    async def start() -> asyncio.Task[int]:
        async def later() -> int:
            await asyncio.sleep(0.01)
            return 42
        return asyncio.get_running_loop().create_task(later())

    task = run(start())
    assert run(task) == 42


def test_run_propagates_exceptions() -> None:
    """An exception inside the awaitable is raised by rk.run."""
    async def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        run(fail())


def test_run_refuses_non_awaitables_with_a_hint() -> None:
    """rk.run(non-awaitable) says what it needs."""
    with pytest.raises(TypeError, match="needs an awaitable"):
        run(42)  # type: ignore[arg-type]


def test_sync_facade_blocks_on_coroutine_methods_and_passes_the_rest() -> None:
    """SyncFacade runs coroutine methods to completion and returns plain attributes as they are."""
    class Thing:
        size = 3

        async def double(self, x: int) -> int:
            return 2 * x

        def name(self) -> str:
            return "thing"

    facade = SyncFacade(Thing())
    assert facade.double(4) == 8 and facade.name() == "thing" and facade.size == 3
    assert "double" in dir(facade)


def test_blocking_decorator_makes_a_blocking_twin() -> None:
    """blocking(coroutine_function) returns a function that runs it with rk.run."""
    async def add(a: int, b: int) -> int:
        return a + b

    assert blocking(add)(2, 3) == 5


def test_run_inside_a_running_loop_uses_nest_asyncio() -> None:
    """From sync code called inside a running loop (a widget callback), rk.run finishes on that loop."""
    out = run_script("""
        import asyncio
        from realtime_kit.session.sync import run

        async def inner():
            await asyncio.sleep(0.01)
            return asyncio.get_running_loop()

        async def main():
            loop = asyncio.get_running_loop()
            def callback():                 # plain function, like ipywidgets' on_click handler
                return run(inner())
            print(callback() is loop)

        asyncio.run(main())
    """)
    assert out.strip() == "True"


def test_plain_script_talks_to_the_local_server_with_rk_run() -> None:
    """A script with no event loop connects, asks, and reads the answer via rk.run and session.sync."""
    out = run_script("""
        import realtime_kit as rk
        session = rk.run(rk.connect("local"))
        reply = rk.run(session.send_text("repeat after me: blocking calls work"))
        print(reply.transcript)
        again = session.sync.send_text("what is 2 plus 3")
        print(again.transcript, again.audio.duration > 0)
        session.sync.close()
    """)
    lines = out.strip().splitlines()
    assert "blocking calls work" in lines[-2].lower()
    assert lines[-1].startswith("2 plus 3 is 5") and lines[-1].endswith("True")


def test_widget_style_callback_inside_a_running_loop_talks_to_the_server() -> None:
    """Inside a running loop, a sync callback uses rk.run on a session made with await."""
    out = run_script("""
        import asyncio
        import realtime_kit as rk

        async def main():
            session = await rk.connect("local")
            def on_click():
                return rk.run(session.send_text("repeat after me: from a callback"))
            reply = on_click()
            print(reply.transcript)
            follow = await session.send_text("what is 6 times 7")   # the session still works awaited
            print(follow.transcript)
            await session.close()

        asyncio.run(main())
    """)
    lines = out.strip().splitlines()
    assert "from a callback" in lines[-2].lower() and "42" in lines[-1]


def test_in_a_real_ipykernel_await_and_rk_run_both_work() -> None:
    """In an ipykernel, a cell awaits rk.connect, a sync callback uses rk.run, and await still works after."""
    from jupyter_client.manager import start_new_kernel

    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": tempfile.gettempdir()}
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(REPO))

    def cell(code: str) -> str:
        messages: list[dict] = []
        reply = client.execute_interactive(code, timeout=120, output_hook=messages.append)
        errors = [m["content"] for m in messages if m["msg_type"] == "error"]
        assert reply["content"]["status"] == "ok", errors
        return "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")

    try:
        cell("import realtime_kit as rk\nsession = await rk.connect('local')")
        heard = cell("def on_click():\n    return rk.run(session.send_text('repeat after me: inside a kernel'))\n"
                     "print(on_click().transcript)")
        after = cell("reply = await session.send_text('what is 2 plus 2')\nprint(reply.transcript)\n"
                     "await session.close()")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert "inside a kernel" in heard.lower() and "4" in after
