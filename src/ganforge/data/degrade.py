"""Degradations that turn clean images into the inputs of restoration and translation tasks.

Each maps (N, C, H, W) images in [-1, 1] to a tensor in the same convention and is deterministic:
the same images (and ``seed``, where randomness is involved) give the same output bit for bit, so a
paired dataset built from them is reproducible and its test split never changes.

* ``canny_edges``: binary edge maps (Canny 1986), the input of pix2pix's edges→photo task
  (Isola et al. 2017, Sec. 4.1: edges from HED; Canny is the classical, dependency-free stand-in).
* ``grey_dilate``: grey-level dilation by a disk: thin strokes become thick ones (the "thick digits"
  domain of ``thin2thick``).
* ``avg_downsample``: k×k average pooling, the usual low-resolution model of SR benchmarks.
* ``center_mask`` / ``free_form_masks``: holes for inpainting, 1 = missing; the free-form masks are
  random brush strokes in the manner of Yu et al. 2019 ("Free-Form Image Inpainting with Gated
  Convolution", Alg. 1), seeded.

``DEGRADATIONS`` names the image→image ones for the generic ``degraded`` dataset (``data/paired.py``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from ganforge.errors import ConfigError, DataError
from ganforge.registry import did_you_mean
from ganforge.utils.optional import require

LUMA = torch.tensor([0.299, 0.587, 0.114])  # ITU-R 601, as the folder loader's grey conversion


def _check_images(x: torch.Tensor, what: str) -> None:
    if x.ndim != 4:
        raise DataError(f"{what} needs (N, C, H, W) images, got shape {tuple(x.shape)}")


def _grey01(x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W) float64 in [0, 1]; colour is reduced to luma."""
    x = x.detach().float().cpu()
    grey = x[:, 0] if x.shape[1] == 1 else torch.einsum("nchw,c->nhw", x[:, :3], LUMA)
    return ((grey.clamp(-1, 1) + 1) / 2).double().numpy()


def canny_edges(
    x: torch.Tensor, sigma: float = 1.0, low: float | None = None, high: float | None = None
) -> torch.Tensor:
    """Canny edge maps: 1 on an edge, -1 elsewhere, repeated over the input's channels.

    ``sigma`` is the Gaussian pre-smoothing; ``low``/``high`` the hysteresis thresholds on the
    gradient magnitude of the [0, 1] grey image (skimage's defaults when None). Edges come out with
    the input's channel count, so a paired dataset's A and B always share it.
    """
    # lazy: importing skimage.feature costs ~0.3 s (and scikit-image is an extra)
    canny = require("skimage.feature", "examples", "Canny edge maps (degradation 'edges')").canny
    _check_images(x, "canny_edges")
    if sigma < 0:
        raise ConfigError(f"the Canny sigma must be >= 0, got {sigma}")
    grey = _grey01(x)
    edges = np.stack([canny(img, sigma=sigma, low_threshold=low, high_threshold=high) for img in grey])
    out = torch.from_numpy(edges.astype(np.float32) * 2 - 1)[:, None]
    return out.expand(-1, x.shape[1], -1, -1).contiguous()


def grey_dilate(x: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Grey-level dilation of every channel by a disk of ``radius`` (``skimage.morphology.disk``).

    Dilation is a running maximum, so a bright stroke on a dark background grows by ``radius``
    pixels on each side (radius 1: a 3×3 cross): thin handwriting becomes thick.
    """
    morphology = require("skimage.morphology", "examples", "grey dilation (degradation 'dilate')")
    dilation, disk = morphology.dilation, morphology.disk
    _check_images(x, "grey_dilate")
    if radius < 1:
        raise ConfigError(f"the dilation radius must be at least 1, got {radius}")
    n, c, h, w = x.shape
    stack = x.detach().float().cpu().reshape(n * c, h, w).numpy()
    grown = dilation(stack, disk(radius)[None])  # the footprint spans one image: no mixing across N·C
    return torch.from_numpy(np.ascontiguousarray(grown)).reshape(n, c, h, w)


def avg_downsample(x: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Average ``factor``×``factor`` blocks: (N, C, H, W) -> (N, C, H/factor, W/factor).

    The box filter is the simplest anti-aliased decimation, and it keeps values in [-1, 1].
    """
    _check_images(x, "avg_downsample")
    if factor < 1:
        raise ConfigError(f"the downsampling factor must be at least 1, got {factor}")
    h, w = x.shape[-2:]
    if h % factor or w % factor:
        raise DataError(f"{h}x{w} images cannot be downsampled by {factor}: the sides must divide by it")
    return F.avg_pool2d(x.float(), factor)


def center_mask(size: int, hole: int) -> torch.Tensor:
    """A (1, 1, size, size) mask with a centred ``hole``×``hole`` square of ones (1 = missing)."""
    if not 0 < hole <= size:
        raise ConfigError(f"the hole must be between 1 and the image side {size}, got {hole}")
    mask = torch.zeros(1, 1, size, size)
    top = (size - hole) // 2
    mask[..., top : top + hole, top : top + hole] = 1.0
    return mask


def free_form_masks(
    n: int,
    size: int,
    seed: int = 0,
    max_strokes: int = 4,
    max_vertices: int = 6,
    max_width: float = 0.12,
    max_length: float = 0.3,
) -> torch.Tensor:
    """(n, 1, size, size) random brush-stroke masks (1 = missing), the same for the same ``seed``.

    Each mask draws 1..``max_strokes`` polylines of 2..``max_vertices`` vertices; each segment has a
    random angle and a length up to ``max_length``·size, drawn with a round brush up to
    ``max_width``·size wide (Yu et al. 2019, Alg. 1, scaled to the image side).
    """
    if n < 0 or size < 1 or max_strokes < 1 or max_vertices < 2:
        raise ConfigError("free-form masks need n >= 0, size >= 1, max_strokes >= 1 and max_vertices >= 2")
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), dtype=np.float32)
    for i in range(n):
        canvas = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(canvas)
        for _ in range(rng.integers(1, max_strokes + 1)):
            width = max(1, round(rng.uniform(0.3, 1.0) * max_width * size))
            point = rng.uniform(0, size, 2)
            for _ in range(rng.integers(1, max_vertices)):
                angle, length = rng.uniform(0, 2 * math.pi), rng.uniform(0.2, 1.0) * max_length * size
                nxt = np.clip(point + length * np.array([math.cos(angle), math.sin(angle)]), 0, size - 1)
                draw.line([tuple(point), tuple(nxt)], fill=255, width=width)
                r = width / 2  # round joints and caps, as a brush leaves
                draw.ellipse([nxt[0] - r, nxt[1] - r, nxt[0] + r, nxt[1] + r], fill=255)
                point = nxt
        masks[i] = np.asarray(canvas, dtype=np.float32) / 255.0
    return torch.from_numpy((masks > 0.5).astype(np.float32))[:, None]


