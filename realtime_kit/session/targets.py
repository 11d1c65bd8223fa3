"""Where to connect: Azure OpenAI (Entra ID or key), OpenAI, the embedded local server, or a URL.

Resolution is pure (the environment is a mapping you can pass in); ``open_connection`` is the thin
I/O shell over the official SDK, and the one place where foreign exceptions become sentences::

    >>> target = resolve_target(env={"AZURE_OPENAI_ENDPOINT": "https://my-aoai.openai.azure.com/"})
    >>> target.describe()
    'Using Azure OpenAI at wss://my-aoai.openai.azure.com/openai/v1, deployment gpt-realtime-2.1, keyless (Entra ID)'
    >>> resolve_target(env={}).kind
    'local'

A room shares one server: the instructor starts ``python -m realtime_kit.server --api-key K`` (wss://
with a certificate), and every attendee sets REALTIME_KIT_URL (and REALTIME_KIT_API_KEY); then a plain
``rk.connect()`` in every notebook uses it, ahead of any Azure or OpenAI variable::

    >>> room = resolve_target(env={"REALTIME_KIT_URL": "wss://room.example:8765"})
    >>> room.describe()  # doctest: +ELLIPSIS
    'Using the room server at wss://room.example:8765/openai/v1 (REALTIME_KIT_URL), model gpt-realtime-2.1, ...'
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import difflib
import functools
import inspect
import os
import socket
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlsplit

from ..errors import ConnectionLost, RealtimeKitError, TargetError
from ..redaction import redacting_logger
from ..rules import CURRENT_MODEL

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from openai.resources.realtime.realtime import AsyncRealtimeConnection

TargetKind = Literal["azure", "openai", "local", "url"]
AuthKind = Literal["entra", "azure-key", "openai-key", "bearer", "none"]

DEFAULT_MODEL = CURRENT_MODEL
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
OPENAI_WEBSOCKET_BASE = "wss://api.openai.com/v1"
# Keyword options resolve_target understands (rk.connect passes the rest on to the session).
TARGET_OPTIONS = ("endpoint", "api_key", "deployment", "model", "credential", "pace")
# rk.connect's own option beside them (taken before the target is resolved): named in did-you-mean hints.
CONNECT_OPTIONS = (*TARGET_OPTIONS, "intent")
# The room server: set in every attendee's environment, it points a plain rk.connect() at a shared server.
ROOM_URL_VARIABLE = "REALTIME_KIT_URL"
ROOM_KEY_VARIABLE = "REALTIME_KIT_API_KEY"
PACES = ("fast", "realtime")
_KIND_NAMES: dict[str, TargetKind] = {"local": "local", "azure": "azure", "openai": "openai"}
_KINDS = tuple(_KIND_NAMES)
_AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")
_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_SECRET_QUERY = ("key", "token", "secret", "sig", "password")


class Secret:
    """A key or token that never shows itself in a repr, str or log line.

        >>> Secret("sk-live-123")
        Secret('********')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Target:
    """A resolved place to connect. Its repr, str and description never contain a key or token."""

    kind: TargetKind
    websocket_base_url: str  # "" for "local" until the embedded server starts
    model: str
    auth: AuthKind
    description: str
    api_key: Secret | None = field(default=None, repr=False, compare=False)
    credential: Any = field(default=None, repr=False, compare=False)  # an azure async TokenCredential
    pace: str = field(default="fast", repr=False)  # the embedded server's pacing ("local" only)

    def describe(self) -> str:
        """One line for the notice printed on connect."""
        return f"Using {self.description}"

    def __str__(self) -> str:
        return self.describe()


