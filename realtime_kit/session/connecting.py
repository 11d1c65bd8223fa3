"""rk.connect: what it returns (awaitable, or an async context manager) and how it opens a Session.

    session = await rk.connect()                  # Azure, OpenAI, or the embedded local server
    async with rk.connect("local", voice="echo") as session: ...
    rk.connect()                                  # not awaited: its repr and attributes say so

connect's keywords go three ways: session config (sent as a session.update once connected), the
connection's life (record=, replay=, reconnect=: links.py) and the target (targets.py).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import RealtimeKitError, TargetError

if TYPE_CHECKING:
    from .core import Session

__all__ = ["LOCAL_NOTICE", "Connecting", "connect"]

LOCAL_NOTICE = ("No REALTIME_KIT_URL, AZURE_OPENAI_ENDPOINT or OPENAI_API_KEY set: using the embedded local server "
                "at {url} (offline voice, not the real model).")

# Besides config.FLAT_KEYWORDS, these rk.connect keywords configure the session (the rest pick the target).
SESSION_EXTRA_KEYWORDS = frozenset({"config", "audio", "include", "prompt"})
# rk.connect keywords about the connection's life: recording, replay and reconnecting (links.py).
LINK_KEYWORDS = frozenset({"record", "record_overwrite", "replay", "replay_pace", "reconnect"})


# -- connect --------------------------------------------------------------------------------------


def connect(target: str | None = None, **options: Any) -> Connecting:
    """Open a session: `await rk.connect()` or `async with rk.connect() as session:`.

    `target` is None (from the environment: Azure, then OpenAI, else the embedded server), "local",
    "azure", "openai" or a ws:// URL. Session keywords (voice=, instructions=, turn_detection=, ...)
    are sent as a session.update once connected; other options go to the target (model=, ...).
    record="lesson.rkrec" records the session; replay="lesson.rkrec" (replay_pace="recorded" or "fast")
    answers from a recording on a private embedded server; reconnect=True (the default) keeps the
    session over dropped connections and the service's time limit (see links.py).
    """
    return Connecting(target, options)


class Connecting:
    """What rk.connect returns: awaitable (gives the Session) and an async context manager (closes it)."""

    def __init__(self, target: str | None, options: Mapping[str, Any]) -> None:
        self._target = target
        self._options = dict(options)
        self._session: Session | None = None

    def __await__(self) -> Generator[Any, None, Session]:
        return self._open().__await__()

    async def __aenter__(self) -> Session:
        self._session = await self._open()
        return self._session

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

    def __getattr__(self, name: str) -> Any:
        from .core import Session

        if name.startswith("_") or not hasattr(Session, name):
            raise AttributeError(f"'Connecting' object has no attribute {name!r}")
        raise AttributeError(f"rk.connect() gives something to await, not a session yet: did you forget `await`? "
                             f"Write `session = await rk.connect(...)`, then session.{name}.")

    def __repr__(self) -> str:
        return "<rk.connect(...) not awaited yet: write `session = await rk.connect(...)`>"

    async def _open(self) -> Session:
        from ..config.build import FLAT_KEYWORDS
        from ..rules import shutdown_notice
        from .core import Session
        from .links import Links
        from .targets import open_connection, resolve_target

        intent = self._options.pop("intent", None)
        if intent not in (None, "transcription"):
            raise TargetError(f"rk.connect: intent={intent!r} is not one the service knows; use "
                              "intent=\"transcription\" for a transcription session, or leave it out.")
        names = SESSION_EXTRA_KEYWORDS.union(FLAT_KEYWORDS)
        links = Links.of({k: v for k, v in self._options.items() if k in LINK_KEYWORDS})
        session_options = {k: v for k, v in self._options.items() if k in names}
        target_options = {k: v for k, v in self._options.items() if k not in names and k not in LINK_KEYWORDS}
        server = links.start_replay_server(self._target)
        target = resolve_target(server.url if server else self._target, **target_options)
        try:
            connection = await open_connection(target, intent=intent)
        except RealtimeKitError:
            links.stop(server)
            raise
        except Exception as err:
            links.stop(server)
            raise TargetError(f"Could not connect to {target.description}: {err}. Check the endpoint and "
                              f"credential, or use rk.connect('local') for the embedded server.") from err
        target = getattr(connection, "target", target)  # the local server's URL is known once it runs
        if self._target is None and target.kind == "local":
            print(LOCAL_NOTICE.format(url=_origin(target.websocket_base_url)))
        notice = shutdown_notice(target.model) if intent is None else None
        if notice is not None:
            print(notice)
        session = Session(connection, target, reconnect=links.reconnect, own_server=server)
        links.attach(session, target)
        await session._start()
        if session_options:
            config = session_options.pop("config", None)
            try:
                await session.update(config, **session_options)
            except BaseException:
                await session.close()
                raise
        return session


def _origin(url: str) -> str:
    """ws://host:port of a websocket base URL (the notice shows where the server listens)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"
