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


def is_grey(rgb: np.ndarray) -> bool:
    """Whether every pixel of (..., 3) uint8 RGB has three equal channels."""
    return bool((rgb == rgb[..., :1]).all())


def rgb_to_unit(rgb: np.ndarray, channels: int | None = None) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, C, H, W) float32 in [-1, 1]. ``channels`` 1 converts colour to luma
    (ITU-R 601), 3 keeps RGB, None picks 3 if any image has colour else 1 (the ``folder`` rule)."""
    check_channels(channels)
    if channels is None:
        channels = 1 if is_grey(rgb) else 3
    pixels = (rgb.astype(np.float32) @ LUMA)[:, None] if channels == 1 else rgb.transpose(0, 3, 1, 2)
    return to_unit_range(np.ascontiguousarray(pixels, dtype=np.float32), 255.0).clamp_(-1.0, 1.0)


def unit_table(side: int, channels: int) -> torch.Tensor:
    """(side, 256) float32: row j holds what ``rgb_to_unit`` gives a grey pixel of value v (RGB:
    each channel of value v) in column j of images ``side`` pixels wide, so looking uint8 pixels up
    in it gives ``rgb_to_unit``'s very floats.

    Per column, not one row of 256: luma is a matrix product, which numpy hands to BLAS one image
    row at a time, and BLAS computes the row's last few columns in a kernel tail that rounds some
    values differently; the table is made by the same call on rows of the same width, so each column
    gets the rounding it gets in a decoded image."""
    values = np.arange(256, dtype=np.uint8)
    rows = np.ascontiguousarray(np.broadcast_to(values[:, None, None, None], (256, 1, side, 3)))
    return rgb_to_unit(rows, channels)[:, 0, 0, :].T.contiguous()