def resolve_target(target: str | None = None, *, env: Mapping[str, str] | None = None, **options: Any) -> Target:
    """Decide where to connect, from ``target``, keyword options and the environment (options win).

    ``None`` picks the room server if REALTIME_KIT_URL is set (key from REALTIME_KIT_API_KEY), else
    Azure if AZURE_OPENAI_ENDPOINT is set (Entra ID unless AZURE_OPENAI_API_KEY), else OpenAI if
    OPENAI_API_KEY is set, else the embedded local server. Or name one: ``"local"``, ``"room"``,
    ``"azure"``, ``"openai"``, or a ws://, wss://, http:// or https:// URL. Options: endpoint=,
    api_key=, deployment= (or model=), credential= (an azure.identity.aio credential), pace= (the
    embedded server's: "fast", its default, or "realtime", audio no faster than it plays; other
    servers pace themselves, so it changes nothing there).

        >>> resolve_target("openai", env={"OPENAI_API_KEY": "sk-test"})
        Target(kind='openai', websocket_base_url='wss://api.openai.com/v1', model='gpt-realtime-2.1', \
auth='openai-key', description='OpenAI at wss://api.openai.com/v1, model gpt-realtime-2.1, API key from OPENAI_API_KEY')
    """
    settings = _Settings(os.environ if env is None else env, options)
    _check_pace(settings)
    kind, url = _choose(target, settings)
    if kind == "room":
        return _room(settings, url or "")
    if kind == "azure":
        return _azure(settings, url)
    if kind == "openai":
        return _openai(settings)
    if kind == "url":
        return _url(settings, url or "")
    return _local(settings)


# -- resolution (pure) ------------------------------------------------------------------------------


class _Settings:
    """Options first, then the environment; remembers where each value came from for messages."""

    def __init__(self, env: Mapping[str, str], options: Mapping[str, Any]) -> None:
        unknown = [name for name in options if name not in TARGET_OPTIONS]
        if unknown:
            raise TargetError(_unknown_option(unknown[0]))
        self.env = env
        self.options = {name: value for name, value in options.items() if value is not None}

    def get(self, option: str | None, variable: str | None) -> tuple[Any, str]:
        """(value, where it came from), empty strings counting as unset; (None, "") if neither is set."""
        if option and option in self.options:
            return self.options[option], f"{option}="
        value = self.env.get(variable, "") if variable else ""
        value = value.strip().strip("\"'")
        return (value, variable) if value and variable else (None, "")

    def model(self, variable: str | None) -> str:
        for option in ("deployment", "model"):
            if option in self.options:
                return str(self.options[option])
        value, _ = self.get(None, variable)
        return value or DEFAULT_MODEL


def _unknown_option(name: str) -> str:
    """The sentence for an rk.connect keyword that is neither a connection option nor a session keyword."""
    from ..config.build import FLAT_KEYWORDS
    from .connecting import SESSION_EXTRA_KEYWORDS

    session_keywords = sorted(SESSION_EXTRA_KEYWORDS.union(FLAT_KEYWORDS))
    guess = difflib.get_close_matches(name, [*CONNECT_OPTIONS, *session_keywords], n=1, cutoff=0.6)
    if guess and guess[0] in CONNECT_OPTIONS:
        return f"Unknown option {name}=; did you mean {guess[0]}= (a connection option)?"
    if guess:
        return f"Unknown option {name}=; did you mean {guess[0]}= (a session keyword)?"
    return (f"Unknown option {name}=; connection options are {', '.join(CONNECT_OPTIONS)}, and session keywords "
            f"include {', '.join(session_keywords[:8])}, ...")


def _check_pace(settings: _Settings) -> None:
    pace = settings.options.get("pace", "fast")
    if pace not in PACES:
        guess = difflib.get_close_matches(str(pace), PACES, n=1)
        hint = f"did you mean {guess[0]!r}? " if guess else ""
        raise TargetError(f"pace={pace!r} is not a pace; {hint}use 'realtime' (audio no faster than it plays, "
                          "for lessons about timing) or 'fast' (as fast as it can).")


def _choose(target: str | None, settings: _Settings) -> tuple[TargetKind | Literal["room"], str | None]:
    if target is not None and not isinstance(target, str):
        raise TargetError(f"target must be 'local', 'azure', 'openai' or a URL, not {type(target).__name__}.")
    room = settings.get(None, ROOM_URL_VARIABLE)[0]
    if target is not None and target.strip().lower() == "room":
        if not room:
            raise TargetError(f"The room server's address is not set: set {ROOM_URL_VARIABLE} to the URL the "
                              f"instructor gave (e.g. wss://room.example:8765), and {ROOM_KEY_VARIABLE} to its key.")
        return "room", room
    if target is None or target.strip().lower() in ("", "auto"):
        if room and "endpoint" not in settings.options:
            return "room", room
        if settings.get("endpoint", "AZURE_OPENAI_ENDPOINT")[0]:
            return "azure", None
        if settings.get("api_key", "OPENAI_API_KEY")[0]:
            return "openai", None
        return "local", None
    text = target.strip()
    kind = _KIND_NAMES.get(text.lower())
    if kind is not None:
        return kind, None
    if "://" in text:
        host = (urlsplit(text).hostname or "").lower()
        return ("azure" if host.endswith(_AZURE_HOSTS) else "url"), text
    if "." in text or ":" in text:
        raise TargetError(f"Target {text!r} has no scheme; did you mean 'https://{text.rstrip('/')}/'? "
                          "A URL needs https:// (or wss://, ws://, http://).")
    guess = difflib.get_close_matches(text.lower(), _KINDS, n=1)
    hint = f"did you mean {guess[0]!r}? " if guess else ""
    raise TargetError(f"Unknown target {text!r}; {hint}use 'local', 'room', 'azure', 'openai' or a URL such as "
                      "https://my-resource.openai.azure.com/.")


