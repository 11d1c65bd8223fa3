"""Images for user messages: a path, PNG/JPEG bytes, a numpy array or a matplotlib figure -> ``input_image``.

The service takes an image inside a user message as ``{"type": "input_image", "image_url":
"data:image/png;base64,..."}``; "Supported formats are PNG and JPEG" (the SDK's docstring of
``image_url``). Anything else is refused here, before sending, with the fix in the message.

    >>> import numpy as np
    >>> part = image_content(np.zeros((4, 6, 3), np.uint8))
    >>> part["type"], part["image_url"][:22]
    ('input_image', 'data:image/png;base64,')
    >>> image_content(b"GIF89a...")
    Traceback (most recent call last):
    ...
    realtime_kit.errors.ConfigError: image: this is a GIF image; the service takes PNG and JPEG only. Convert it \
(e.g. PIL.Image.open(path).save("image.png")) or pass the pixels as a numpy array.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["IMAGE_DETAILS", "MAX_IMAGE_BYTES", "image_content", "image_format"]

# 10 MiB of image: as base64 (x4/3) it stays under the service's 15 MiB per client event.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_DETAILS = ("auto", "low", "high")
_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg"}
_OTHER_SIGNATURES = {b"GIF8": "GIF", b"RIFF": "WebP", b"BM": "BMP", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
                     b"%PDF": "PDF", b"<svg": "SVG", b"<?xml": "SVG"}


def image_format(data: bytes) -> str:
    """``"png"`` or ``"jpeg"`` from the file's first bytes; a ConfigError naming any other format."""
    for signature, kind in _SIGNATURES.items():
        if data.startswith(signature):
            return kind
    other = next((name for signature, name in _OTHER_SIGNATURES.items() if data.startswith(signature)), None)
    what = f"a {other} image" if other else "not an image format the service knows"
    raise ConfigError(f"image: this is {what}; the service takes PNG and JPEG only. Convert it "
                      "(e.g. PIL.Image.open(path).save(\"image.png\")) or pass the pixels as a numpy array.",
                      path="image")


def image_content(image: Any, detail: str | None = None) -> dict[str, Any]:
    """The ``input_image`` content part for ``image`` (path, bytes, ndarray, matplotlib figure or PIL image)."""
    if detail is not None and detail not in IMAGE_DETAILS:
        raise ConfigError(f"image: detail={detail!r} is not one of {', '.join(map(repr, IMAGE_DETAILS))}.",
                          path="detail")
    data = _image_bytes(image)
    kind = image_format(data)
    if len(data) > MAX_IMAGE_BYTES:
        raise ConfigError(f"image: {len(data) / 2**20:.1f} MiB is more than the {MAX_IMAGE_BYTES // 2**20} MiB "
                          "an image can be here (the service takes at most 15 MiB per event, and base64 adds a "
                          "third); make it smaller (fewer pixels, or JPEG).", path="image")
    part = {"type": "input_image", "image_url": f"data:image/{kind};base64,{base64.b64encode(data).decode()}"}
    if detail is not None:
        part["detail"] = detail
    return part


def _image_bytes(image: Any) -> bytes:
    if isinstance(image, bytes | bytearray | memoryview):
        return bytes(image)
    if isinstance(image, str | Path):
        path = Path(image).expanduser()
        if not path.is_file():
            raise ConfigError(f"image: no file at {str(path)!r}; pass a PNG/JPEG path, bytes, a numpy array or "
                              "a matplotlib figure.", path="image")
        return path.read_bytes()
    if isinstance(image, np.ndarray):
        return _png_of_array(image)
    if hasattr(image, "savefig"):          # a matplotlib Figure
        buffer = io.BytesIO()
        image.savefig(buffer, format="png")
        return buffer.getvalue()
    if hasattr(image, "save") and hasattr(image, "mode"):   # a PIL image
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()
    raise ConfigError(f"image: cannot send a {type(image).__name__}; pass a PNG/JPEG path, bytes, a numpy array "
                      "(height x width [x 3 or 4]) or a matplotlib figure.", path="image")


def _png_of_array(pixels: np.ndarray) -> bytes:
    """PNG bytes of an (H, W), (H, W, 3) or (H, W, 4) array: uint8, or floats in 0..1."""
    from PIL import Image

    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)) or 0 in pixels.shape:
        raise ConfigError(f"image: an array of shape {pixels.shape} is not a picture; use height x width "
                          "(grey), height x width x 3 (RGB) or x 4 (RGBA).", path="image")
    if pixels.dtype != np.uint8:
        if not np.issubdtype(pixels.dtype, np.floating):
            raise ConfigError(f"image: pixels of dtype {pixels.dtype} are ambiguous; use uint8 (0..255) or "
                              "floats (0..1).", path="image")
        pixels = (np.clip(pixels, 0.0, 1.0) * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
