"""The embedded server's I/O shell: WebSocket paths, auth, limits and audio pacing around the pure protocol.

    from realtime_kit.server import LocalServer
    with LocalServer(api_key="workshop") as server:           # own thread, free port, loopback
        client = openai.AsyncOpenAI(websocket_base_url=server.azure_base_url, api_key="workshop")
        async with client.realtime.connect(model="gpt-realtime") as connection: ...

Everything the GA protocol means lives in ``protocol.RealtimeProtocol`` (dicts in, dicts out); this
module only moves frames and decides *when* each one leaves. Per session, a receiver task feeds every
client frame to the protocol at once (so ``response.cancel`` is seen mid-response) and a sender task
pulls server events and paces audio. Protocol calls may be CPU-heavy (synthesis, VAD, transcription),
so they run in a thread pool, serialised per session by a lock, and never stall other sessions.

Pacing ``"realtime"``: each response's audio may run ahead of wall-clock playback (counted from its
first delta) by at most ``REALTIME_LEAD_MS`` (400 ms), like the real service, which streams a little
faster than real time. Text deltas leave as soon as the protocol orders them. Pacing ``"fast"`` sends
everything as soon as it is made.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import hashlib
import hmac
import json
import logging
import math
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..errors import ConfigError, InvalidState

if TYPE_CHECKING:
    from .protocol import Outgoing

__all__ = ["PATHS", "REALTIME_LEAD_MS", "Handshake", "LocalServer", "Pacer", "SessionProtocol", "shared_server"]

logger = logging.getLogger("realtime_kit.server")

# The two GA WebSocket paths: Azure's (``{endpoint}/openai/v1``) and OpenAI's (``.../v1``).
PATHS = ("/openai/v1/realtime", "/v1/realtime")
DEFAULT_MODEL = "gpt-realtime"
# How far audio may run ahead of real-time playback at pace "realtime" (the service runs ahead too).
REALTIME_LEAD_MS = 400.0
# A 15 MiB append is ~15.7 MB of JSON; a bigger frame must reach the protocol to get its error event.
MAX_FRAME_BYTES = 32 * 1024 * 1024
# Pull events up to (and including) one audio delta per thread hop: cheap, yet cancel stays prompt.
_MAX_BATCH = 64
# How often a busy-but-quiet protocol is polled (e.g. a response waiting on a slow engine).
_BUSY_POLL_S = 0.02
_EXPIRY_SLACK_S = 0.05
_REDACTED = "<redacted>"
_SECRET_HEADERS = frozenset({"authorization", "api-key", "cookie"})

Pace = Literal["realtime", "fast"]


class SessionProtocol(Protocol):
    """What the shell needs from a session's protocol (``protocol.RealtimeProtocol``; fakes in tests)."""

    @property
    def busy(self) -> bool: ...
    def start(self) -> None: ...
    def receive(self, frame: str | bytes) -> None: ...
    def next_event(self) -> Outgoing | None: ...


@dataclass(frozen=True)
class Handshake:
    """What one client sent at the WebSocket handshake, minus the secret (only its SHA-256).

        >>> Handshake("/v1/realtime", {"model": "gpt-realtime"}, "bearer", None, ("authorization",)).path
        '/v1/realtime'
    """

    path: str
    query: dict[str, str]
    auth_scheme: Literal["bearer", "api-key"] | None
    credential_sha256: str | None
    header_names: tuple[str, ...]
    status: int = 101  # 101 accepted; 401 refused credential; 404 unknown path


