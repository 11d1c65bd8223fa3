"""Images, pure: encoding on the client (formats, sizes, refusals) and what the local server measures."""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image
from test_protocol import FAKES, drain, error_of, of_type, send

from realtime_kit.errors import ConfigError
from realtime_kit.server.images import image_facts, image_tokens
from realtime_kit.server.protocol import RealtimeProtocol
from realtime_kit.session.images import MAX_IMAGE_BYTES, image_content

matplotlib.use("Agg")
pytestmark = pytest.mark.pure


def encoded(pixels: np.ndarray, kind: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=kind)
    return buffer.getvalue()


def flag() -> np.ndarray:
    """48 x 64: the left 40 columns blue, the rest white."""
    pixels = np.full((48, 64, 3), 255, np.uint8)
    pixels[:, :40] = (30, 70, 220)
    return pixels


def test_every_accepted_shape_becomes_a_png_or_jpeg_data_url(tmp_path: Path) -> None:
    """A path, PNG/JPEG bytes, uint8 and float arrays, a matplotlib figure and a PIL image all encode."""
    import matplotlib.pyplot as plt

    path = tmp_path / "flag.png"
    path.write_bytes(encoded(flag()))
    figure, _ = plt.subplots(figsize=(2, 1))
    shapes = [path, str(path), encoded(flag(), "JPEG"), flag(), flag() / 255.0, flag()[:, :, 0], figure,
              Image.fromarray(flag())]
    urls = [image_content(shape)["image_url"] for shape in shapes]
    assert urls[2].startswith("data:image/jpeg;base64,")
    assert all(url.startswith("data:image/png;base64,") for i, url in enumerate(urls) if i != 2)
    assert urls[0] == urls[1] and urls[3] == urls[4]           # same pixels, same bytes
    assert image_content(flag(), "low")["detail"] == "low"
    plt.close(figure)


@pytest.mark.parametrize("data, name", [(b"GIF89a\x01\x00", "GIF"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP"),
                                        (b"hello", "not an image format")])
def test_other_formats_are_refused_with_the_fix(data: bytes, name: str) -> None:
    """GIF, WebP or unknown bytes: a ConfigError naming the format and saying PNG and JPEG only."""
    with pytest.raises(ConfigError, match=f"{name}.*PNG and JPEG only"):
        image_content(data)


def test_oversize_missing_and_odd_inputs_are_refused() -> None:
    """More than MAX_IMAGE_BYTES, a missing file, a 1-D array, int32 pixels, a bad detail: clear errors."""
    with pytest.raises(ConfigError, match="MiB is more than the 10 MiB"):
        image_content(b"\x89PNG\r\n\x1a\n" + bytes(MAX_IMAGE_BYTES))
    with pytest.raises(ConfigError, match="no file at"):
        image_content("no/such/picture.png")
    with pytest.raises(ConfigError, match="not a picture"):
        image_content(np.zeros(10, np.uint8))
    with pytest.raises(ConfigError, match="ambiguous"):
        image_content(np.zeros((4, 4), np.int32))
    with pytest.raises(ConfigError, match="detail"):
        image_content(flag(), "medium")


def test_the_server_measures_size_and_main_colours() -> None:
    """image_facts: the true size and format; colours by nearest palette share, largest first."""
    facts = image_facts(image_content(flag())["image_url"])
    assert (facts.kind, facts.width, facts.height) == ("png", 64, 48)
    assert [name for name, _ in facts.colours] == ["blue", "white"]
    assert facts.describe() == "a 64 by 48 pixel PNG image, mostly blue, with some white"
    assert image_facts(image_content(encoded(flag(), "JPEG"))["image_url"]).kind == "jpeg"


def test_image_tokens_follow_the_vision_rule() -> None:
    """85 tokens at low detail; otherwise 85 + 170 per 512-pixel tile after scaling (2048 box, 768 short side)."""
    assert image_tokens(4000, 3000, "low") == 85
    assert image_tokens(512, 512, "high") == 85 + 170
    assert image_tokens(2048, 4096, "auto") == 85 + 170 * 6      # -> 1024 x 2048 -> 768 x 1536: 2 x 3 tiles


def test_an_image_question_gets_a_true_deterministic_answer() -> None:
    """A user message with an image: the reply states its size and colours, the same each time."""
    def ask() -> str:
        proto = RealtimeProtocol(engines=FAKES, id_prefix_seed=5)
        proto.start()
        drain(proto)
        send(proto, type="conversation.item.create", item={"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is in this picture?"}, image_content(flag())]})
        send(proto, type="response.create", response={"output_modalities": ["text"]})
        return str(of_type(drain(proto), "response.output_text.done")[0]["text"])

    answer = ask()
    assert "64 by 48 pixel PNG image, mostly blue, with some white" in answer and answer == ask()


@pytest.mark.parametrize("url", ["https://example.com/cat.png", "data:image/gif;base64,R0lGODlh",
                                 "data:image/png;base64,not-base64!", "data:image/png;base64,aGVsbG8="])
def test_the_server_refuses_images_it_cannot_read(url: str) -> None:
    """Not a PNG/JPEG data URL, or undecodable: invalid_value naming the content part; nothing added."""
    proto = RealtimeProtocol(engines=FAKES, id_prefix_seed=5)
    proto.start()
    drain(proto)
    proto.receive(json.dumps({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                             "content": [{"type": "input_image", "image_url": url}]}}))
    error = error_of(drain(proto))
    assert (error["code"], error["param"]) == ("invalid_value", "item.content[0].image_url")


def test_usage_counts_the_images_in_the_context() -> None:
    """response.done usage: image_tokens by the vision rule (a 64 x 48 picture: one tile, 255; low detail: 85)."""
    def image_tokens_for(detail: str | None) -> tuple[int, int]:
        proto = RealtimeProtocol(engines=FAKES, id_prefix_seed=5)
        proto.start()
        drain(proto)
        send(proto, type="conversation.item.create", item={"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is in this picture?"}, image_content(flag(), detail)]})
        send(proto, type="response.create", response={"output_modalities": ["text"]})
        usage = of_type(drain(proto), "response.done")[0]["response"]["usage"]
        details = usage["input_token_details"]
        assert usage["input_tokens"] == details["text_tokens"] + details["audio_tokens"] + details["image_tokens"]
        return details["image_tokens"], usage["input_tokens"]

    (high, total_high), (low, total_low) = image_tokens_for(None), image_tokens_for("low")
    assert (high, low) == (255, 85) and total_high - total_low == 170
