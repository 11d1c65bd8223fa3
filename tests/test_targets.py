"""Where to connect: resolution from options and a passed-in environment, never the real one."""

from __future__ import annotations

import dataclasses
import pickle
import socket
import ssl

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from realtime_kit.errors import ConnectionLost, TargetError
from realtime_kit.session.targets import Secret, Target, resolve_target, translate_error

pytestmark = pytest.mark.pure

ENDPOINT = "https://my-aoai.openai.azure.com/"
AZURE_KEY = "azure-key-0123456789abcdef"
OPENAI_KEY = "sk-test-0123456789abcdef"


class FakeAsyncCredential:
    """Stands in for azure.identity.aio.DefaultAzureCredential (never called in these tests)."""

    async def get_token(self, *scopes: str, **kwargs: object) -> object:
        raise AssertionError("resolution must not fetch a token")


def target_error(*args, **kwargs) -> str:
    with pytest.raises(TargetError) as caught:
        resolve_target(*args, **kwargs)
    return str(caught.value)


# -- choosing the kind -----------------------------------------------------------------------------


def test_no_settings_means_the_local_server():
    """With nothing in the environment, the embedded server is chosen."""
    target = resolve_target(env={})
    assert (target.kind, target.auth, target.model, target.websocket_base_url) == ("local", "bearer",
                                                                                   "gpt-realtime-2.1", "")


def test_azure_endpoint_means_azure_with_entra():
    """AZURE_OPENAI_ENDPOINT alone picks Azure with keyless Entra ID, as the seed recommends."""
    target = resolve_target(env={"AZURE_OPENAI_ENDPOINT": ENDPOINT, "OPENAI_API_KEY": OPENAI_KEY})
    assert (target.kind, target.auth) == ("azure", "entra")
    assert target.websocket_base_url == "wss://my-aoai.openai.azure.com/openai/v1"
    assert target.model == "gpt-realtime-2.1"


def test_azure_key_in_the_environment_means_key_auth():
    """AZURE_OPENAI_API_KEY switches Azure to the api-key header."""
    target = resolve_target(env={"AZURE_OPENAI_ENDPOINT": ENDPOINT, "AZURE_OPENAI_API_KEY": AZURE_KEY})
    assert target.auth == "azure-key"
    assert target.api_key is not None and target.api_key.reveal() == AZURE_KEY


def test_openai_key_without_azure_means_openai():
    """OPENAI_API_KEY picks OpenAI when no Azure endpoint is set."""
    target = resolve_target(env={"OPENAI_API_KEY": OPENAI_KEY})
    assert (target.kind, target.auth, target.websocket_base_url) == ("openai", "openai-key",
                                                                     "wss://api.openai.com/v1")


def test_empty_variables_count_as_unset():
    """An empty AZURE_OPENAI_ENDPOINT (a blank .env line) does not pick Azure."""
    assert resolve_target(env={"AZURE_OPENAI_ENDPOINT": "  ", "AZURE_OPENAI_API_KEY": ""}).kind == "local"


@pytest.mark.parametrize("name", ["local", "LOCAL", " azure ", "openai"])
def test_explicit_kind_names(name):
    """The kind names are accepted in any case and with stray spaces."""
    env = {"AZURE_OPENAI_ENDPOINT": ENDPOINT, "OPENAI_API_KEY": OPENAI_KEY}
    assert resolve_target(name, env=env).kind == name.strip().lower()


def test_explicit_local_ignores_cloud_settings():
    """"local" wins over an Azure endpoint in the environment."""
    assert resolve_target("local", env={"AZURE_OPENAI_ENDPOINT": ENDPOINT}).kind == "local"


# -- Azure endpoints and deployments ---------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "base"), [
    ("https://x.openai.azure.com/", "wss://x.openai.azure.com/openai/v1"),
    ("https://x.openai.azure.com", "wss://x.openai.azure.com/openai/v1"),
    ("https://x.openai.azure.com/openai/v1", "wss://x.openai.azure.com/openai/v1"),
    ("https://x.openai.azure.com/openai/v1/", "wss://x.openai.azure.com/openai/v1"),
    ("wss://x.openai.azure.com/openai/v1/realtime", "wss://x.openai.azure.com/openai/v1"),
    ("https://x.openai.azure.com/openai/realtime?api-version=2024-10-01-preview",
     "wss://x.openai.azure.com/openai/v1"),
    ("http://127.0.0.1:8765", "ws://127.0.0.1:8765/openai/v1"),
    ("https://gateway.example.com:8443/aoai/", "wss://gateway.example.com:8443/aoai/openai/v1"),
    ('"https://x.openai.azure.com/"', "wss://x.openai.azure.com/openai/v1"),
])
def test_azure_endpoints_become_the_ga_websocket_base(endpoint, base):
    """Portal endpoints and pasted URLs normalise to .../openai/v1 (http -> ws, ports and prefixes kept)."""
    assert resolve_target("azure", env={"AZURE_OPENAI_ENDPOINT": endpoint}).websocket_base_url == base