def _azure(settings: _Settings, url: str | None) -> Target:
    endpoint, source = (url, "the target URL") if url else settings.get("endpoint", "AZURE_OPENAI_ENDPOINT")
    if url and "endpoint" in settings.options:
        raise TargetError("Pass the Azure endpoint once: as the target URL or as endpoint=, not both.")
    if not endpoint:
        raise TargetError("Connecting to Azure OpenAI needs your resource's endpoint: set AZURE_OPENAI_ENDPOINT "
                          "to the endpoint the Azure portal shows (https://<resource>.openai.azure.com/), "
                          "or pass endpoint=.")
    base, query = _websocket_base(str(endpoint), source, default_path="/openai/v1", azure=True)
    model = settings.model("AZURE_OPENAI_DEPLOYMENT_NAME")
    if "deployment" not in settings.options and "model" not in settings.options and query.get("deployment"):
        model = query["deployment"][0]  # a preview-style URL pasted whole: ...?deployment=name
    credential = settings.options.get("credential")
    if credential is not None and not inspect.iscoroutinefunction(getattr(credential, "get_token", None)):
        raise TargetError("credential= must be an async Azure credential, e.g. "
                          "azure.identity.aio.DefaultAzureCredential() (not the one from azure.identity).")
    key, key_source = settings.get("api_key", None if credential is not None else "AZURE_OPENAI_API_KEY")
    if key and credential is not None:
        raise TargetError("Pass either api_key= or credential= for Azure, not both.")
    where = f"Azure OpenAI at {base}, deployment {model}"
    if key:
        return Target("azure", base, model, "azure-key", f"{where}, API key from {key_source}",
                      api_key=Secret(str(key)))
    return Target("azure", base, model, "entra", f"{where}, keyless (Entra ID)", credential=credential)


def _openai(settings: _Settings) -> Target:
    key, key_source = settings.get("api_key", "OPENAI_API_KEY")
    if not key:
        raise TargetError("Connecting to OpenAI needs an API key: set OPENAI_API_KEY or pass api_key=.")
    endpoint, source = settings.get("endpoint", "OPENAI_BASE_URL")
    base = _websocket_base(str(endpoint), source, default_path="/v1")[0] if endpoint else OPENAI_WEBSOCKET_BASE
    model = settings.model("OPENAI_REALTIME_MODEL")
    return Target("openai", base, model, "openai-key", f"OpenAI at {base}, model {model}, API key from {key_source}",
                  api_key=Secret(str(key)))


def _url(settings: _Settings, url: str) -> Target:
    if "endpoint" in settings.options:
        raise TargetError("Pass the server once: as the target URL or as endpoint=, not both.")
    base, _ = _websocket_base(url, "the target URL", default_path="/openai/v1")
    model = settings.model(None)
    # Only an explicit api_key= goes to an arbitrary URL: keys from the environment stay with their service.
    key, _ = settings.get("api_key", None)
    if key:
        return Target("url", base, model, "bearer", f"the server at {base}, model {model}, API key (Bearer)",
                      api_key=Secret(str(key)))
    return Target("url", base, model, "none", f"the server at {base}, model {model}, no credentials")


def _room(settings: _Settings, url: str) -> Target:
    """The shared server of a workshop room, from REALTIME_KIT_URL and REALTIME_KIT_API_KEY (or api_key=)."""
    base, _ = _websocket_base(url, ROOM_URL_VARIABLE, default_path="/openai/v1")
    model = settings.model(None)
    key, key_source = settings.get("api_key", ROOM_KEY_VARIABLE)
    where = f"the room server at {base} ({ROOM_URL_VARIABLE}), model {model}"
    if key:
        return Target("url", base, model, "bearer", f"{where}, API key from {key_source}", api_key=Secret(str(key)))
    return Target("url", base, model, "none", f"{where}, no credentials")


