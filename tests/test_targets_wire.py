"""Each target kind over loopback: the URL, query and credential the SDK really sends."""

from __future__ import annotations

import hashlib
import socket

import pytest
from azure.core.credentials import AccessToken

from realtime_kit.errors import TargetError
from realtime_kit.server import LocalServer, shared_server
from realtime_kit.session.targets import RealtimeLink, open_connection, resolve_target

pytestmark = pytest.mark.wire

AZURE_KEY = "azure-key-wire-0123456789"
OPENAI_KEY = "sk-wire-0123456789"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class CountingCredential:
    """A fake azure.identity.aio credential: a new token per call, and a count of the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.calls.append(scopes)
        return AccessToken(f"entra-token-{len(self.calls)}", 4_102_444_800)

    async def close(self) -> None:
        self.closed = True


class SignedOutCredential(CountingCredential):
    """Like DefaultAzureCredential on a machine where nobody ran `az login`."""

    async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        from azure.identity import CredentialUnavailableError

        raise CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token")


async def connect_once(target) -> None:
    link = await open_connection(target)
    await link.close()


async def test_azure_entra_fetches_a_token_for_every_connect(local_server: LocalServer):
    """Two connects ask the credential twice (scope cognitiveservices) and send each token as Bearer."""
    credential = CountingCredential()
    target = resolve_target("azure", env={"AZURE_OPENAI_ENDPOINT": local_server.url.replace("ws://", "http://"),
                                          "AZURE_OPENAI_DEPLOYMENT_NAME": "gpt-realtime-mini"}, credential=credential)
    await connect_once(target)
    await connect_once(target)
    assert credential.calls == [("https://cognitiveservices.azure.com/.default",)] * 2
    first, second = local_server.handshakes
    assert (first.path, first.query, first.auth_scheme) == (
        "/openai/v1/realtime", {"model": "gpt-realtime-mini"}, "bearer")
    assert first.credential_sha256 == sha256("entra-token-1")
    assert second.credential_sha256 == sha256("entra-token-2")
    assert not credential.closed  # the caller's credential stays the caller's to close


async def test_azure_key_sends_api_key_and_no_authorization(local_server: LocalServer):
    """An Azure key goes in the api-key header; no Authorization header is sent at all."""
    env = {"AZURE_OPENAI_ENDPOINT": local_server.url + "/", "AZURE_OPENAI_API_KEY": AZURE_KEY}
    await connect_once(resolve_target(env=env))
    (handshake,) = local_server.handshakes
    assert (handshake.path, handshake.query) == ("/openai/v1/realtime", {"model": "gpt-realtime-2.1"})
    assert handshake.auth_scheme == "api-key" and handshake.credential_sha256 == sha256(AZURE_KEY)
    assert "api-key" in handshake.header_names and "authorization" not in handshake.header_names


async def test_openai_key_is_bearer_on_the_v1_path(local_server: LocalServer):
    """OpenAI-style: .../v1 base, /v1/realtime?model=..., Authorization: Bearer key."""
    target = resolve_target("openai", env={"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_REALTIME_MODEL": "gpt-realtime-mini"},
                            endpoint=local_server.openai_base_url)
    await connect_once(target)
    (handshake,) = local_server.handshakes
    assert (handshake.path, handshake.query) == ("/v1/realtime", {"model": "gpt-realtime-mini"})
    assert handshake.auth_scheme == "bearer" and handshake.credential_sha256 == sha256(OPENAI_KEY)


async def test_a_url_without_a_key_sends_no_credential(local_server: LocalServer):
    """A bare ws:// URL connects on /openai/v1/realtime with no Authorization or api-key header."""
    await connect_once(resolve_target(local_server.url, env={"OPENAI_API_KEY": OPENAI_KEY}))
    (handshake,) = local_server.handshakes
    assert handshake.path == "/openai/v1/realtime" and handshake.auth_scheme is None
    assert "authorization" not in handshake.header_names and "api-key" not in handshake.header_names


async def test_local_starts_the_shared_server_and_fills_in_its_url():
    """"local" connects to the process-wide embedded server with the placeholder key."""
    link = await open_connection(resolve_target("local", env={}))
    try:
        server = shared_server()
        assert link.target.websocket_base_url == server.azure_base_url
        assert server.azure_base_url in link.target.describe()
        handshake = server.handshakes[-1]
        assert handshake.path == "/openai/v1/realtime" and handshake.credential_sha256 == sha256("local")
    finally:
        await link.close()


async def test_the_link_unpacks_and_stands_in_for_the_connection(local_server: LocalServer):
    """client, connection = link; link.send / link.session reach the SDK connection."""
    link = await open_connection(resolve_target(local_server.url, env={}))
    try:
        client, connection = link
        assert isinstance(link, RealtimeLink)
        assert link.session is connection.session and client is link.client
        assert local_server.url in repr(link)
    finally:
        await link.close()


async def test_a_wrong_key_is_a_sentence_naming_the_variable():
    """A 401 from the server becomes a TargetError that names AZURE_OPENAI_API_KEY and hides the key."""
    with LocalServer(api_key="the-right-key") as server:
        env = {"AZURE_OPENAI_ENDPOINT": server.url, "AZURE_OPENAI_API_KEY": AZURE_KEY}
        with pytest.raises(TargetError) as caught:
            await open_connection(resolve_target(env=env))
    assert "HTTP 401" in str(caught.value) and "AZURE_OPENAI_API_KEY" in str(caught.value)
    assert AZURE_KEY not in str(caught.value)


async def test_a_wrong_path_is_a_404_sentence(local_server: LocalServer):
    """A URL with a path the server does not serve names the URL and the model."""
    with pytest.raises(TargetError, match="HTTP 404"):
        await open_connection(resolve_target(local_server.url + "/nowhere", env={}))


async def test_a_closed_port_is_connection_refused():
    """Nothing listening: the sentence says so and asks whether the server runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TargetError, match="connection refused"):
        await open_connection(resolve_target(f"ws://127.0.0.1:{port}", env={}))


async def test_signed_out_entra_says_az_login_before_connecting(local_server: LocalServer):
    """CredentialUnavailableError becomes 'run `az login` or set AZURE_OPENAI_API_KEY'; no handshake."""
    target = resolve_target("azure", env={}, endpoint=local_server.url, credential=SignedOutCredential())
    with pytest.raises(TargetError, match=r"run `az login` or set AZURE_OPENAI_API_KEY"):
        await open_connection(target)
    assert local_server.handshakes == []


async def test_wss_with_a_trusted_certificate(tls_files):
    """connect options reach the SDK: a wss:// local server with its own CA connects."""
    with LocalServer(certfile=str(tls_files.certfile), keyfile=str(tls_files.keyfile)) as server:
        assert server.url.startswith("wss://")
        target = resolve_target(server.url, env={}, api_key="k-123456")
        link = await open_connection(target, websocket_connection_options={"ssl": tls_files.client_context()})
        await link.close()
        with pytest.raises(TargetError, match="TLS"):
            await open_connection(target)
        assert server.handshakes[0].credential_sha256 == sha256("k-123456")