def test_deployment_comes_from_the_environment_and_options_win():
    """AZURE_OPENAI_DEPLOYMENT_NAME names the deployment; deployment= or model= override it."""
    env = {"AZURE_OPENAI_ENDPOINT": ENDPOINT, "AZURE_OPENAI_DEPLOYMENT_NAME": "my-realtime"}
    assert resolve_target(env=env).model == "my-realtime"
    assert resolve_target(env=env, deployment="other").model == "other"
    assert resolve_target(env=env, model="mini").model == "mini"


def test_a_pasted_preview_url_keeps_its_deployment():
    """...?deployment=name from a preview-era URL is used when no deployment is set."""
    url = "https://x.openai.azure.com/openai/realtime?api-version=2024-10-01-preview&deployment=rt"
    assert resolve_target(env={"AZURE_OPENAI_ENDPOINT": url}).model == "rt"


def test_options_override_the_environment():
    """endpoint= and api_key= replace the environment's values."""
    env = {"AZURE_OPENAI_ENDPOINT": ENDPOINT, "AZURE_OPENAI_API_KEY": AZURE_KEY}
    target = resolve_target(env=env, endpoint="https://other.openai.azure.com", api_key="explicit-key-1234")
    assert target.websocket_base_url == "wss://other.openai.azure.com/openai/v1"
    assert target.api_key == Secret("explicit-key-1234")
    assert "api_key=" in target.description


def test_endpoint_option_alone_picks_azure():
    """endpoint= is AZURE_OPENAI_ENDPOINT's override, so it picks Azure too."""
    assert resolve_target(env={}, endpoint=ENDPOINT).kind == "azure"


def test_a_given_credential_means_entra_even_with_a_key_in_the_environment():
    """credential= wins over AZURE_OPENAI_API_KEY and is kept for open_connection."""
    credential = FakeAsyncCredential()
    env = {"AZURE_OPENAI_ENDPOINT": ENDPOINT, "AZURE_OPENAI_API_KEY": AZURE_KEY}
    target = resolve_target(env=env, credential=credential)
    assert target.auth == "entra" and target.credential is credential and target.api_key is None


def test_an_azure_url_as_target_is_azure():
    """A URL on an Azure host is treated as an Azure endpoint."""
    target = resolve_target("https://x.openai.azure.com/", env={"AZURE_OPENAI_API_KEY": AZURE_KEY})
    assert (target.kind, target.auth, target.websocket_base_url) == (
        "azure", "azure-key", "wss://x.openai.azure.com/openai/v1")


# -- OpenAI, URLs, local ---------------------------------------------------------------------------


