"""Real-browser fixtures: JupyterLab on loopback (no token, temp dir), Debian's headless Chromium driven by
Playwright with a fake microphone that plays a WAV of synthesized speech, and a client on the notebook's
own kernel to read the panel's state.

Nothing here skips: a missing Chromium or Playwright fails the tests with the command that installs it
(tests/run_all.sh does both; Playwright never downloads a browser: `playwright install` is not used).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]
# Chromium's fake capture reads 16-bit PCM WAV and resamples it to the device rate itself (checked at
# 16, 24 and 48 kHz); 48 kHz mono is the fake device's native format.
WAV_RATE = 48000
SPOKEN = "Please, tell me a long story."  # with alloy, what pocketsphinx hears right at any offset
# The fake device loops the file: speech, then a pause long enough for the reply to start playing
# (silence_duration_ms 500 + synthesis), short enough that the next loop talks over the reply.
LEAD_SILENCE_S, TAIL_SILENCE_S = 0.5, 4.5


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WAV of synthesized speech for Chromium's fake microphone (16-bit PCM, mono, 48 kHz)."""
    from scipy.io import wavfile

    from realtime_kit.server.voice import synthesize

    speech = synthesize(SPOKEN, voice="alloy", rate=WAV_RATE)
    samples = np.concatenate([np.zeros(int(LEAD_SILENCE_S * WAV_RATE), np.int16), speech,
                              np.zeros(int(TAIL_SILENCE_S * WAV_RATE), np.int16)]).astype(np.int16)
    path = tmp_path_factory.mktemp("speech") / "question.wav"
    wavfile.write(path, WAV_RATE, samples)
    return path


@dataclass
class Lab:
    """A running JupyterLab: its base URL, notebook folder and runtime folder (kernel connection files)."""

    url: str
    root: Path
    runtime: Path
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(f"{self.url}{path}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 with no token, rooted in a temp dir, with this checkout on PYTHONPATH."""
    home = tmp_path_factory.mktemp("lab")
    root, runtime, settings = home / "notebooks", home / "runtime", home / "settings"
    for folder in (root, runtime, settings):
        folder.mkdir()
    # no news/update checks: nothing leaves loopback, and no toast covers the panel
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "MPLBACKEND": "Agg"}
    log = home / "lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--IdentityProvider.token=", "--ServerApp.password=",
             f"--ServerApp.root_dir={root}", "--ServerApp.disable_check_xsrf=True",
             "--ServerApp.allow_root=True", "--ServerApp.terminals_enabled=False",
             "--LabApp.extension_manager=readonly",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    server = Lab(f"http://127.0.0.1:{port}", root, runtime, process, log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: Lab, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"JupyterLab exited with code {server.process.returncode}:\n{server.output()}")
        try:
            server.api("/api/status")
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer on {server.url} within {timeout:.0f} s:\n{server.output()}")


@pytest.fixture(scope="module")
def browser(speech_wav: Path) -> Iterator[Any]:
    """Headless Debian Chromium (Playwright with executable_path) whose fake microphone plays speech_wav.

    Module-scoped: Playwright's sync API holds an event loop on this thread while it runs, which
    pytest-asyncio's tests in other modules must not meet.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: `pip install playwright` (the tests use Debian's Chromium; "
                    "do not run `playwright install`).")
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: `apt-get install -y chromium` (tests/run_all.sh does it).")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={speech_wav}"])
        yield chromium
        chromium.close()


PANEL_SOURCE = """\
import realtime_kit as rk

session = await rk.connect("local", pace="realtime")   # audio no faster than it plays, as a class hears it
panel = rk.Playground(session)
panel"""

STATE_SOURCE = """\
import json

