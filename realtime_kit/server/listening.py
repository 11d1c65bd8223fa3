"""The embedded server's listening socket: websockets options, TLS, and the address clients should use.

    server = await listen(handler, "127.0.0.1", 0, tls=None, check_handshake=check)
    listening_port(server), url_host("0.0.0.0")          # (54321, '127.0.0.1')

Kept apart from ``LocalServer`` so its lifecycle code reads without the socket details.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from ..errors import ConfigError
from .handshake import chosen_subprotocol, redacting_logger

__all__ = ["MAX_FRAME_BYTES", "listen", "listening_port", "server_ssl_context", "url_host"]

# A 15 MiB append is ~15.7 MB of JSON; a bigger frame must reach the protocol to get its error event.
MAX_FRAME_BYTES = 32 * 1024 * 1024

Handler = Callable[[ServerConnection], Awaitable[None]]
HandshakeCheck = Callable[[ServerConnection, Request], Response | None]


async def listen(
    handler: Handler, host: str, port: int, *, tls: ssl.SSLContext | None, check_handshake: HandshakeCheck,
    reuse_port: bool = False,
) -> Server:
    """Start listening with the settings a realtime session needs (big frames, patient pings, no deflate).

    ``reuse_port``: several processes share the port (SO_REUSEPORT; the kernel spreads connections).
    """
    return await serve(
        handler,
        host,
        port,
        ssl=tls,
        process_request=check_handshake,
        select_subprotocol=_select_subprotocol,
        max_size=MAX_FRAME_BYTES,
        compression=None,  # audio is base64 noise: deflate costs CPU for little gain
        ping_interval=20,
        ping_timeout=120,  # a notebook kernel busy in a long cell should not lose its session
        close_timeout=1,  # loopback peers answer in ms; a blocked one (a notebook in stop()) is not waited for
        server_header="realtime-kit-local",
        logger=redacting_logger(),
        reuse_port=reuse_port or None,  # passed on to loop.create_server
    )


def _select_subprotocol(_connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    chosen = chosen_subprotocol(offered)
    return None if chosen is None else Subprotocol(chosen)


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