def test_openai_model_from_option_or_environment():
    """OPENAI_REALTIME_MODEL sets the model; model= overrides it."""
    env = {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_REALTIME_MODEL": "gpt-realtime-mini"}
    assert resolve_target("openai", env=env).model == "gpt-realtime-mini"
    assert resolve_target("openai", env=env, model="gpt-realtime-2").model == "gpt-realtime-2"


def test_openai_with_a_custom_endpoint_keeps_its_v1_path():
    """An OpenAI-style base URL ending /v1 stays as is (the SDK appends /realtime)."""
    target = resolve_target("openai", env={}, api_key=OPENAI_KEY, endpoint="http://127.0.0.1:9000/v1")
    assert target.websocket_base_url == "ws://127.0.0.1:9000/v1"


@pytest.mark.parametrize(("url", "base"), [
    ("ws://127.0.0.1:8765", "ws://127.0.0.1:8765/openai/v1"),
    ("ws://127.0.0.1:8765/v1", "ws://127.0.0.1:8765/v1"),
    ("http://localhost:8765/openai/v1/realtime", "ws://localhost:8765/openai/v1"),
    ("wss://[::1]:9443/v1/", "wss://[::1]:9443/v1"),
])
def test_url_targets(url, base):
    """A URL is used as the websocket base; a bare host gets the Azure-style /openai/v1."""
    assert resolve_target(url, env={}).websocket_base_url == base


def test_environment_keys_never_go_to_an_arbitrary_url():
    """A URL target only gets an explicit api_key=, never OPENAI_API_KEY or AZURE_OPENAI_API_KEY."""
    env = {"OPENAI_API_KEY": OPENAI_KEY, "AZURE_OPENAI_API_KEY": AZURE_KEY}
    target = resolve_target("ws://127.0.0.1:8765", env=env)
    assert (target.auth, target.api_key) == ("none", None)
    assert resolve_target("ws://127.0.0.1:8765", env=env, api_key="k-1234").auth == "bearer"


def test_local_model_option():
    """model= names the model the local server reports."""
    assert resolve_target("local", env={}, model="gpt-realtime-mini").model == "gpt-realtime-mini"


# -- error sentences -------------------------------------------------------------------------------


def test_azure_without_endpoint_names_the_variable():
    """"azure" with no endpoint says to set AZURE_OPENAI_ENDPOINT."""
    message = target_error("azure", env={})
    assert "set AZURE_OPENAI_ENDPOINT" in message and "endpoint=" in message


def test_openai_without_key_names_the_variable():
    """"openai" with no key says to set OPENAI_API_KEY."""
    assert "set OPENAI_API_KEY" in target_error("openai", env={})


def test_endpoint_without_scheme_suggests_https():
    """x.openai.azure.com without https:// gets the corrected URL."""
    message = target_error(env={"AZURE_OPENAI_ENDPOINT": "my-aoai.openai.azure.com"})
    assert "AZURE_OPENAI_ENDPOINT is 'my-aoai.openai.azure.com', which has no scheme" in message
    assert "did you mean 'https://my-aoai.openai.azure.com/'?" in message


def test_a_host_as_target_suggests_https():
    """A bare host as the target gets the same suggestion."""
    assert "did you mean 'https://x.openai.azure.com/'?" in target_error("x.openai.azure.com", env={})


def test_an_endpoint_that_is_not_a_url_names_the_variable():
    """Garbage in AZURE_OPENAI_ENDPOINT is named, with an example of a real endpoint."""
    message = target_error("azure", env={"AZURE_OPENAI_ENDPOINT": "my resource"})
    assert "AZURE_OPENAI_ENDPOINT is 'my resource', which is not a URL" in message
    assert "https://my-resource.openai.azure.com/" in message


def test_an_unsupported_scheme_is_refused():
    """ftp:// is not a WebSocket or HTTP URL."""
    assert "not a usable URL" in target_error("azure", env={}, endpoint="ftp://x.openai.azure.com")


def test_an_unknown_target_name_gets_a_did_you_mean():
    """A typo in the target name is matched against the kinds."""
    assert "did you mean 'local'?" in target_error("locla", env={})


def test_an_unknown_option_gets_a_did_you_mean():
    """deploymnet= is caught before anything connects."""
    assert "did you mean deployment= (a connection option)?" in target_error("azure", env={}, deploymnet="x")


def test_credentials_in_the_url_are_refused():
    """Keys in a URL would end up in reprs and logs: the message says to use api_key=."""
    assert "api_key=" in target_error("wss://x.example.com/v1?api-key=secret", env={})
    assert "api_key=" in target_error("wss://user:pw@x.example.com/v1", env={})


def test_a_sync_credential_is_refused():
    """credential= must be an azure.identity.aio credential."""
    class SyncCredential:
        def get_token(self, *scopes: str) -> object:
            return None

    assert "azure.identity.aio" in target_error("azure", env={}, endpoint=ENDPOINT, credential=SyncCredential())


def test_key_and_credential_together_are_refused():
    """Two Azure credentials at once is ambiguous."""
    assert "not both" in target_error("azure", env={}, endpoint=ENDPOINT, api_key="k",
                                      credential=FakeAsyncCredential())


def test_local_refuses_an_endpoint():
    """The embedded server needs no endpoint."""
    assert "needs no endpoint=" in target_error("local", env={}, endpoint=ENDPOINT)


def test_a_non_string_target_is_refused():
    """target must be a string or None."""
    assert "not int" in target_error(5, env={})


def test_target_error_is_a_value_error():
    """rk.TargetError can be caught as ValueError."""
    with pytest.raises(ValueError):
        resolve_target("openai", env={})


# -- secrets never show ----------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "env", "secret"), [
    (None, {"AZURE_OPENAI_ENDPOINT": ENDPOINT, "AZURE_OPENAI_API_KEY": AZURE_KEY}, AZURE_KEY),
    ("openai", {"OPENAI_API_KEY": OPENAI_KEY}, OPENAI_KEY),
    ("ws://127.0.0.1:9/v1", {}, "url-key-0123456789"),
])
def test_reprs_and_descriptions_never_show_the_key(target, env, secret):
    """repr, str, describe(), dataclass fields as text and the Secret itself hide the key."""
    options = {"api_key": secret} if target and target.startswith("ws") else {}
    resolved = resolve_target(target, env=env, **options)
    assert resolved.api_key is not None and resolved.api_key.reveal() == secret
    texts = [repr(resolved), str(resolved), resolved.describe(), resolved.description,
             repr(dataclasses.asdict(resolved)), str(resolved.api_key), f"{resolved.api_key}"]
    assert all(secret not in text for text in texts)