def _local(settings: _Settings) -> Target:
    for option in ("endpoint", "credential"):
        if option in settings.options:
            raise TargetError(f"The embedded local server needs no {option}=; drop it, or connect to 'azure', "
                              "'openai' or a URL.")
    key, _ = settings.get("api_key", None)
    model = settings.model(None)
    pace = str(settings.options.get("pace", "fast"))
    paced = ", paced in real time" if pace == "realtime" else ""
    return Target("local", "", model, "bearer",
                  f"the embedded local server (offline, on loopback), model {model}{paced}",
                  api_key=Secret(str(key or "local")), pace=pace)


def _websocket_base(
    endpoint: str, source: str, *, default_path: str, azure: bool = False
) -> tuple[str, dict[str, list[str]]]:
    """A portal endpoint or pasted URL -> the GA websocket_base_url (the SDK appends /realtime).

        >>> _websocket_base("https://x.openai.azure.com/", "AZURE_OPENAI_ENDPOINT", default_path="/openai/v1",
        ...                 azure=True)[0]
        'wss://x.openai.azure.com/openai/v1'
    """
    text = endpoint.strip().strip("\"'")
    parts = urlsplit(text)
    example = "https://my-resource.openai.azure.com/" if azure else "wss://host:port/v1"
    if not parts.scheme or "://" not in text:
        if text and " " not in text and ("." in text or ":" in text):
            raise TargetError(f"{source} is {text!r}, which has no scheme; did you mean "
                              f"'https://{text.rstrip('/')}/'?")
        raise TargetError(f"{source} is {text!r}, which is not a URL; set it to a URL like {example}.")
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise TargetError(f"{source} is {text!r}, which is not a usable URL; use https:// (or wss://, ws://, "
                          f"http://) and a host name, like {example}.")
    if parts.username or parts.password:
        raise TargetError(f"{source} carries a user name or password; pass the key as api_key= instead.")
    query = parse_qs(parts.query)
    if any(marker in name.lower() for name in query for marker in _SECRET_QUERY):
        raise TargetError(f"{source} carries a credential in its query string; pass it as api_key= instead.")
    path = _strip_suffixes(parts.path, azure)
    base = f"{scheme}://{parts.netloc}{path if path and not azure else path + default_path}"
    if not azure and parts.query:
        base += f"?{parts.query}"
    return base, query


def _strip_suffixes(path: str, azure: bool) -> str:
    """Tolerate '/openai/v1', '/openai/v1/realtime' (and the preview '/openai/realtime') pasted in."""
    path = path.rstrip("/")
    path = path.removesuffix("/realtime").rstrip("/")
    if azure:
        path = path.removesuffix("/v1").removesuffix("/openai")
    return path


# -- the I/O shell ----------------------------------------------------------------------------------


class RealtimeLink:
    """An open Realtime connection with the client (and credential) it needs.

    Unpacks as ``client, connection = await open_connection(target)``; also stands in for the
    connection itself (``await link.send(...)``, ``async for event in link``). ``close()`` closes all.
    """

    def __init__(self, client: AsyncOpenAI, connection: AsyncRealtimeConnection, target: Target,
                 owned_credential: Any = None) -> None:
        self.client = client
        self.connection = connection
        self.target = target
        self._owned_credential = owned_credential

    def __iter__(self) -> Iterator[Any]:
        return iter((self.client, self.connection))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self.connection.__aiter__()

    def __repr__(self) -> str:
        return f"RealtimeLink({self.target.describe()!r})"

    async def close(self) -> None:
        """Close the WebSocket, the SDK client and any credential we created; errors on the way out are dropped."""
        with contextlib.suppress(Exception):
            await self.connection.close()
        with contextlib.suppress(Exception):
            await self.client.close()
        if self._owned_credential is not None:
            with contextlib.suppress(Exception):
                await self._owned_credential.close()

    async def __aenter__(self) -> RealtimeLink:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def open_connection(target: Target, *, intent: str | None = None, **connect_options: Any) -> RealtimeLink:
    """Connect with the official SDK (``AsyncOpenAI(...).realtime.connect``); rk errors on failure.

    Entra ID fetches a token for every connect (a fresh provider each time); an Azure key goes in the
    ``api-key`` header with no Authorization header; OpenAI keys and the local server use Bearer.

        link = await open_connection(resolve_target("local"))
        await link.session.update(session={"type": "realtime", "instructions": "Be brief."})
    """
    import openai

    target = await _started(target)
    api_key, headers, credential, owned = _auth(target)
    client = openai.AsyncOpenAI(websocket_base_url=target.websocket_base_url, api_key=api_key,
                                http_client=openai.DefaultAsyncHttpxClient(verify=_tls_context()))
    extra_headers = {**headers, **connect_options.pop("extra_headers", {})}
    # websockets logs every handshake header at DEBUG: give it a logger that redacts the credential
    ws_options = {"logger": redacting_logger("realtime_kit.websockets"),
                  **connect_options.pop("websocket_connection_options", {})}
    connect_options["websocket_connection_options"] = ws_options
    try:
        connection = await client.realtime.connect(model=_model_for(target, intent), extra_headers=extra_headers,
                                                   **_intent_query(intent), **connect_options).enter()
    except Exception as exc:
        await _close_quietly(client, credential if owned else None)
        translated = translate_error(exc, target)
        if translated is exc:
            raise
        raise translated from exc
    return RealtimeLink(client, connection, target, credential if owned else None)


