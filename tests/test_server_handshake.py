"""The embedded server's handshake as the service's: subprotocols, unknown models and deployments, per service."""

from __future__ import annotations

import json
import logging

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from realtime_kit.server import LocalServer

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]

KEY = "handshake-test-key-7"
KEY_PROTOCOLS = ["realtime", f"openai-insecure-api-key.{KEY}"]


async def test_browser_style_subprotocols_are_answered_with_realtime() -> None:
    """A client offering `realtime` and the key subprotocol gets `realtime` echoed; the key authenticates."""
    with LocalServer(api_key=KEY) as server:
        async with ws_connect(server.url + "/v1/realtime?model=gpt-realtime", subprotocols=KEY_PROTOCOLS) as ws:
            assert ws.subprotocol == "realtime"
            assert json.loads(await ws.recv())["type"] == "session.created"
        assert server.handshakes[-1].auth_scheme == "subprotocol" and server.handshakes[-1].status == 101
        wrong = ["realtime", "openai-insecure-api-key.not-the-key"]
        with pytest.raises(InvalidStatus) as refused:
            async with ws_connect(server.url + "/v1/realtime?model=gpt-realtime", subprotocols=wrong):
                pass
        assert refused.value.response.status_code == 401
        assert KEY not in repr(server.handshakes)


async def test_subprotocol_key_never_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    """The server's debug log of the handshake shows the subprotocol header redacted (not the client's log)."""
    caplog.set_level(logging.DEBUG)
    with LocalServer(api_key=KEY) as server:
        async with ws_connect(server.url + "/v1/realtime?model=gpt-realtime", subprotocols=KEY_PROTOCOLS) as ws:
            await ws.recv()
    server_lines = [r.getMessage() for r in caplog.records if r.name.startswith("realtime_kit.server")]
    assert any("sec-websocket-protocol" in line.lower() for line in server_lines)
    assert not any(KEY in line for line in server_lines)


async def test_unknown_azure_deployment_is_refused_like_azure() -> None:
    """Azure's path refuses an unknown deployment at the handshake: 404, code DeploymentNotFound."""
    with LocalServer(deployments={"my-voice": "gpt-realtime"}) as server:
        with pytest.raises(InvalidStatus) as refused:
            async with ws_connect(server.url + "/openai/v1/realtime?deployment=gpt-relatime"):
                pass
        assert refused.value.response.status_code == 404
        body = refused.value.response.body.decode()
        assert json.loads(body.splitlines()[0])["error"]["code"] == "DeploymentNotFound"
        assert "--deployment NAME=MODEL" in body
        async with ws_connect(server.url + "/openai/v1/realtime?deployment=my-voice") as ws:
            assert json.loads(await ws.recv())["session"]["model"] == "my-voice"


async def test_unknown_openai_model_gets_model_not_found_and_the_session_closes() -> None:
    """OpenAI's path answers an unknown model with an error event (model_not_found), then closes."""
    with LocalServer() as server:
        async with ws_connect(server.url + "/v1/realtime?model=gpt-realtime-9") as ws:
            error = json.loads(await ws.recv())
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        assert error["type"] == "error" and error["error"]["code"] == "model_not_found"
        assert "gpt-realtime-9" in error["error"]["message"]
        assert ws.close_code == 1008
