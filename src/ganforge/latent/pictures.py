"""Writing sweeps ``(rows, columns, C, H, W)`` as a PNG grid or an animated GIF, with PIL only.

PNG: one grid, a sweep's row per grid row. GIF: one frame per column, each frame the column's
``rows`` images side by side, so every path animates at once. Small images are scaled up by an
integer factor (nearest neighbour) so a 32x32 digit is visible at a glance, as in sample grids.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from ganforge.errors import ConfigError
from ganforge.utils.images import make_grid, save_image
from ganforge.utils.io import atomic_write

SUFFIXES = (".png", ".gif")
FRAMES_PER_ROW = 8  # GIF frames tile at most this many images per row


def check_output(path: str | Path, allowed: Sequence[str] = SUFFIXES) -> Path:
    """The output path, or one clear error when its suffix is not one we can write."""
    path = Path(path)
    if path.suffix.lower() not in allowed:
        raise ConfigError(f"cannot write '{path}': the name must end in {' or '.join(allowed)}")
    return path


def _scale(images: torch.Tensor) -> int:
    return max(1, 64 // images.shape[-1])


def _check_images(sweep: torch.Tensor) -> None:
    if sweep.ndim != 5:
        raise ValueError(
            f"expected a (rows, columns, C, H, W) sweep of images, got shape {tuple(sweep.shape)}"
        )


def grid_picture(sweep: torch.Tensor) -> Image.Image:
    """The whole sweep as one grid: row ``r`` of the picture is ``sweep[r]``."""
    _check_images(sweep)
    rows, cols = sweep.shape[:2]
    flat = sweep.reshape(rows * cols, *sweep.shape[2:])
    return make_grid(flat, nrow=cols, scale=_scale(flat))


def gif_frames(sweep: torch.Tensor, bounce: bool = False) -> list[Image.Image]:
    """One picture per column; ``bounce`` appends the way back (without repeating the ends), so a
    looping GIF of a path between two ends plays forth and back without a jump."""
    _check_images(sweep)
    rows, cols = sweep.shape[:2]
    order = list(range(cols))
    if bounce and cols > 2:
        order += order[-2:0:-1]
    per_row = rows if rows <= FRAMES_PER_ROW else math.ceil(math.sqrt(rows))
    return [make_grid(sweep[:, c], nrow=per_row, scale=_scale(sweep)) for c in order]


def save_gif(frames: Sequence[Image.Image], path: str | Path, fps: float = 10.0) -> Path:
    """An endlessly looping GIF (``fps`` frames per second)."""
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    if not fps > 0:
        raise ConfigError(f"--fps must be positive, got {fps}")
    duration = max(20, round(1000 / fps))  # ms; browsers clamp shorter delays to 100 ms

    def write(tmp: Path) -> None:
        first, *rest = frames
        first.save(tmp, format="GIF", save_all=True, append_images=rest, duration=duration, loop=0)

    return atomic_write(path, write)


def save_sweep(sweep: torch.Tensor, path: str | Path, fps: float = 10.0, bounce: bool = False) -> Path:
    """``.png`` -> ``grid_picture``; ``.gif`` -> ``gif_frames`` (columns as frames)."""
    path = check_output(path)
    if path.suffix.lower() == ".gif":
        return save_gif(gif_frames(sweep, bounce=bounce), path, fps=fps)
    return save_image(grid_picture(sweep), path)


__all__ = ["check_output", "gif_frames", "grid_picture", "save_gif", "save_sweep"]
