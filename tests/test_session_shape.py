"""The Session's shape: a plain class composed of collaborators that never subclass or call up into each other."""

from __future__ import annotations

import ast
import asyncio
import inspect
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from realtime_kit.errors import InvalidState
from realtime_kit.session import Session
from realtime_kit.session.audio_input import AudioInput
from realtime_kit.session.conversation import REQUEST_TAG, Response
from realtime_kit.session.pump import SessionPump
from realtime_kit.session.reconnect import Reconnector
from realtime_kit.session.tool_loop import ToolRegistry, ToolRunner
from realtime_kit.session.transcription import TranscriptionInput
from realtime_kit.session.turns import TurnController

pytestmark = pytest.mark.pure

PACKAGE = Path(inspect.getfile(SessionPump)).parent
COLLABORATORS = (SessionPump, TurnController, ToolRegistry, ToolRunner, AudioInput, TranscriptionInput, Reconnector)
# Who may import whom inside realtime_kit/session: each collaborator module only the ones below it.
BELOW = {
    "pump": set(),
    "turns": {"pump"},
    "tool_loop": {"pump", "turns"},
    "audio_input": {"pump", "turns"},
    "transcription": {"pump", "audio_input"},
    "reconnect": {"pump"},
}
COLLABORATOR_MODULES = set(BELOW) | {"core"}
_EVENTS: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)


def _imported_session_modules(tree: ast.AST) -> set[str]:
    """The realtime_kit.session modules a syntax tree imports (relative `from .x import` and absolute)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.level == 1:
                found.add(node.module.split(".")[0])
            elif node.module.startswith("realtime_kit.session."):
                found.add(node.module.split(".")[2])
    return found


def _class_and_module_imports(cls: type) -> set[str]:
    """Imports at the top of the class's module plus any inside the class (a module's helper functions aside)."""
    module_tree = ast.parse(Path(inspect.getfile(cls)).read_text())
    top = ast.Module(body=[n for n in module_tree.body if isinstance(n, ast.ImportFrom)], type_ignores=[])
    class_tree = next(n for n in module_tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    return _imported_session_modules(top) | _imported_session_modules(class_tree)


def test_session_inherits_nothing() -> None:
    """Session is a plain class: its MRO is itself and object."""
    assert Session.__mro__ == (Session, object)


def test_no_collaborator_subclasses_another() -> None:
    """Pump, turns, tool registry and runner, audio and transcription input, reconnect: each derives from object."""
    for cls in COLLABORATORS:
        assert cls.__bases__ == (object,), cls


def test_session_owns_one_of_each_collaborator() -> None:
    """The Session's constructor makes its collaborators, once each (no module-level singletons)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(Session.__init__)))
    made = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert sorted(name for name in made if name[0].isupper()) == sorted(cls.__name__ for cls in COLLABORATORS)


@pytest.mark.parametrize("module", sorted(BELOW))
def test_collaborators_import_only_what_is_below_them(module: str) -> None:
    """No up-calls: the pump imports no collaborator; none imports core (Session) or a sibling above it."""
    cls = next(c for c in COLLABORATORS if c.__module__.endswith("." + module))
    above = COLLABORATOR_MODULES - BELOW[module] - {module}
    assert not (_class_and_module_imports(cls) & above), f"{module} imports {above & _class_and_module_imports(cls)}"


def test_collaborators_never_name_the_session() -> None:
    """No collaborator class refers to Session (they get what they need through their constructors)."""
    for cls in COLLABORATORS:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert "Session" not in names, cls


def _starts_a_response(node: ast.AST) -> bool:
    """A `conversation.request(...)` call or a `{"type": "response.create", ...}` literal."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "request":
        return "conversation" in ast.unparse(node.func.value)
    if isinstance(node, ast.Dict):
        pairs = zip(node.keys, node.values, strict=True)
        return any(isinstance(k, ast.Constant) and k.value == "type" and isinstance(v, ast.Constant)
                   and v.value == "response.create" for k, v in pairs)
    return False


def test_one_place_starts_a_turn() -> None:
    """Only turns.py asks the fold for a new response or builds a response.create."""
    starters = {path.name for path in PACKAGE.glob("*.py")
                if any(_starts_a_response(n) for n in ast.walk(ast.parse(path.read_text())))}
    assert starters == {"turns.py"}


# -- the narrow interfaces at work, on an in-memory connection -----------------------------------


class MemoryConnection:
    """A connection whose server events are fed by the test; it records what the client sends."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[Any] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []

    def feed(self, kind: str, **fields: Any) -> None:
        self.incoming.put_nowait(_EVENTS.validate_python({"type": kind, "event_id": f"ev_{kind}", **fields}))

    async def send(self, event: dict[str, Any]) -> None:
        self.sent.append(event)

    async def close(self) -> None:
        self.incoming.put_nowait(None)

    def __aiter__(self) -> MemoryConnection:
        return self

    async def __anext__(self) -> Any:
        event = await self.incoming.get()
        if event is None:
            raise StopAsyncIteration
        return event


