"""The embedded server's I/O shell: ``LocalServer`` listens, tracks sessions, and stops them cleanly.

    from realtime_kit.server import LocalServer
    with LocalServer(api_key="workshop") as server:           # own thread, free port, loopback
        client = openai.AsyncOpenAI(websocket_base_url=server.azure_base_url, api_key="workshop")
        async with client.realtime.connect(model="gpt-realtime") as connection: ...

Everything the GA protocol means lives in ``protocol.RealtimeProtocol`` (dicts in, dicts out). Around it:
``handshake`` checks paths and credentials, ``connection`` runs each session's receive and send tasks,
``pacing`` decides when audio may leave, ``listening`` holds the socket settings. This module is the
lifecycle: in-process on its own thread and loop, or on the caller's loop; plus ``shared_server()``.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import dataclasses
import json
import logging
import math
import threading
import typing
from collections import Counter, deque
from collections.abc import Callable, Mapping
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection
from websockets.http11 import Request, Response

from ..errors import ConfigError, InvalidState
from ..rules import Service, profile_for
from .connection import ServerSession, SessionProtocol
from .engines import Engines
from .faults import REFUSAL, DroppingConnection, Faults, drop_all
from .handshake import (
    PATHS,
    Handshake,
    known_model,
    requested_intent,
    requested_model,
    review_handshake,
    service_of,
    sha256_hex,
    unknown_model_event,
)
from .limits import Limits, MemoryBudget, SessionMemory, release_free_memory
from .listening import keep_alive, listen, listening_port, server_ssl_context, url_host
from .pacing import REALTIME_LEAD_MS, Pace, Pacer
from .workers import EngineWorkers

__all__ = ["PATHS", "REALTIME_LEAD_MS", "Handshake", "Limits", "LocalServer", "Pacer", "SessionProtocol",
           "shared_server"]

logger = logging.getLogger("realtime_kit.server")
# how long a server stays empty before its room has left (kept sentences forgotten, memory given back): a room that
# reconnects at once (a workshop re-running a cell) keeps its sentences, and a full collection does not meet its turns
ROOM_GONE_AFTER_S = 2.0


class LocalServer:
    """The embedded GA Realtime server: in-process on a background thread, or on your own event loop.

        server = LocalServer().start()          # port=0: a free port; returns once listening
        server.url, server.azure_base_url       # 'ws://127.0.0.1:54321', '.../openai/v1'
        server.handshakes[-1].auth_scheme       # what the last client sent (never the secret)
        server.endings                          # Counter({'client left': 3, 'not reading (1008)': 1})
        server.stop()                           # closes every session (1001 going away)

    ``await server.serve_forever()`` runs it on the current loop until ``stop()`` (the CLI's way).

    ``engines`` is the seam for tests (httpx's ``MockTransport`` is the model): sessions then speak, detect
    and transcribe with the given ``Engines`` through the same work path (protocol work -> shell -> results),
    but on the server's threads rather than the worker processes, so no engine process is started:

        LocalServer(engines=Engines(synthesize=..., make_vad=..., transcribe=...))   # see tests/tone_engines.py
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        pace: Pace = "fast",
        certfile: str | None = None,
        keyfile: str | None = None,
        max_session_s: float = 3600.0,
        protocol_factory: Callable[..., SessionProtocol] | None = None,
        limits: Limits | None = None,
        deployments: Mapping[str, str] | None = None,
        faults: Faults | None = None,
        reuse_port: bool = False,
        engines: Engines | None = None,
    ) -> None:
        if pace not in ("realtime", "fast"):
            raise ConfigError(f"LocalServer: pace {pace!r} is not supported; use 'realtime' or 'fast'.")
        if not 0 < max_session_s < math.inf:
            raise ConfigError(
                f"LocalServer: max_session_s must be a positive, finite number of seconds, not {max_session_s!r}."
            )
        if (certfile is None) != (keyfile is None):
            raise ConfigError("LocalServer: TLS needs both certfile and keyfile; pass both or neither.")
        self.host, self.pace, self.max_session_s = host, pace, max_session_s
        self._requested_port = port
        self._port: int | None = None
        # Only the key's digest is kept, so the secret cannot leak through this object.
        self._key_digest = sha256_hex(api_key) if api_key is not None else None
        self._ssl = server_ssl_context(certfile, keyfile) if certfile and keyfile else None
        self._protocol_factory = protocol_factory
        self.limits = limits or Limits()
        self._memory = MemoryBudget.of(self.limits)
        self._handshakes: deque[Handshake] = deque(maxlen=self.limits.handshake_records)
        # Azure deployment names beside the model names (each a deployment of itself): name -> model
        self.deployments = dict(deployments or {})
        self.faults = faults or Faults()  # closes, drops and refusals on demand (faults.py)
        self.reuse_port = reuse_port   # another process may serve the same port (the CLI's --workers)
        self.engines = engines         # None: the real engines, espeak-ng and pocketsphinx in worker processes
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_requested: asyncio.Event | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._bulk_executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._sessions: set[ServerSession] = set()
        self._room_leaving: asyncio.TimerHandle | None = None   # set while the server is empty, until ROOM_GONE_AFTER_S
        self.endings: Counter[str] = Counter()   # sessions ended, by how: a room's health at a glance

    # -- addresses ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port it listens on (known once started)."""
        if self._port is None:
            raise InvalidState("LocalServer has no port yet; call start() (or serve_forever()) first.")
        return self._port

    @property
    def url(self) -> str:
        """``ws://host:port`` (``wss://`` with a certificate); a wildcard host shows as 127.0.0.1."""
        scheme = "wss" if self._ssl else "ws"
        return f"{scheme}://{url_host(self.host)}:{self.port}"

    @property
    def azure_base_url(self) -> str:
        """``websocket_base_url`` for Azure-style clients, like the seed: ``{url}/openai/v1``."""
        return self.url + "/openai/v1"

    @property
    def openai_base_url(self) -> str:
        """``websocket_base_url`` for OpenAI-style clients: ``{url}/v1``."""
        return self.url + "/v1"

    @property
    def handshakes(self) -> list[Handshake]:
        """What the latest clients sent at the handshake (the last ``limits.handshake_records``), oldest first."""
        return list(self._handshakes)

    @property
    def memory_held(self) -> int:
        """Bytes the sessions' input buffers and conversation items hold now (what ``limits`` caps)."""
        return self._memory.held()

    @property
    def session_count(self) -> int:
        """How many WebSocket sessions are open right now."""
        return len(self._sessions)

    @property
    def running(self) -> bool:
        """True while it listens."""
        return self._server is not None

    @property
    def requires_key(self) -> bool:
        """True when clients must present the api_key it was started with."""
        return self._key_digest is not None

    def __repr__(self) -> str:
        where = self.url if self._port is not None else f"{self.host}:{self._requested_port} (not started)"
        auth = "api key required" if self._key_digest else "any credential"
        return f"<LocalServer {where} pace={self.pace} {auth} sessions={len(self._sessions)}>"

    # -- in-process: own thread and loop -------------------------------------------------------------

    def start(self) -> LocalServer:
        """Listen on a background thread; return once the port is bound (raises if binding fails)."""
        if self._thread is not None or self._server is not None:
            raise InvalidState("LocalServer is already running; call stop() before starting it again.")
        loop = asyncio.new_event_loop()
        opened: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run_thread, args=(loop, opened), name="realtime-kit-server", daemon=True
        )
        self._thread.start()
        try:
            opened.result()
        except BaseException:
            self._thread.join()
            self._thread = self._loop = None
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close every session cleanly (close code 1001) and stop listening. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None:
            return
        if thread is None:  # on the caller's loop (serve_forever or async with): ask it to finish
            if self._stop_requested is not None:
                loop.call_soon_threadsafe(self._stop_requested.set)
            else:
                asyncio.run_coroutine_threadsafe(self._close(), loop)
            return
        if thread is threading.current_thread():
            raise InvalidState("LocalServer.stop() cannot run on the server's own thread.")
        if thread.is_alive():
            closing = asyncio.run_coroutine_threadsafe(self._close(), loop)
            try:
                closing.result(timeout)
            except concurrent.futures.TimeoutError:
                logger.warning("clients did not finish closing within %.0f s; stopping anyway", timeout)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        self._thread = self._loop = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run_thread(self, loop: asyncio.AbstractEventLoop, opened: concurrent.futures.Future[None]) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._open())
        except BaseException as exc:
            opened.set_exception(exc)
            loop.close()
            return
        opened.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    # -- on the caller's loop ----------------------------------------------------------------------

    async def serve_forever(self, on_ready: Callable[[LocalServer], object] | None = None) -> None:
        """Serve on the running loop until ``stop()``; ``on_ready(server)`` runs once listening."""
        if self._server is not None:
            raise InvalidState("LocalServer is already running; call stop() before serving again.")
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        try:
            await self._open()
            if on_ready is not None:
                on_ready(self)
            await self._stop_requested.wait()
        finally:
            await self._close()
            self._loop = self._stop_requested = None

    async def __aenter__(self) -> LocalServer:
        self._loop = asyncio.get_running_loop()
        await self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._close()
        self._loop = None

    # -- listening -----------------------------------------------------------------------------------

    async def _open(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="rk-session")
        # one worker for frames carrying seconds of audio at once: they wait for each other, not the room
        self._bulk_executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="rk-bulk")
        # start the engine processes before listening, so a first turn's latency shows the protocol, not their start
        if self.engines is None:
            await asyncio.get_running_loop().run_in_executor(self._executor, _warm_up_engines)
        self._server = await listen(self._handle, self.host, self._requested_port, tls=self._ssl,
                                    check_handshake=self._check_handshake, limits=self.limits,
                                    reuse_port=self.reuse_port)
        self._port = listening_port(self._server)
        logger.info("listening on %s (pace %s)", self.url, self.pace)

    async def _close(self) -> None:
        server, executors = self._server, (self._executor, self._bulk_executor)
        self._server = None
        if server is not None:
            server.close(close_connections=True)
            await server.wait_closed()     # every session's handler has returned: the server is empty
        if self._room_leaving is not None:  # a stopped server is a room gone: its leaving happens now, not never
            self._room_gone(here=True)
        for executor in executors:
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._bulk_executor = None

    def drop_connections(self) -> None:
        """Cut every open session's TCP connection now, with no close frame: a network failure on demand."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(lambda: drop_all([session.connection for session in self._sessions]))

    # -- handshake -----------------------------------------------------------------------------------

    def _check_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse unknown paths (404) and wrong credentials (401); record what the client sent."""
        if self.faults.take_refusal():
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, REFUSAL + "\n")
        handshake, refusal = review_handshake(request.path, request.headers, self._key_digest, self.deployments)
        if refusal is None and len(self._sessions) >= self.limits.max_sessions:
            handshake = dataclasses.replace(handshake, status=HTTPStatus.SERVICE_UNAVAILABLE)
            refusal = (f"This server is full ({self.limits.max_sessions} sessions); try again when someone "
                       "leaves, or start the server with a higher --max-sessions.\n")
        self._handshakes.append(handshake)
        return None if refusal is None else connection.respond(HTTPStatus(handshake.status), refusal)

    # -- sessions ------------------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None and self._executor is not None
        keep_alive(connection, self.limits.tcp_keepalive_s)
        model, service = requested_model(connection.request.path), service_of(connection.request.path)
        if not known_model(model, self.deployments):  # only OpenAI's path gets here: Azure's refused at the handshake
            await connection.send(json.dumps(unknown_model_event(model)))
            await connection.close(1008, "model_not_found")
            return
        faults = self.faults.for_session(self.max_session_s)
        memory = self._memory.account()
        protocol = self._make_protocol(model, faults.close_after_s, service, memory,
                                       requested_intent(connection.request.path))
        wire = typing.cast(ServerConnection, DroppingConnection(connection, faults)) if faults.drops else connection
        session = ServerSession(wire, protocol, self._executor, Pacer.for_pace(self.pace), faults.close_after_s,
                                # injected engines run in-process: test callables need not pickle into workers
                                workers=EngineWorkers.shared() if self.engines is None else None,
                                limits=self.limits, bulk_executor=self._bulk_executor, engines=self.engines)
        self._sessions.add(session)
        self._stay_in_room()   # back before the room had left: its sentences are still kept
        logger.debug("session opened (model %s, %d open)", model, len(self._sessions))
        try:
            await session.run()
        finally:
            memory.release()
            self.endings["server stopped" if session.ending == "open" else session.ending] += 1
            self._sessions.discard(session)
            if not self._sessions and self._room_leaving is None:
                self._room_leaving = asyncio.get_running_loop().call_later(ROOM_GONE_AFTER_S, self._room_gone)
            logger.debug("session closed (code %s, %d open)", connection.close_code, len(self._sessions))

    def _stay_in_room(self) -> None:
        """No leaving is due any more (a session opened: the room has not left after all)."""
        if self._room_leaving is not None:
            self._room_leaving.cancel()
            self._room_leaving = None

    def _room_gone(self, here: bool = False) -> None:
        """The server stayed empty for ROOM_GONE_AFTER_S (an opening session cancels this), or it is stopping: the
        room left, its kept sentences go and its memory goes back (on a worker thread; ``here``, as the server's
        last act, when its executor is about to drop what is queued)."""
        self._stay_in_room()
        EngineWorkers.forget_shared_sentences()
        if here:
            _give_memory_back()
        elif self._executor is not None:
            self._executor.submit(_give_memory_back)

    def _make_protocol(self, model: str, max_session_s: float, service: Service = "openai",
                       memory: SessionMemory | None = None, intent: str | None = None) -> SessionProtocol:
        if self._protocol_factory is not None:
            return self._protocol_factory(model=model, max_session_s=max_session_s,
                                          **({"intent": intent} if intent else {}))
        from .protocol import RealtimeProtocol  # imported late: it loads the speech engines

        return RealtimeProtocol(model=model, service=service, max_session_s=max_session_s, limits=self.limits,
                                memory=memory, profile=profile_for(self.deployments.get(model, model)), intent=intent,
                                offload=True)