class Pacer:
    """When each server event may leave, so audio never runs ahead of playback by more than a lead.

        >>> pacer = Pacer(lead_ms=400.0)
        >>> pacer.delay_s("resp_1", audio_ms=250.0, now=10.0)   # the first delta starts the clock
        0.0
        >>> pacer.sent("resp_1", 250.0, now=10.0); pacer.sent("resp_1", 250.0, now=10.0)
        >>> round(pacer.delay_s("resp_1", audio_ms=250.0, now=10.0), 3)   # 750 ms would be 400 ms ahead
        0.35
    """

    def __init__(self, lead_ms: float | None = REALTIME_LEAD_MS) -> None:
        self.lead_ms = lead_ms  # None: no pacing (pace "fast")
        self._response_id: str | None = None
        self._started_at = 0.0
        self._sent_ms = 0.0

    def delay_s(self, response_id: str | None, audio_ms: float, now: float) -> float:
        """Seconds to wait before sending ``audio_ms`` more audio of ``response_id`` at time ``now``."""
        if self.lead_ms is None or audio_ms <= 0 or response_id != self._response_id:
            return 0.0
        due = self._started_at + (self._sent_ms + audio_ms - self.lead_ms) / 1000.0
        return max(0.0, due - now)

    def sent(self, response_id: str | None, audio_ms: float, now: float) -> None:
        """Record that ``audio_ms`` of ``response_id`` left at ``now`` (a new response restarts the clock)."""
        if audio_ms <= 0:
            return
        if response_id != self._response_id:
            self._response_id, self._started_at, self._sent_ms = response_id, now, 0.0
        self._sent_ms += audio_ms


class LocalServer:
    """The embedded GA Realtime server: in-process on a background thread, or on your own event loop.

        server = LocalServer().start()          # port=0: a free port; returns once listening
        server.url, server.azure_base_url       # 'ws://127.0.0.1:54321', '.../openai/v1'
        server.handshakes[-1].auth_scheme       # what the last client sent (never the secret)
        server.stop()                           # closes every session (1001 going away)

    ``await server.serve_forever()`` runs it on the current loop until ``stop()`` (the CLI's way).
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
        self._key_digest = _sha256(api_key) if api_key is not None else None
        self._ssl = _server_ssl_context(certfile, keyfile) if certfile and keyfile else None
        self._protocol_factory = protocol_factory
        self.handshakes: list[Handshake] = []
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_requested: asyncio.Event | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._sessions: set[_Session] = set()

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
        return f"{scheme}://{_url_host(self.host)}:{self.port}"

    @property
    def azure_base_url(self) -> str:
        """``websocket_base_url`` for Azure-style clients, like the seed: ``{url}/openai/v1``."""
        return self.url + "/openai/v1"

    @property
    def openai_base_url(self) -> str:
        """``websocket_base_url`` for OpenAI-style clients: ``{url}/v1``."""
        return self.url + "/v1"

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
        self._server = await serve(
            self._handle,
            self.host,
            self._requested_port,
            ssl=self._ssl,
            process_request=self._check_handshake,
            max_size=MAX_FRAME_BYTES,
            compression=None,  # audio is base64 noise: deflate costs CPU for little gain
            ping_interval=20,
            ping_timeout=120,  # a notebook kernel busy in a long cell should not lose its session
            close_timeout=1,  # loopback peers answer in ms; a blocked one (a notebook in stop()) is not waited for
            server_header="realtime-kit-local",
            logger=_redacting_logger(),
        )
        self._port = _listening_port(self._server)
        # load espeak-ng now, off the loop, so the first reply is not ~0.7 s late
        self._executor.submit(_warm_up_engines)
        logger.info("listening on %s (pace %s)", self.url, self.pace)

    async def _close(self) -> None:
        server, executor = self._server, self._executor
        self._server = None
        if server is not None:
            server.close(close_connections=True)
            await server.wait_closed()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # -- handshake -----------------------------------------------------------------------------------

    def _check_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse unknown paths (404) and wrong credentials (401); record what the client sent."""
        split = urlsplit(request.path)
        query = dict(parse_qsl(split.query))
        scheme, credential = _credential(request, query)
        path = split.path.rstrip("/") or "/"
        status = 101
        reply: Response | None = None
        if path not in PATHS:
            status = HTTPStatus.NOT_FOUND
            reply = connection.respond(status, _not_found_text(path))
        elif self._key_digest is not None and not _key_matches(credential, self._key_digest):
            status = HTTPStatus.UNAUTHORIZED
            reply = connection.respond(status, _unauthorized_text(scheme))
        self.handshakes.append(Handshake(
            path=split.path,
            query={k: (_REDACTED if k.lower() == "api-key" else v) for k, v in query.items()},
            auth_scheme=scheme,
            credential_sha256=_sha256(credential) if credential is not None else None,
            header_names=tuple(name.lower() for name, _ in request.headers.raw_items()),
            status=int(status),
        ))
        return reply

    # -- sessions ------------------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None and self._executor is not None
        query = dict(parse_qsl(urlsplit(connection.request.path).query))
        model = query.get("model") or query.get("deployment") or DEFAULT_MODEL
        protocol = self._make_protocol(model)
        session = _Session(connection, protocol, self._executor, Pacer(
            REALTIME_LEAD_MS if self.pace == "realtime" else None), self.max_session_s)
        self._sessions.add(session)
        logger.debug("session opened (model %s, %d open)", model, len(self._sessions))
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
            logger.debug("session closed (code %s, %d open)", connection.close_code, len(self._sessions))

    def _make_protocol(self, model: str) -> SessionProtocol:
        if self._protocol_factory is not None:
            return self._protocol_factory(model=model, max_session_s=self.max_session_s)
        from .protocol import RealtimeProtocol  # imported late: it loads the speech engines

        return RealtimeProtocol(model=model, max_session_s=self.max_session_s)