def rk_state():
    \"\"\"What the browser tests check: the panel's view and the session's own event log.\"\"\"
    return {
        "errors": panel.errors,
        "truncations": panel.truncations,
        "truncated": [row.event for row in session.events.filter(type="conversation.item.truncated")],
        "lines": [[line.role, line.text, line.note] for line in session.conversation.messages],
        "played": dict(panel.player.played),
        "received_ms": {item: panel.player.received_ms(item) for item in panel.player.played},
        "appended": len(session.events.filter(type="input_audio_buffer.append", direction="out")),
        "speech_started": len(session.events.filter(type="input_audio_buffer.speech_started")),
        "types": session.events.types(),
        "config": session.config,
        "voice_control": panel.voice.value,
        "applied": panel.config_out.value,
    }

print(json.dumps(rk_state(), default=str))"""


MICROPHONE_SOURCE = """\
import realtime_kit as rk

mic = rk.Microphone()
mic"""

MICROPHONE_STATE_SOURCE = """\
import json

def rk_state():
    \"\"\"What the browser tests check: the recording as the kernel received it.\"\"\"
    audio = mic.audio
    from realtime_kit.server.stt import transcribe
    return {"error": mic.error, "recording": mic.recording, "rate": audio.rate, "duration": audio.duration,
            "dtype": str(audio.samples.dtype), "rms_dbfs": audio.rms_dbfs,
            "heard": transcribe(audio.samples, audio.rate) if audio.duration else ""}"""


@dataclass(frozen=True)
class NotebookSpec:
    """What a test's notebook holds, and the element that shows its widget has rendered."""

    cells: tuple[str, ...]
    ready: str
    init_script: str = ""  # JavaScript run in the page before JupyterLab loads (to simulate a browser)


PLAYGROUND = NotebookSpec((PANEL_SOURCE, STATE_SOURCE), ".rk-playground .rk-transcript")
MICROPHONE = NotebookSpec((MICROPHONE_SOURCE, MICROPHONE_STATE_SOURCE), ".rk-microphone .rk-mic-toggle")
# The user clicks "Block" on the permission prompt: getUserMedia rejects with NotAllowedError.
MICROPHONE_DENIED = NotebookSpec(MICROPHONE.cells, MICROPHONE.ready, init_script="""
navigator.mediaDevices.getUserMedia = async () => {
  throw new DOMException("Permission denied", "NotAllowedError");
};""")


@pytest.fixture
def notebook_spec() -> NotebookSpec:
    """The playground notebook; a test may parametrize `notebook_spec` to open another one."""
    return PLAYGROUND


def write_notebook(folder: Path, name: str, spec: NotebookSpec) -> Path:
    """The notebook the browser opens, generated into the lab's temp folder."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in spec.cells]
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


class KernelProbe:
    """A second client on the notebook's kernel: runs `rk_state()` there and returns the dict."""

    def __init__(self, connection_file: Path) -> None:
        from jupyter_client import BlockingKernelClient

        self.client = BlockingKernelClient(connection_file=str(connection_file))
        self.client.load_connection_file()
        self.client.start_channels()

    def run(self, code: str, timeout: float = 120) -> str:
        """Execute `code` on the notebook's kernel (as another cell would) and return what it printed."""
        chunks: list[str] = []

        def keep(message: dict[str, Any]) -> None:
            if message["msg_type"] == "stream":
                chunks.append(message["content"]["text"])
            elif message["msg_type"] == "error":
                chunks.append("\n".join(message["content"]["traceback"]))

        reply = self.client.execute_interactive(code, output_hook=keep, timeout=timeout)
        if reply["content"]["status"] != "ok":
            raise AssertionError("".join(chunks))
        return "".join(chunks)

    def state(self) -> dict[str, Any]:
        chunks: list[str] = []

        def keep(message: dict[str, Any]) -> None:
            if message["msg_type"] == "stream":
                chunks.append(message["content"]["text"])
            elif message["msg_type"] == "error":
                chunks.append("\n".join(message["content"]["traceback"]))

        self.client.execute_interactive("print(json.dumps(rk_state(), default=str))", output_hook=keep, timeout=30)
        text = "".join(chunks)
        try:
            return dict(json.loads(text))
        except json.JSONDecodeError:
            raise AssertionError(f"rk_state() did not print JSON:\n{text}") from None

    def close(self) -> None:
        self.client.stop_channels()