def _created(connection: MemoryConnection) -> None:
    connection.feed("session.created", session={"type": "realtime", "id": "sess_1", "object": "realtime.session"})


def _done(connection: MemoryConnection, tag: str | None) -> None:
    metadata = {REQUEST_TAG: tag} if tag else None
    connection.feed("response.created", response={"id": "resp_1", "object": "realtime.response",
                                                   "status": "in_progress", "output": [], "metadata": metadata})
    connection.feed("response.done", response={"id": "resp_1", "object": "realtime.response",
                                                "status": "completed", "output": [], "metadata": metadata})


async def test_pump_hands_each_response_done_to_its_subscribers() -> None:
    """on_response_done is how the pump reaches the tool runner: the folded Response, once, at response.done."""
    connection = MemoryConnection()
    pump = SessionPump(connection, SimpleNamespace(description="memory"))
    seen: list[Response] = []
    pump.on_response_done(lambda response, now: seen.append(response))
    _created(connection)
    await pump.start()
    _done(connection, tag=None)
    await pump.wait(lambda: bool(seen), timeout=5)
    await pump.close()
    assert [(r.id, r.status) for r in seen] == [("resp_1", "completed")]


async def test_turn_controller_allows_one_turn_at_a_time() -> None:
    """A second turn begun while one runs raises InvalidState naming the fix; after the first ends, it may begin."""
    connection = MemoryConnection()
    pump = SessionPump(connection, SimpleNamespace(description="memory"))
    turns = TurnController(pump, register_tools=list)
    _created(connection)
    await pump.start()
    first = await turns.begin("send_text")
    await pump.send(turns.response_create(first.tag, {}))
    with pytest.raises(InvalidState, match=r"await session\.cancel"):
        await turns.begin("send_text")
    _done(connection, tag=first.tag)
    await pump.until(turns.expect(first), timeout=5)
    turns.end(first)
    second = await turns.begin("send_text")
    await pump.close()
    assert first.status == "completed" and second is not first and second.tag != first.tag


def _response(response_id: str, status: str) -> dict[str, Any]:
    details = {"type": "cancelled", "reason": "turn_detected"} if status == "cancelled" else None
    return {"id": response_id, "object": "realtime.response", "status": status, "output": [],
            "status_details": details}


async def test_send_audio_waits_for_the_commit_that_follows_speech_stopped() -> None:
    """Between a turn's speech_stopped and its committed nothing is settled: send_audio waits for the answer.

    Scripted server VAD: the first answer is cancelled by the second utterance, whose commit comes 0.3 s after its
    speech_stopped. Before the fix send_audio returned in that gap with one cancelled turn (seen on a loaded CI).
    """
    from realtime_kit.audio import Audio

    connection = MemoryConnection()
    pump = SessionPump(connection, SimpleNamespace(description="memory"))
    audio_input = AudioInput(pump, TurnController(pump, register_tools=list))
    connection.feed("session.created", session={"type": "realtime", "id": "sess_1", "object": "realtime.session",
                                                "audio": {"input": {"turn_detection": {"type": "server_vad",
                                                                                       "silence_duration_ms": 500}}}})
    await pump.start()
    word = Audio.tone(300, 0.4)
    sending = asyncio.ensure_future(audio_input.send_audio(word + Audio.silence(1.5) + word, vad_timeout=2.0))
    while not any(e["type"] == "input_audio_buffer.append" for e in connection.sent):
        await asyncio.sleep(0.01)
    for n, (start, end) in enumerate([(0, 400), (1900, 2300)], start=1):
        connection.feed("input_audio_buffer.speech_started", audio_start_ms=start, item_id=f"item_{n}")
        if n == 2:
            connection.feed("response.done", response=_response("resp_1", "cancelled"))
        connection.feed("input_audio_buffer.speech_stopped", audio_end_ms=end, item_id=f"item_{n}")
        await asyncio.sleep(0.3)
        connection.feed("input_audio_buffer.committed", item_id=f"item_{n}", previous_item_id=None)
        connection.feed("response.created", response=_response(f"resp_{n}", "in_progress"))
    connection.feed("response.done", response=_response("resp_2", "completed"))
    reply = await asyncio.wait_for(sending, timeout=10)
    await pump.close()
    assert [(turn.id, turn.status) for turn in reply.turns] == [("resp_1", "cancelled"), ("resp_2", "completed")]