class _Session:
    """One WebSocket session: a receiver feeding the protocol and a sender pacing what it makes."""

    def __init__(
        self,
        connection: ServerConnection,
        protocol: SessionProtocol,
        executor: concurrent.futures.Executor,
        pacer: Pacer,
        max_session_s: float,
    ) -> None:
        self.connection, self.protocol, self.pacer = connection, protocol, pacer
        self._executor = executor
        self._turn = asyncio.Lock()  # the protocol is not thread-safe: one call at a time
        self._wake = asyncio.Event()
        self._max_session_s = max_session_s
        self._deadline = math.inf
        self._busy = False  # the protocol's `busy`, read on its worker thread at the last pull
        self._expired = False

    async def run(self) -> None:
        try:
            await self._call(self.protocol.start)
        except Exception as exc:
            await self._finish(exc)
            return
        # The protocol owns the clock; this only wakes an idle session just after its cap to let it expire.
        self._deadline = time.monotonic() + self._max_session_s + _EXPIRY_SLACK_S
        sender = asyncio.create_task(self._send_loop())
        receiver = asyncio.create_task(self._receive_loop())
        failure: BaseException | None = None
        try:
            done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
            failure = next((t.exception() for t in done if not t.cancelled() and t.exception()), None)
        finally:
            for task in (sender, receiver):
                task.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)
        await self._finish(failure)

    async def _finish(self, failure: BaseException | None) -> None:
        """Close after expiry (1000), or tell the client about a server failure (error event, 1011)."""
        if self._expired:
            await self.connection.close(1000, "session expired")
        elif failure is not None:
            logger.error("session failed", exc_info=failure)
            with contextlib.suppress(ConnectionClosed):
                await self.connection.send(json.dumps(_server_error(failure)))
            await self.connection.close(1011, "internal server error")

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one protocol call off the event loop, one at a time for this session."""
        async with self._turn:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _receive_loop(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.connection:
                await self._call(self.protocol.receive, frame)
                self._wake.set()

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()  # cleared before pulling, so a frame received meanwhile is not missed
            batch = await self._call(self._pull)
            if batch:
                if await self._send_batch(batch, loop):
                    return
                await asyncio.sleep(0)  # let the other sessions on this loop have a turn
                continue
            await self._idle(loop)

    def _pull(self) -> list[Outgoing]:
        """Events up to and including the next audio delta (runs on a worker thread)."""
        batch: list[Outgoing] = []
        while len(batch) < _MAX_BATCH:
            out = self.protocol.next_event()
            if out is None:
                break
            batch.append(out)
            if out.audio_ms > 0:
                break
        self._busy = self.protocol.busy
        return batch

    async def _send_batch(self, batch: list[Outgoing], loop: asyncio.AbstractEventLoop) -> bool:
        """Send in order, pacing audio; True once the session has expired and must close."""
        for out in batch:
            delay = self.pacer.delay_s(out.response_id, out.audio_ms, loop.time())
            if delay > 0:
                await asyncio.sleep(delay)
            await self.connection.send(json.dumps(out.event))
            self.pacer.sent(out.response_id, out.audio_ms, loop.time())
            if _is_session_expired(out.event):
                self._expired = True
                return True
        return False

    async def _idle(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait for a client frame, polling while the protocol is busy and waking at the session cap."""
        until_cap = self._deadline - time.monotonic()
        timeout = until_cap if until_cap > 0 else 1.0  # past the cap: the next pull expires the session
        if self._busy:
            timeout = min(timeout, _BUSY_POLL_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=timeout)


