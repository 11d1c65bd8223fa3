"""The embedded server's listening socket: websockets options, TLS, and the address clients should use.

    server = await listen(handler, "127.0.0.1", 0, tls=None, check_handshake=check)
    listening_port(server), url_host("0.0.0.0")          # (54321, '127.0.0.1')

Kept apart from ``LocalServer`` so its lifecycle code reads without the socket details.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from ..errors import ConfigError
from .handshake import chosen_subprotocol, redacting_logger
from .limits import Limits
from .quiet_logs import quiet

__all__ = ["MAX_FRAME_BYTES", "keep_alive", "listen", "listening_port", "server_ssl_context", "url_host"]

# A 15 MiB append is ~15.7 MB of JSON; a bigger frame must reach the protocol to get its error event.
MAX_FRAME_BYTES = 32 * 1024 * 1024

Handler = Callable[[ServerConnection], Awaitable[None]]
HandshakeCheck = Callable[[ServerConnection, Request], Response | None]


async def listen(
    handler: Handler, host: str, port: int, *, tls: ssl.SSLContext | None, check_handshake: HandshakeCheck,
    limits: Limits,
    reuse_port: bool = False,
) -> Server:
    """Start listening with the settings a realtime session needs (big frames, prompt pings, no deflate).

    ``reuse_port``: several processes share the port (SO_REUSEPORT; the kernel spreads connections).
    """
    wire = redacting_logger()
    quiet(wire, logging.getLogger("realtime_kit.server"))
    return await serve(
        handler,
        host,
        port,
        ssl=tls,
        process_request=check_handshake,
        select_subprotocol=_select_subprotocol,
        max_size=MAX_FRAME_BYTES,
        compression=None,  # audio is base64 noise: deflate costs CPU for little gain
        # a dead client is noticed within ping_interval_s + ping_timeout_s (the client's websockets answers
        # pings on its own, even while a notebook cell runs, as long as the kernel's loop is not blocked)
        ping_interval=limits.ping_interval_s,
        ping_timeout=limits.ping_timeout_s,
        max_queue=limits.max_queued_frames,  # frames read ahead of the protocol: back-pressure, not memory
        close_timeout=1,  # loopback peers answer in ms; a blocked one (a notebook in stop()) is not waited for
        server_header="realtime-kit-local",
        logger=wire,
        reuse_port=reuse_port or None,  # passed on to loop.create_server
    )


def _select_subprotocol(_connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    chosen = chosen_subprotocol(offered)
    return None if chosen is None else Subprotocol(chosen)


def keep_alive(connection: ServerConnection, idle_s: int) -> None:
    """TCP keepalive on a session's socket: a peer that stopped acknowledging is dropped in ~idle_s + 6 s."""
    sock = connection.transport.get_extra_info("socket")
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", idle_s), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, option):  # Linux names; other systems keep their defaults
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def listening_port(server: Server) -> int:
    """The IPv4 socket's port when there is one (port 0 on "localhost" binds each family anew)."""
    sockets = sorted(server.sockets, key=lambda sock: sock.family != socket.AF_INET)
    return int(sockets[0].getsockname()[1])


def url_host(host: str) -> str:
    """The host to put in a URL: wildcards and "localhost" become 127.0.0.1, IPv6 gets brackets.

        >>> url_host("0.0.0.0"), url_host("::1"), url_host("example.org")
        ('127.0.0.1', '[::1]', 'example.org')
    """
    if host in ("", "0.0.0.0", "::", "localhost"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def server_ssl_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """A TLS server context from a PEM certificate and key; ConfigError when they do not load."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"LocalServer: cannot load the TLS certificate {certfile!r} with key {keyfile!r} ({exc}); "
            "pass a PEM certificate and its private key."
        ) from exc
    return context