def _model_for(target: Target, intent: str | None) -> Any:
    """The model query: a transcription session names none (the SDK: "Transcription sessions use
    intent=transcription"), except on Azure, whose URL always names the deployment."""
    import openai

    return openai.omit if intent == "transcription" and target.kind != "azure" else target.model


def _intent_query(intent: str | None) -> dict[str, Any]:
    return {"extra_query": {"intent": intent}} if intent else {}


@functools.cache
def _tls_context() -> ssl.SSLContext | bool:
    """The SDK HTTP client's default TLS context, made once: loading the CA bundle costs ~50 ms a connect."""
    try:
        import httpx2  # the openai SDK's HTTP library

        return httpx2.create_ssl_context()
    except (ImportError, AttributeError):
        return True  # let the client make its own


async def _started(target: Target) -> Target:
    """The local target with the embedded server's URL filled in (starting it on first use)."""
    if target.kind != "local" or target.websocket_base_url:
        return target
    from ..server import shared_server

    server = await asyncio.to_thread(shared_server, "realtime" if target.pace == "realtime" else "fast")
    base = server.azure_base_url
    return dataclasses.replace(target, websocket_base_url=base,
                               description=target.description.replace("on loopback", f"at {base}"))


def _auth(target: Target) -> tuple[Any, dict[str, Any], Any, bool]:
    """(api_key for AsyncOpenAI, extra headers, credential, whether we created it)."""
    import openai

    key = target.api_key.reveal() if target.api_key is not None else ""
    if target.auth == "entra":
        from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider

        owned = target.credential is None
        credential = DefaultAzureCredential() if owned else target.credential
        # A new provider per connect: its policy has no cached token, so every connect asks the credential.
        return get_bearer_token_provider(credential, ENTRA_SCOPE), {}, credential, owned
    if target.auth == "azure-key":
        return key, {"api-key": key, "Authorization": openai.Omit()}, None, False
    if target.auth == "none":
        return "unused", {"Authorization": openai.Omit()}, None, False
    return key, {}, None, False


async def _close_quietly(client: Any, credential: Any) -> None:
    with contextlib.suppress(Exception):
        await client.close()
    if credential is not None:
        with contextlib.suppress(Exception):
            await credential.close()


# -- foreign exceptions -> sentences ----------------------------------------------------------------


