"""Errors a notebook reader can act on: short tracebacks for rk errors, await hints, did-you-mean in rk.connect."""

from __future__ import annotations

import asyncio

import pytest

import realtime_kit as rk
from realtime_kit import errors, friendly
from realtime_kit.session.targets import resolve_target

pytestmark = pytest.mark.pure


def _raised(call):
    try:
        call()
    except BaseException as err:
        return err
    raise AssertionError("nothing was raised")


def test_short_traceback_puts_the_sentence_first_and_hides_library_frames():
    """An rk error renders as its sentence, then only frames of the caller's code, no realtime_kit frames."""
    err = _raised(lambda: resolve_target("local", env={}, voise="coral"))
    lines = friendly.short_traceback(err, color=False)
    assert lines[0] == "TargetError: Unknown option voise=; did you mean voice= (a session keyword)?"
    assert any("test_friendly.py" in line and "resolve_target" in line for line in lines[1:])
    assert not any("realtime_kit" in line and ".py" in line for line in lines)
    assert err._render_traceback_()[0].endswith(lines[0].split(": ", 1)[1])


def test_full_tracebacks_come_back_when_asked(monkeypatch):
    """rk.errors.SHORT_TRACEBACKS = False renders IPython's full traceback, library frames included."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        monkeypatch.setattr(errors, "SHORT_TRACEBACKS", False)
        err = _raised(lambda: resolve_target("local", env={}, voise="coral"))
        assert any("targets.py" in line for line in err._render_traceback_())
    finally:
        InteractiveShell.clear_instance()
        del shell


def test_a_coroutine_used_like_a_response_gets_the_await_hint():
    """AttributeError on an unawaited send_text names the variable and the awaited call."""

    class Session:
        async def send_text(self, text: str) -> None:
            return None

    reply = Session().send_text("hi")
    err = _raised(lambda: reply.transcript)  # type: ignore[attr-defined]
    hint = friendly.await_hint(err, {"reply": reply})
    reply.close()
    assert hint == ("`reply` is an unawaited call of send_text(): did you forget `await`? "
                    "Write `reply = await session.send_text(...)`.")
    assert friendly.await_hint(AttributeError("'str' object has no attribute 'x'"), {}) is None


def test_connect_without_await_says_so():
    """Using rk.connect()'s result as a session raises AttributeError with the await fix; its repr says it too."""
    pending = rk.connect()
    err = _raised(lambda: pending.send_text)
    assert isinstance(err, AttributeError) and "did you forget `await`?" in str(err)
    assert "await rk.connect" in repr(pending)
    assert isinstance(_raised(lambda: pending.no_such_thing), AttributeError)


def test_connect_suggests_session_keywords():
    """rk.connect(voise=...) is refused before connecting, suggesting voice= among the session keywords."""
    with pytest.raises(rk.TargetError, match=r"did you mean voice= \(a session keyword\)"):
        asyncio.run(_open(rk.connect("local", voise="coral")))
    with pytest.raises(rk.TargetError, match=r"did you mean api_key= \(a connection option\)"):
        asyncio.run(_open(rk.connect("local", api_kye="k")))


async def _open(pending):
    return await pending


def test_install_hints_in_an_ipython_shell_once(capsys):
    """In IPython, an unawaited coroutine's AttributeError prints the usual traceback plus the hint."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert friendly.install(shell) is True
        assert friendly.install(shell) is False  # an existing handler is left alone
        shell.run_cell("async def send_text():\n    pass\nreply = send_text()\nreply.transcript")
        out = capsys.readouterr().out
        assert "AttributeError" in out and "did you forget `await`?" in out and "`reply`" in out
        shell.user_ns["reply"].close()
        shell.run_cell("import realtime_kit as rk\npending = rk.connect()\npending.send_text('hi')")
        out = capsys.readouterr().out
        assert out.splitlines()[0].endswith("did you forget `await`? Write `session = await rk.connect(...)`, "
                                            "then session.send_text.")
        assert "session.py" not in out
    finally:
        shell.set_custom_exc((), None)
        InteractiveShell.clear_instance()