@dataclass
class NotebookPage:
    """An open notebook showing the playground, and a probe on its kernel."""

    page: Any
    probe: KernelProbe
    name: str

    @property
    def panel(self) -> Any:
        return self.page.locator(".rk-playground, .rk-microphone").first

    def screenshot_path(self, label: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        return ARTIFACTS / f"{self.name}-{label}.png"

    def screenshot(self, label: str) -> Path:
        path = self.screenshot_path(label)
        self.panel.screenshot(path=str(path))
        return path


@pytest.fixture
def notebook_page(lab: Lab, browser: Any, notebook_spec: NotebookSpec,
                  request: pytest.FixtureRequest) -> Iterator[NotebookPage]:
    """Open a fresh notebook in JupyterLab, Run All, and wait for its widget to render."""
    name = request.node.originalname.removeprefix("test_")
    write_notebook(lab.root, name, notebook_spec)
    context = browser.new_context(viewport={"width": 1400, "height": 2000},
                                  permissions=["microphone"])
    if notebook_spec.init_script:
        context.add_init_script(notebook_spec.init_script)
    page = context.new_page()
    page.set_default_timeout(30_000)
    probe: KernelProbe | None = None
    try:
        try:
            # a workspace of its own, reset: no tab from an earlier test comes back
            page.goto(f"{lab.url}/lab/workspaces/{name}/tree/{name}.ipynb?reset")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            run_all_cells(page)
            page.locator(notebook_spec.ready).first.wait_for(timeout=45_000)
            probe = KernelProbe(_connection_file(lab, name))
        except Exception:
            _save_page(page, f"{name}-setup-failure")
            raise
        yield NotebookPage(page, probe, name)
        report = getattr(request.node, "rk_call_report", None)
        if report is not None and report.failed:
            _save_page(page, f"{name}-failure")
    finally:
        if probe is not None:
            probe.close()
        context.close()
        for session in lab.api("/api/sessions"):
            lab.api(f"/api/sessions/{session['id']}", method="DELETE")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep the call phase's report on the item, so fixtures can tell a failed test at teardown."""
    report = yield
    if report.when == "call":
        item.rk_call_report = report  # type: ignore[attr-defined]
    return report


def _save_page(page: Any, label: str) -> None:
    """A full-page screenshot (and the page text) in tests/artifacts/, for a failure's post-mortem."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{label}.png"), full_page=True)
        (ARTIFACTS / f"{label}.txt").write_text(page.locator("body").inner_text(timeout=5_000))
    except Exception as err:  # the screenshot is a help, never the reason a test fails
        print(f"could not save {label}: {err!r}")


def run_all_cells(page: Any, attempts: int = 3) -> None:
    """JupyterLab's menu Run > Run All Cells, once the kernel is idle; retried if no cell starts."""
    for _ in range(attempts):
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=45_000)
        page.locator(".jp-Notebook").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
        try:
            page.wait_for_function(
                "() => /\\[[*0-9]+\\]/.test(document.querySelector('.jp-Cell .jp-InputPrompt')?.textContent)",
                timeout=5_000)
            return
        except Exception:
            page.keyboard.press("Escape")
    raise AssertionError("Run All Cells did not start the notebook's first cell")


def _connection_file(lab: Lab, name: str) -> Path:
    for session in lab.api("/api/sessions"):
        if session.get("path", "").endswith(f"{name}.ipynb"):
            path = lab.runtime / f"kernel-{session['kernel']['id']}.json"
            if path.exists():
                return path
    raise AssertionError(f"no kernel connection file for {name}.ipynb in {lab.runtime}: {lab.api('/api/sessions')}")
