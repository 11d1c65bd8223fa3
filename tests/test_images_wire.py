"""Images over loopback: send_text(..., image=...) with the unchanged SDK underneath; refusals before sending."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_server_wire import sdk_session

import realtime_kit as rk
from realtime_kit.errors import ConfigError
from realtime_kit.server import LocalServer
from realtime_kit.session.images import image_content
from realtime_kit.spec import validate_client_event, validate_server_event

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(pace="fast") as running:
        yield running


def red_square() -> np.ndarray:
    pixels = np.zeros((32, 32, 3), np.uint8)
    pixels[:, :] = (220, 30, 30)
    return pixels


async def test_send_text_with_an_image_gets_its_size_and_colours(server: LocalServer, tmp_path: Path) -> None:
    """A path and a numpy array: the item carries input_image; the answer states size and colour; all valid."""
    path = tmp_path / "red.jpg"
    Image.fromarray(red_square()).save(path, format="JPEG")
    async with rk.connect(server.url, output_modalities="text") as session:
        from_path = await session.send_text("What is in this picture?", image=path)
        from_array = await session.send_text("And this one?", image=np.full((10, 20), 255, np.uint8),
                                             image_detail="low")
        sent = [row.event for row in session.events if row.direction == "out"
                and row.type == "conversation.item.create"]
        for row in session.events:
            (validate_server_event if row.direction == "in" else validate_client_event)(row.event)
    assert "32 by 32 pixel JPEG image, mostly red" in from_path.text
    assert "20 by 10 pixel PNG image, mostly white" in from_array.text
    parts = sent[-1]["item"]["content"]
    assert parts[1]["type"] == "input_image" and parts[1]["detail"] == "low"


async def test_a_bad_image_is_refused_before_anything_is_sent(server: LocalServer) -> None:
    """A GIF raises ConfigError in send_text and no client event leaves; the session stays usable."""
    async with rk.connect(server.url, output_modalities="text") as session:
        before = len(session.events)
        with pytest.raises(ConfigError, match="GIF"):
            await session.send_text("What is this?", image=b"GIF89a\x01\x00\x01\x00")
        assert len(session.events) == before
        assert (await session.send_text("hello")).text


async def test_the_unchanged_sdk_sees_images_echoed_and_bad_ones_refused(server: LocalServer) -> None:
    """Raw conversation.item.create: a PNG data URL is echoed in the item; a GIF data URL gets invalid_value."""
    buffer = io.BytesIO()
    Image.fromarray(red_square()).save(buffer, format="PNG")
    part = image_content(buffer.getvalue())
    async with sdk_session(server.openai_base_url, model="gpt-realtime-2.1") as peer:
        await peer.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                                      "content": [part]}})
        added = await peer.expect("conversation.item.added")
        assert added["item"]["content"][0]["image_url"] == part["image_url"]
        error = await peer.error_for({"type": "conversation.item.create", "item": {
            "type": "message", "role": "user", "content": [{"type": "input_image",
                                                            "image_url": "data:image/gif;base64,R0lGODlh"}]}})
        assert (error["code"], error["param"]) == ("invalid_value", "item.content[0].image_url")