# -- shared server ---------------------------------------------------------------------------------

_shared: LocalServer | None = None
_shared_lock = threading.Lock()


def shared_server() -> LocalServer:
    """The process-wide server (pace "fast", loopback, no key) behind ``rk.connect("local")``.

        >>> shared_server() is shared_server()
        True
    """
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = LocalServer(pace="fast").start()
            atexit.register(_shared.stop)
        return _shared


# -- helpers ---------------------------------------------------------------------------------------


def _credential(request: Request, query: dict[str, str]) -> tuple[Literal["bearer", "api-key"] | None, str | None]:
    """(scheme, secret) from ``Authorization: Bearer``, ``api-key`` header, or Azure's ``?api-key=``."""
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        return "bearer", authorization[7:].strip()
    key = request.headers.get("api-key") or query.get("api-key")
    if key:
        return "api-key", key
    return None, None


def _key_matches(credential: str | None, expected_digest: str) -> bool:
    return credential is not None and hmac.compare_digest(_sha256(credential), expected_digest)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _not_found_text(path: str) -> str:
    return (f"No realtime endpoint at {path!r}. This server answers WebSocket connections at "
            f"{PATHS[0]} (Azure-style base URL .../openai/v1) and {PATHS[1]} (OpenAI-style .../v1).\n")


def _unauthorized_text(scheme: str | None) -> str:
    sent = "an unknown credential" if scheme else "no credential"
    return (f"Unauthorized: you sent {sent}. This local realtime server was started with an API key; "
            "send it as 'Authorization: Bearer <key>' or 'api-key: <key>' (the openai SDK's api_key).\n")


def _is_session_expired(event: dict[str, Any]) -> bool:
    error = event.get("error") if event.get("type") == "error" else None
    return isinstance(error, dict) and error.get("code") == "session_expired"


def _warm_up_engines() -> None:
    from .protocol import Engines

    try:
        Engines.default().warm_up()
    except Exception:  # a missing engine shows up, with its own message, on the first reply
        logger.debug("engine warm-up failed", exc_info=True)


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::", "localhost"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _listening_port(server: Server) -> int:
    """The IPv4 socket's port when there is one (port 0 on "localhost" binds each family anew)."""
    sockets = sorted(server.sockets, key=lambda sock: sock.family != socket.AF_INET)
    return int(sockets[0].getsockname()[1])


def _server_ssl_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"LocalServer: cannot load the TLS certificate {certfile!r} with key {keyfile!r} ({exc}); "
            "pass a PEM certificate and its private key."
        ) from exc
    return context


def _server_error(failure: BaseException) -> dict[str, Any]:
    """The service's shape for its own failures: an `error` event of type server_error."""
    return {"type": "error", "event_id": f"event_server_error_{id(failure):x}", "error": {
        "type": "server_error", "code": None, "param": None, "event_id": None,
        "message": f"The local realtime server failed ({type(failure).__name__}: {failure}); "
                   "see the server's log, and reconnect to start a new session.",
    }}


class _RedactHeaders(logging.Filter):
    """websockets logs handshake headers at DEBUG; hide credentials in them."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and str(args[0]).lower() in _SECRET_HEADERS:
            record.args = (args[0], _REDACTED)
        elif isinstance(args, tuple) and args and "api-key=" in str(args[0]).lower():
            record.args = (_redact_query(str(args[0])), *args[1:])
        return True


def _redact_query(path: str) -> str:
    split = urlsplit(path)
    pairs = [(k, _REDACTED if k.lower() == "api-key" else v) for k, v in parse_qsl(split.query)]
    return split.path + "?" + "&".join(f"{k}={v}" for k, v in pairs)


def _redacting_logger() -> logging.Logger:
    wire = logging.getLogger("realtime_kit.server.websockets")
    if not any(isinstance(f, _RedactHeaders) for f in wire.filters):
        wire.addFilter(_RedactHeaders())
    return wire