def apply_mask(x: torch.Tensor, mask: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """``x`` with the masked pixels (mask = 1) set to ``fill``; the mask broadcasts over N and C."""
    _check_images(x, "apply_mask")
    if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[-2:] != x.shape[-2:]:
        raise DataError(
            f"a mask must be (N or 1, 1, {x.shape[-2]}, {x.shape[-1]}) for these images,"
            f" got {tuple(mask.shape)}"
        )
    return torch.where(mask.to(x.device) > 0.5, torch.as_tensor(fill, dtype=x.dtype), x)


def random_affine(
    x: torch.Tensor,
    gen: torch.Generator,
    rotate: float = 0.0,
    scale: float = 0.0,
    shift: float = 0.0,
    background: float | None = -1.0,
) -> torch.Tensor:
    """A random affine warp per image about its centre: rotation up to ±``rotate`` degrees, scale by
    up to ±``scale`` (a fraction), shift by up to ±``shift`` pixels; draws come from ``gen`` (CPU).

    Why about the centre: centred digits stay centred, so a fixed hole still hides the digit's
    middle. What comes in from outside the frame is ``background`` (-1 = black for digits), or
    with ``background=None`` the nearest border pixel (photos).
    """
    _check_images(x, "random_affine")
    n, _, h, _ = x.shape
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(rotate)
    s = 1 + (torch.rand(n, generator=gen) * 2 - 1) * scale
    t = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2 * shift / h)
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    theta = torch.stack([torch.stack([cos, -sin, t[:, 0]], 1), torch.stack([sin, cos, t[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(x.device, torch.float32), list(x.shape), align_corners=False)
    if background is None:
        out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
        return out.to(x.dtype)
    # grid_sample pads with 0: warp x - background, so the padding becomes background.
    out = F.grid_sample(
        x.float() - background, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return (out + background).to(x.dtype)


def _edges(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    return canny_edges(x, sigma=sigma)


def _dilate(x: torch.Tensor, radius: int = 1) -> torch.Tensor:
    return grey_dilate(x, radius=radius)


def _downsample(x: torch.Tensor, factor: int = 4) -> torch.Tensor:
    return avg_downsample(x, factor)


def _center_hole(x: torch.Tensor, hole: int = 12, fill: float = 0.0) -> torch.Tensor:
    return apply_mask(x, center_mask(x.shape[-1], hole), fill)


def _free_form(x: torch.Tensor, seed: int = 0, fill: float = 0.0) -> torch.Tensor:
    return apply_mask(x, free_form_masks(len(x), x.shape[-1], seed=seed), fill)


# Image -> image degradations by name, each with its keyword parameters (``degradation_params``).
DEGRADATIONS: dict[str, Callable[..., torch.Tensor]] = {
    "edges": _edges,
    "dilate": _dilate,
    "downsample": _downsample,
    "center_hole": _center_hole,
    "free_form": _free_form,
}


def degrade(x: torch.Tensor, name: str, params: dict[str, Any] | None = None) -> torch.Tensor:
    """Apply degradation ``name`` with ``params``; unknown names or keys are a ConfigError."""
    if name not in DEGRADATIONS:
        raise ConfigError(
            f"unknown degradation '{name}'{did_you_mean(name, DEGRADATIONS)};"
            f" available: {', '.join(sorted(DEGRADATIONS))}"
        )
    fn = DEGRADATIONS[name]
    accepted = [p for p in inspect.signature(fn).parameters if p != "x"]
    for key in params or {}:
        if key not in accepted:
            raise ConfigError(
                f"unknown parameter '{key}' for degradation '{name}'; valid: {', '.join(accepted) or 'none'}"
            )
    return fn(x, **(params or {}))