# -- shared server ---------------------------------------------------------------------------------

_shared: dict[str, LocalServer] = {}
_shared_lock = threading.Lock()


def shared_server(pace: Pace = "fast") -> LocalServer:
    """The process-wide server for one pace (loopback, no key) behind ``rk.connect("local", pace=...)``:
    started on first use, the same one after (``shared_server() is shared_server()``), stopped at exit."""
    global _shared
    with _shared_lock:
        server = _shared.get(pace)
        if server is None or not server.running:
            server = _shared[pace] = LocalServer(pace=pace).start()
            atexit.register(server.stop)
        return server


def _give_memory_back() -> None:
    """The room left: the VAD models it borrowed go (one stays warm), then free memory goes back to the system."""
    from .vad import MODELS

    MODELS.shrink()
    release_free_memory()


def _warm_up_engines() -> None:
    try:
        from .vad import MODELS, SileroVad

        MODELS.give_back(MODELS.lend())  # loads ONNX Runtime and a first model: a first loud append is judged at once
        SileroVad()  # its resampler imports scipy.signal (~1.4 s, GIL held) now, not at the room's first microphone
        EngineWorkers.shared().warm_up()
    except Exception:  # a missing engine shows up, with its own message, on the first reply
        logger.debug("engine warm-up failed", exc_info=True)
