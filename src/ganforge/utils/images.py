"""Turning sample tensors into pictures: image grids, and scatter plots for 2-D vector data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ganforge.utils.io import atomic_write


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W, C) uint8, rounded half to even. In numpy: the same float32
    steps as torch's clamp/add/mul/round, without a dozen small kernel launches (it runs for every
    picture the studio serves)."""
    x = images.detach().float().cpu().numpy()
    return np.rint((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8).transpose(0, 2, 3, 1)


def picture(pixels: np.ndarray) -> Image.Image:
    """(H, W, C) uint8 as a picture: grey for one channel, RGB from the first three otherwise."""
    return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels[..., :3])


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2, scale: int = 1) -> Image.Image:
    """Tile (N, C, H, W) images in [-1, 1] into one picture (grey if C == 1, RGB if C == 3)."""
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    pixels = to_uint8(images)
    canvas = np.zeros((ncol * (h + padding) + padding, nrow * (w + padding) + padding, c), np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        canvas[top : top + h, left : left + w] = pixels[i]
    mode_image = picture(canvas)
    if scale > 1:
        mode_image = mode_image.resize((mode_image.width * scale, mode_image.height * scale), Image.NEAREST)
    return mode_image


def scatter_plot(fake: torch.Tensor, real: torch.Tensor | None = None, size: int = 512) -> Image.Image:
    """A 2-D scatter of generated points (blue) over real points (grey), axes fitted to the real data."""
    ref = real if real is not None else fake
    lo = ref.min(0).values.float()
    hi = ref.max(0).values.float()
    span = (hi - lo).max().clamp_min(1e-6) * 1.15
    centre = (hi + lo) / 2
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)

    def points(x: torch.Tensor, colour: tuple[int, int, int], radius: int) -> None:
        xy = ((x[:, :2].float().cpu() - centre) / span + 0.5) * size
        for px, py in xy.tolist():
            py = size - py
            draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=colour)

    if real is not None:
        points(real, (190, 190, 190), 2)
    points(fake, (31, 119, 180), 2)
    return image


def save_image(image: Image.Image, path: str | Path) -> Path:
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))


def save_samples_picture(
    samples: torch.Tensor, path: str | Path, real: torch.Tensor | None = None, nrow: int | None = None
) -> Path:
    """Images as a grid, 2-D vectors as a scatter plot: the one picture for any generator's output."""
    if samples.ndim == 4:
        return save_image(make_grid(samples, nrow=nrow, scale=max(1, 64 // samples.shape[-1])), path)
    return save_image(scatter_plot(samples, real), path)