def test_describe_is_one_readable_line():
    """describe() says what, where, which deployment and how it authenticates."""
    env = {"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com/"}
    assert resolve_target(env=env).describe() == (
        "Using Azure OpenAI at wss://x.openai.azure.com/openai/v1, deployment gpt-realtime-2.1, keyless (Entra ID)")
    env["AZURE_OPENAI_API_KEY"] = AZURE_KEY
    assert resolve_target(env=env).describe().endswith("API key from AZURE_OPENAI_API_KEY")
    assert resolve_target(env={}).describe().startswith("Using the embedded local server")


def test_targets_compare_without_their_secrets():
    """Two targets that differ only in the key are equal (the key takes no part in eq or hash of fields)."""
    a = resolve_target("openai", env={"OPENAI_API_KEY": "k-one-123456"})
    b = resolve_target("openai", env={"OPENAI_API_KEY": "k-two-123456"})
    assert a == b


def test_secret_survives_pickling_hidden():
    """A pickled Target keeps the key usable and still hidden in its repr."""
    target = resolve_target("openai", env={"OPENAI_API_KEY": OPENAI_KEY})
    copy = pickle.loads(pickle.dumps(target))
    assert copy.api_key.reveal() == OPENAI_KEY and OPENAI_KEY not in repr(copy.api_key)


# -- translating connection failures ---------------------------------------------------------------


def _status(code: int, body: bytes = b"") -> InvalidStatus:
    return InvalidStatus(Response(code, "x", Headers(), body))


AZURE_ENTRA = Target("azure", "wss://x.openai.azure.com/openai/v1", "gpt-realtime", "entra", "Azure")
AZURE_KEYED = Target("azure", "wss://x.openai.azure.com/openai/v1", "dep", "azure-key", "Azure",
                     api_key=Secret(AZURE_KEY))


@pytest.mark.parametrize(("exc", "target", "fragments"), [
    (_status(401), AZURE_ENTRA, ["HTTP 401", "Cognitive Services User", "az login"]),
    (_status(401, f"bad key {AZURE_KEY}".encode()), AZURE_KEYED, ["HTTP 401", "AZURE_OPENAI_API_KEY", "********"]),
    (_status(404), AZURE_KEYED, ["HTTP 404", "AZURE_OPENAI_DEPLOYMENT_NAME", "'dep'"]),
    (_status(429), AZURE_KEYED, ["HTTP 429", "wait"]),
    (_status(500, b"boom"), AZURE_KEYED, ["HTTP 500", "boom"]),
    (socket.gaierror(-2, "Name or service not known"), AZURE_KEYED, ["DNS", "AZURE_OPENAI_ENDPOINT", "'x.openai"]),
    (ConnectionRefusedError(111, "refused"), AZURE_KEYED, ["connection refused", "is the server running"]),
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), AZURE_KEYED, ["TLS"]),
    (TimeoutError(), AZURE_KEYED, ["timed out"]),
])
def test_connection_failures_become_sentences(exc, target, fragments):
    """Handshake refusals and socket errors become TargetError sentences that never show the key."""
    translated = translate_error(exc, target)
    assert isinstance(translated, TargetError)
    assert all(fragment in str(translated) for fragment in fragments), str(translated)
    assert AZURE_KEY not in str(translated)


def test_azure_identity_errors_say_az_login():
    """No Azure sign-in (CredentialUnavailableError) says `az login` or AZURE_OPENAI_API_KEY."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import CredentialUnavailableError

    unavailable = translate_error(CredentialUnavailableError("no credential"), AZURE_ENTRA)
    assert "run `az login` or set AZURE_OPENAI_API_KEY" in str(unavailable)
    failed = translate_error(ClientAuthenticationError("AADSTS700016: app not found"), AZURE_ENTRA)
    assert "AADSTS700016" in str(failed) and "az login" in str(failed)


def test_a_close_during_the_handshake_is_connection_lost():
    """A WebSocket closed mid-handshake is rk.ConnectionLost."""
    from websockets.exceptions import ConnectionClosedError

    assert isinstance(translate_error(ConnectionClosedError(None, None), AZURE_KEYED), ConnectionLost)


def test_unrelated_exceptions_pass_through():
    """A bug (KeyError) is not dressed up as a connection problem."""
    error = KeyError("x")
    assert translate_error(error, AZURE_KEYED) is error