def translate_error(exc: BaseException, target: Target) -> BaseException:
    """The rk error for a failure while connecting to ``target`` (``exc`` itself if it is not ours to explain)."""
    if isinstance(exc, RealtimeKitError):
        return exc
    where = f"{target.websocket_base_url}/realtime" if target.websocket_base_url else "the local server"
    setting = _setting_hint(target)
    azure_auth = _azure_auth_error(exc)
    if azure_auth is not None:
        return azure_auth
    status = _handshake_status(exc)
    if status is not None:
        return TargetError(_status_sentence(status, where, target, _body(exc, target)))
    if isinstance(exc, socket.gaierror):
        host = urlsplit(target.websocket_base_url).hostname
        return TargetError(f"Cannot find the host {host!r} (DNS lookup failed): check the spelling of {setting}, "
                           "and the network.")
    if isinstance(exc, ConnectionRefusedError):
        return TargetError(f"Nothing is listening at {where} (connection refused): is the server running? "
                           f"Check {setting}.")
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or exc
        return TargetError(f"The TLS handshake with {where} failed ({reason}): check {setting} "
                           "(https:// for Azure and OpenAI; ws:// or http:// for a local server).")
    if isinstance(exc, TimeoutError):
        return TargetError(f"No answer from {where} (timed out): check {setting} and the network.")
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

    if isinstance(exc, InvalidURI):
        return TargetError(f"{target.websocket_base_url!r} is not a valid WebSocket URL: check {setting}.")
    if isinstance(exc, ConnectionClosed):
        return ConnectionLost(f"The connection to {where} closed during the handshake ({exc}); try again.")
    if isinstance(exc, InvalidHandshake):
        return TargetError(f"{where} did not answer as a WebSocket server ({exc}): check {setting}.")
    if isinstance(exc, OSError):
        return TargetError(f"Cannot reach {where} ({exc.strerror or exc}): check {setting} and the network.")
    import openai

    if isinstance(exc, openai.OpenAIError):
        return TargetError(f"The openai SDK refused to connect to {where}: {exc}")
    return exc


def _is_room(target: Target) -> bool:
    return target.kind == "url" and f"({ROOM_URL_VARIABLE})" in target.description


def _setting_hint(target: Target) -> str:
    if _is_room(target):
        return ROOM_URL_VARIABLE
    return {
        "azure": "AZURE_OPENAI_ENDPOINT (or endpoint=)",
        "openai": "OPENAI_BASE_URL (or endpoint=), if you set one",
        "url": "the URL you passed",
        "local": "the embedded server (rk.LocalServer)",
    }[target.kind]


def _status_sentence(status: int, where: str, target: Target, body: str) -> str:
    detail = f" The server said: {body}" if body else ""
    if status in (401, 403) and _is_room(target):
        return (f"{where} refused the credentials (HTTP {status}): set {ROOM_KEY_VARIABLE} to the key the "
                f"instructor gave (the server's --api-key).{detail}")
    if status in (401, 403):
        fix = {
            "entra": "make sure your account has the 'Cognitive Services User' role on the resource (or set "
                     "AZURE_OPENAI_API_KEY), then `az login` again",
            "azure-key": "check AZURE_OPENAI_API_KEY (or api_key=): copy a key from the resource's 'Keys and "
                         "Endpoint' page",
            "openai-key": "check OPENAI_API_KEY (or api_key=)",
            "bearer": "pass the api_key= the server was started with (--api-key)",
            "none": "pass api_key= (the server was started with --api-key)",
        }[target.auth]
        return f"{where} refused the credentials (HTTP {status}): {fix}.{detail}"
    if status == 404:
        name = "AZURE_OPENAI_DEPLOYMENT_NAME" if target.kind == "azure" else "model="
        return (f"{where} has no realtime endpoint for {target.model!r} (HTTP 404): check {_setting_hint(target)} "
                f"and {name}.{detail}")
    if status == 429:
        return f"{where} is rate limiting (HTTP 429): wait a moment and connect again.{detail}"
    return f"{where} refused the WebSocket handshake (HTTP {status}).{detail}"


def _handshake_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _body(exc: BaseException, target: Target) -> str:
    """A short, secret-free excerpt of a refusal's body."""
    raw = getattr(getattr(exc, "response", None), "body", b"") or b""
    text = bytes(raw).decode("utf-8", "replace").strip().replace("\n", " ")[:200]
    if target.api_key is not None and target.api_key.reveal():
        text = text.replace(target.api_key.reveal(), "********")
    return text


def _azure_auth_error(exc: BaseException) -> TargetError | None:
    try:
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import CredentialUnavailableError
    except ImportError:  # pragma: no cover - azure-identity is a dependency
        return None
    if isinstance(exc, CredentialUnavailableError):
        return TargetError("No Azure sign-in found for keyless (Entra ID) auth: run `az login` or set "
                           "AZURE_OPENAI_API_KEY.")
    if isinstance(exc, ClientAuthenticationError):
        first = str(exc.message or exc).strip().splitlines()[0][:200]
        return TargetError(f"Azure sign-in failed ({first}): run `az login` again or set AZURE_OPENAI_API_KEY.")
    return None
