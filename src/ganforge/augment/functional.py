"""Low-level, differentiable image ops shared by DiffAugment and ADA.

Every op takes images (N, C, H, W) in any dtype, layout and device and is differentiable with
respect to them (indexing, ``torch.where`` and arithmetic only), so a generator gets gradients
through the augmentation. Random parameters are drawn in float32 from torch's global RNG (or a given
``generator``) on the images' device, which the trainer's checkpoints capture, so resumes replay the
same augmentations; they are cast to the images' dtype before use, so bf16 stays bf16.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganforge.errors import ConfigError


def check_images(x: torch.Tensor, who: str) -> None:
    """Image augmentation needs (N, C, H, W); vector (N, D) data has no pixels to shift or cut."""
    if x.ndim != 4:
        raise ConfigError(
            f"{who} augments (N, C, H, W) images, but got a tensor of shape {tuple(x.shape)};"
            " use 'objective.augment: none' for vector data"
        )


def memory_format(x: torch.Tensor) -> torch.memory_format:
    """channels_last for NHWC-strided images (other than trivially, e.g. C == 1), else contiguous."""
    if x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last):
        return torch.contiguous_format
    return torch.channels_last


def uniform(n: int, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """n draws from U[0, 1) in float32, one per sample, on ``x``'s device."""
    return torch.rand(n, device=x.device, generator=generator)


def normal(n: int, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """n draws from N(0, 1) in float32, one per sample, on ``x``'s device."""
    return torch.randn(n, device=x.device, generator=generator)


def per_sample(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(N,) float parameters -> (N, 1, 1, 1) in ``x``'s dtype, ready to broadcast over images."""
    return values.to(x.dtype).reshape(-1, 1, 1, 1)


def reflect_index(index: torch.Tensor, size: int) -> torch.Tensor:
    """Map any integer index into [0, size) by mirroring at the borders without repeating the edge
    pixel (numpy's and ``F.pad``'s 'reflect'): -1 -> 1, size -> size - 2."""
    if size == 1:
        return torch.zeros_like(index)
    period = 2 * (size - 1)
    index = torch.remainder(index, period)
    return torch.where(index >= size, period - index, index)


def translate(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, padding: str = "zeros") -> torch.Tensor:
    """Shift each image by an integer number of pixels: ``out[n, :, i, j] = x[n, :, i - dy[n], j - dx[n]]``.

    ``dy``, ``dx``: (N,) integer tensors (positive moves content down / right). Pixels shifted in
    from outside are 0 (``padding="zeros"``, DiffAugment) or mirrored (``"reflect"``, ADA, which
    keeps the image statistics so D cannot spot the augmentation by its borders). A zero shift
    returns the sample's pixels exactly.
    """
    n, _, h, w = x.shape
    rows = torch.arange(h, device=x.device).unsqueeze(0) - dy.to(x.device).long().unsqueeze(1)  # (N, H)
    cols = torch.arange(w, device=x.device).unsqueeze(0) - dx.to(x.device).long().unsqueeze(1)  # (N, W)
    if padding == "zeros":
        source = F.pad(x, (1, 1, 1, 1))  # one ring of zeros; out-of-range indices land on it
        rows, cols = rows.clamp(-1, h) + 1, cols.clamp(-1, w) + 1
    elif padding == "reflect":
        source, rows, cols = x, reflect_index(rows, h), reflect_index(cols, w)
    else:
        raise ValueError(f"unknown padding '{padding}'")
    batch = torch.arange(n, device=x.device).reshape(n, 1, 1)
    # Advanced indices separated by a slice: the result is (N, H, W, C).
    out = source[batch, :, rows.unsqueeze(2), cols.unsqueeze(1)]
    return out.permute(0, 3, 1, 2)


def channel_mean(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel mean over channels: the projection onto the grey (luma) axis (1, ..., 1)/sqrt(C)."""
    return x.mean(dim=1, keepdim=True)


def image_mean(x: torch.Tensor) -> torch.Tensor:
    """Per-sample mean over channels and pixels."""
    return x.mean(dim=(1, 2, 3), keepdim=True)
