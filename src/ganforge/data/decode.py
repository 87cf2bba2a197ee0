"""Decoding one image file the way every folder dataset does: EXIF rotation, transparency over a
background, centre crop to square, LANCZOS resize; and uint8 RGB to the [-1, 1] floats models see.

One module, so the in-memory folders (``files.py``, ``paired.py``) and the streamed one
(``streaming.py``) decode a file to the very same numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ganforge.data.base import to_unit_range
from ganforge.errors import ConfigError

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as PIL's "L" conversion
READ_ERRORS = (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError)
BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0)}


def read_square(
    path: Path | BinaryIO, side: int, background: str = "white", centering: tuple[float, float] = (0.5, 0.5)
) -> np.ndarray:
    """Decode one image, honour its EXIF rotation, crop to square, LANCZOS-resize to ``side``.

    ``centering`` places the square along the long side (PIL's ``ImageOps.fit``): (0.5, 0.5) is the
    centre crop, other values the random crops of ``data.crop: random``.

    Returns (side, side, 3) uint8 RGB; grey images come back with three equal channels. Transparent
    pixels (RGBA, LA, palette transparency) are composited over ``background``: dropping the alpha
    channel instead would show whatever colour the file happens to store under them.
    """
    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
            rgba = img.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, (*BACKGROUNDS[background], 255))
            rgb = Image.alpha_composite(canvas, rgba).convert("RGB")
        else:
            rgb = img.convert("RGB")
    return np.asarray(ImageOps.fit(rgb, (side, side), method=Image.Resampling.LANCZOS, centering=centering))


def check_channels(channels: int | None) -> None:
    """``data.channels`` of every image folder: 1 (grey), 3 (RGB) or None (read from the images)."""
    if channels not in (None, 1, 3):
        raise ConfigError(f"data.channels must be 1, 3 or null, got {channels!r}")


def rgb_to_unit(rgb: np.ndarray, channels: int | None = None) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, C, H, W) float32 in [-1, 1]. ``channels`` 1 converts colour to luma
    (ITU-R 601), 3 keeps RGB, None picks 3 if any image has colour else 1 (the ``folder`` rule)."""
    check_channels(channels)
    if channels is None:
        channels = 1 if (rgb == rgb[..., :1]).all() else 3
    pixels = (rgb.astype(np.float32) @ LUMA)[:, None] if channels == 1 else rgb.transpose(0, 3, 1, 2)
    return to_unit_range(np.ascontiguousarray(pixels, dtype=np.float32), 255.0).clamp_(-1.0, 1.0)
