"""Images in user messages, for the local server: check an ``input_image`` and say what is true about it.

The local assistant cannot see, but it can measure: an image's size and its main colours, named from
a fixed palette by the share of pixels nearest each colour. Same image, same words.

    >>> import base64, io, numpy as np
    >>> from PIL import Image
    >>> pixels = np.zeros((30, 40, 3), np.uint8); pixels[:, :10] = (220, 30, 30)   # a quarter red, the rest black
    >>> buffer = io.BytesIO(); Image.fromarray(pixels).save(buffer, format="PNG")
    >>> facts = image_facts("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode())
    >>> facts.describe()
    'a 40 by 30 pixel PNG image, mostly black, with some red'
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .wire import ClientError

__all__ = ["PALETTE", "ImageFacts", "check_image_url", "check_images", "image_facts", "image_tokens", "image_tokens_of",
           "images_of"]

# Named colours the description picks from (sRGB); each pixel counts for the nearest one.
PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128), "red": (220, 30, 30),
    "orange": (255, 140, 0), "yellow": (250, 220, 40), "green": (40, 170, 60), "cyan": (40, 200, 220),
    "blue": (30, 70, 220), "purple": (130, 50, 170), "pink": (250, 140, 190), "brown": (130, 80, 40),
}
MAIN_SHARE = 0.5     # "mostly X" when X covers at least half the pixels
SOME_SHARE = 0.1     # a colour is mentioned when it covers at least a tenth
_DATA_URL = re.compile(r"data:image/(png|jpeg|jpg);base64,(.*)", re.DOTALL)


@dataclass(frozen=True)
class ImageFacts:
    """What the local assistant knows about an image: its format, size and colour shares, largest first."""

    kind: str
    width: int
    height: int
    colours: tuple[tuple[str, float], ...]

    def describe(self) -> str:
        """One phrase: size, format and the colours covering at least a tenth of the picture."""
        shown = [(name, share) for name, share in self.colours if share >= SOME_SHARE]
        size = f"a {self.width} by {self.height} pixel {self.kind.upper()} image"
        if not shown:
            return f"{size} of many colours"
        first, share = shown[0]
        lead = f"mostly {first}" if share >= MAIN_SHARE else f"partly {first}"
        rest = " and ".join(name for name, _ in shown[1:])
        return f"{size}, {lead}" + (f", with some {rest}" if rest else "")


def check_image_url(url: object, param: str) -> None:
    """Refuse an ``image_url`` that is not a base64 PNG/JPEG data URL, as the SDK's docstring describes it."""
    if not isinstance(url, str) or _DATA_URL.fullmatch(url) is None:
        raise ClientError("invalid_value", "Invalid image: image_url must be a base64 data URL of a PNG or JPEG "
                          "image (data:image/png;base64,...).", param)
    try:
        image_facts(url)
    except (ValueError, OSError) as err:
        raise ClientError("invalid_value", f"Invalid image: the image data could not be decoded ({err}).",
                          param) from None


def check_images(wire: Mapping[str, Any], path: str) -> None:
    """Check every ``input_image`` part of a message item (``path``: where the item is, for ``param``)."""
    for index, part in enumerate(wire.get("content") or []):
        if part.get("type") == "input_image":
            check_image_url(part.get("image_url"), f"{path}.content[{index}].image_url")


def images_of(wire: Mapping[str, Any]) -> list[ImageFacts]:
    """The measured images of a message item, in content order."""
    return [image_facts(part["image_url"]) for part in wire.get("content") or []
            if part.get("type") == "input_image" and isinstance(part.get("image_url"), str)]


def image_tokens_of(wire_item: Any) -> int:
    """The input tokens of the images in one conversation item (0 for none, or one that cannot be read)."""
    total = 0
    for part in (getattr(wire_item, "wire", wire_item) or {}).get("content") or []:
        if part.get("type") == "input_image":
            try:
                facts = image_facts(str(part.get("image_url")))
            except (ValueError, OSError):
                continue
            total += image_tokens(facts.width, facts.height, part.get("detail"))
    return total


def image_facts(url: str) -> ImageFacts:
    """Decode a PNG/JPEG data URL and measure it (ValueError if it is not one)."""
    from PIL import Image

    match = _DATA_URL.fullmatch(url)
    if match is None:
        raise ValueError("not a PNG/JPEG data URL")
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except binascii.Error as err:
        raise ValueError(f"bad base64: {err}") from None
    with Image.open(io.BytesIO(data)) as image:
        kind = (image.format or match.group(1)).lower()
        width, height = image.size
        small = image.convert("RGB").resize((64, 64)) if width * height > 64 * 64 else image.convert("RGB")
        pixels = np.asarray(small, dtype=np.float64).reshape(-1, 3)
    return ImageFacts(kind, width, height, _colour_shares(pixels))


def image_tokens(width: int, height: int, detail: str | None) -> int:
    """Input tokens of one image by the OpenAI vision rule: 85 at low detail, else 85 + 170 per 512 px tile."""
    if detail == "low":
        return 85
    fit = min(1.0, 2048 / max(width, height))
    short = min(1.0, 768 / (min(width, height) * fit))
    tiles = int(np.ceil(width * fit * short / 512) * np.ceil(height * fit * short / 512))
    return 85 + 170 * tiles


def _colour_shares(pixels: np.ndarray) -> tuple[tuple[str, float], ...]:
    names = list(PALETTE)
    palette = np.array([PALETTE[name] for name in names], dtype=np.float64)
    nearest = np.argmin(((pixels[:, None, :] - palette[None, :, :]) ** 2).sum(axis=2), axis=1)
    counts = np.bincount(nearest, minlength=len(names)) / len(pixels)
    order = sorted(range(len(names)), key=lambda i: (-counts[i], i))
    return tuple((names[i], round(float(counts[i]), 3)) for i in order if counts[i] > 0)
