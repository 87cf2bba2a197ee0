"""Continuous image attributes: how to measure one, and a dataset that varies one (stroke thickness).

Attribute editing (issue 8's "aging" task, StarGAN-style: Choi et al. 2018) needs an attribute that
is continuous, measurable on any image (so an edit can be checked against the request) and
independent of identity. On digits that is **stroke thickness**.

Measurement (``stroke_thickness``), in pixels:

    width = ink area / stroke length

* ink area: the sum of each pixel's ink coverage ``c = (x + 1) / 2``, mapped through
  ``clip((c - 0.1) / 0.8, 0, 1)``. The soft sum makes the measure continuous (an anti-aliased edge
  moving by a quarter pixel changes it by a quarter pixel's worth); the 10 % dead zone at both ends
  keeps a generator's faint background haze from counting as ink, and the map is symmetric about
  ½, so a linear anti-aliased edge adds exactly what it covers.
* stroke length: the length of the skeleton (``skimage.morphology.skeletonize`` of the ink
  binarised at ½): horizontal/vertical neighbour links count 1, diagonal links √2 (only where no
  path through a shared 4-neighbour exists, so corners are not counted twice), plus 1 for the
  end pixel. Counting skeleton *pixels* instead would read a diagonal stroke √2 times too thick.

A straight bar w pixels wide measures w (slightly more for short, thick bars: skeletonisation
shortens each end by about w/2). An image with no ink measures 0. Dilating a digit grows every
stroke on both sides, so the measure rises with the dilation radius (``tests/i2i/test_attr_edit.py``).
On the 4,000 train digits as written: median 2.4 px, 5-95 % range 1.6-3.9 px (32×32 frame).

Dataset ``thickness_digits`` (see its docstring): every MNIST digit of a split rendered at several
continuous thicknesses by growing or shrinking its strokes along a signed distance field, with
``attr`` = the measured thickness of each rendering, in pixels.

``ATTRIBUTES`` maps a dataset's ``attribute`` metadata (``@register_dataset(..., attribute=...)``)
to its measurement, so evaluation can check edits without knowing the dataset.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.base import ArrayDataset
from ganforge.data.embedded import mnist_arrays
from ganforge.errors import ConfigError, DataError
from ganforge.registry import register_dataset
from ganforge.utils.optional import require

THICKNESS_SPLITS = ("train", "test")
LUMA = torch.tensor([0.299, 0.587, 0.114])
SUPERSAMPLE = 2  # the distance field is computed on a 2x finer grid: half-pixel outlines, smooth ramps
# Fixed constants that standardise thickness for networks: (t - CENTER) / SCALE is about N(0, 1) on
# thickness_digits' train split with the default growth range (measured: mean 3.55, std 1.36 px).
THICKNESS_CENTER = 3.6
THICKNESS_SCALE = 1.3


def _ink(x: torch.Tensor, what: str) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, H, W) float32 ink coverage in [0, 1] (colour: luma)."""
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise DataError(f"{what} needs (N, 1 or 3, H, W) images in [-1, 1], got shape {tuple(x.shape)}")
    x = x.detach().float().cpu()
    grey = x[:, 0] if x.shape[1] == 1 else torch.einsum("nchw,c->nhw", x, LUMA)
    return ((grey + 1) / 2).clamp(0, 1).numpy()


def skeleton_length(skeleton: np.ndarray) -> np.ndarray:
    """Lengths in pixels of one-pixel-wide 8-connected skeletons (..., H, W) bool: 4-neighbour links
    count 1, diagonal links √2 unless a shared 4-neighbour already joins them, plus 1 (the end
    pixel); 0 for an empty skeleton."""
    s = skeleton.astype(bool)
    straight = (s[..., :, 1:] & s[..., :, :-1]).sum((-2, -1)) + (s[..., 1:, :] & s[..., :-1, :]).sum((-2, -1))
    down_right = s[..., 1:, 1:] & s[..., :-1, :-1] & ~s[..., :-1, 1:] & ~s[..., 1:, :-1]
    down_left = s[..., 1:, :-1] & s[..., :-1, 1:] & ~s[..., :-1, :-1] & ~s[..., 1:, 1:]
    diagonal = down_right.sum((-2, -1)) + down_left.sum((-2, -1))
    return np.where(s.any((-2, -1)), straight + math.sqrt(2) * diagonal + 1.0, 0.0)


def stroke_thickness(x: torch.Tensor) -> torch.Tensor:
    """Mean stroke width in pixels of (N, C, H, W) images in [-1, 1] (ink bright on a dark
    background): soft ink area / skeleton length, as the module docstring defines. Returns (N,)
    float32; 0 for an image without ink."""
    # lazy: skimage.morphology costs ~0.3 s to import (and scikit-image is an extra)
    skeletonize = require("skimage.morphology", "examples", "the stroke-thickness attribute").skeletonize
    coverage = _ink(x, "stroke_thickness")
    area = np.clip((coverage - 0.1) / 0.8, 0.0, 1.0).sum(axis=(1, 2), dtype=np.float64)
    length = skeleton_length(np.stack([skeletonize(c > 0.5) for c in coverage]))
    widths = np.divide(area, length, out=np.zeros_like(area), where=length > 0)
    return torch.from_numpy(widths.astype(np.float32))


ATTRIBUTES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"thickness": stroke_thickness}


# ---------------------------------------------------------------- rendering at a chosen thickness


def signed_distance(x: torch.Tensor, supersample: int = SUPERSAMPLE) -> np.ndarray:
    """(N, 1, H, W) digits -> (N, H·s, W·s) float32 signed distance to the stroke outline, in
    *original* pixels (positive inside the ink), on an ``s``-times finer grid.

    The digit is bilinearly upsampled and cut at half coverage first, so the outline keeps the
    sub-pixel position MNIST's anti-aliased grey edges encode.
    """
    ndimage = require("scipy.ndimage", "examples", "digits at a chosen stroke thickness")
    distance_transform_edt = ndimage.distance_transform_edt
    if x.ndim != 4 or x.shape[1] != 1:
        raise DataError(f"signed_distance needs (N, 1, H, W) grey images, got shape {tuple(x.shape)}")
    fine = F.interpolate(x.float(), scale_factor=supersample, mode="bilinear", align_corners=False)
    out = np.empty((len(x), *fine.shape[-2:]), dtype=np.float32)
    for i, img in enumerate(fine[:, 0].numpy()):
        ink = img > 0
        inside, outside = distance_transform_edt(ink), distance_transform_edt(~ink)
        out[i] = np.where(ink, inside - 0.5, 0.5 - outside) / supersample  # outline halfway between
    return out


def render_grown(sdf: np.ndarray, grow: np.ndarray, supersample: int = SUPERSAMPLE) -> torch.Tensor:
    """Digits whose strokes are grown by ``grow`` pixels on each side (negative: thinned), from their
    ``signed_distance``: (N, H·s, W·s) and (N,) -> (N, 1, H, W) in [-1, 1].

    On the fine grid a pixel is ink where ``sdf + grow > 0``, with a linear ramp one fine pixel
    wide; averaging s×s blocks then anti-aliases the edges. Growth is continuous: stroke width
    rises by about 2·grow, without the discrete steps of a morphological dilation by a disk.
    """
    fine = torch.from_numpy(sdf) + torch.as_tensor(grow, dtype=torch.float32)[:, None, None]
    coverage = (0.5 + fine * supersample).clamp_(0.0, 1.0)
    return F.avg_pool2d(coverage[:, None], supersample).mul_(2).sub_(1)


def thicken(x: torch.Tensor, grow: float | torch.Tensor, supersample: int = SUPERSAMPLE) -> torch.Tensor:
    """(N, 1, H, W) digits with strokes grown by ``grow`` pixels per side (one value, or one per image)."""
    grow = torch.as_tensor(grow, dtype=torch.float32).expand(len(x)).numpy()
    return render_grown(signed_distance(x, supersample), grow, supersample)


# ---------------------------------------------------------------- the dataset


def _levels(n: int, levels: int, lo: float, hi: float, seed: int) -> np.ndarray:
    """(n, levels) growths: level k of digit i uniform in the k-th of ``levels`` equal slices of
    [lo, hi] (stratified), so every digit spans the whole range and the values are continuous."""
    jitter = np.random.default_rng(seed).random((n, levels))
    return lo + (np.arange(levels)[None] + jitter) * (hi - lo) / levels


@functools.lru_cache(maxsize=2)
def _rendered(split: str, levels: int, lo: float, hi: float, seed: int) -> tuple[torch.Tensor, ...]:
    """(x, attr, y, a, attr_a) of ``thickness_digits`` in its row order (see its docstring)."""
    digits, labels = mnist_arrays(split)
    n = len(digits)
    grow = _levels(n, levels, lo, hi, seed + (1 if split == "test" else 0))
    shift = (np.arange(n)[None] + np.arange(levels)[:, None]) % levels  # (block k, digit i) -> level
    x = torch.empty(levels, n, *digits.shape[1:])
    a = torch.empty_like(digits)
    for start in range(0, n, 256):  # the fine distance fields of all 4,000 digits would take 260 MB
        part = slice(start, min(start + 256, n))
        sdf = signed_distance(digits[part])
        a[part] = render_grown(sdf, np.zeros(len(sdf)))
        for k in range(levels):
            x[k, part] = render_grown(sdf, grow[np.arange(n)[part], shift[k, part]])
    x = x.reshape(levels * n, *digits.shape[1:]).contiguous()
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long).repeat(levels)
    attr_a = stroke_thickness(a)[:, None]
    return x, stroke_thickness(x)[:, None], y, a.repeat(levels, 1, 1, 1), attr_a.repeat(levels, 1)


@register_dataset(
    "thickness_digits",
    native_resolution=32,
    channels=1,
    default_extractor="mnist-cnn",
    pairing="paired",
    attribute="thickness",
    description="MNIST digits rendered at continuous stroke thicknesses; attr = measured thickness (px)",
)
def thickness_digits(
    split: str = "train", levels: int = 4, min_grow: float = -0.25, max_grow: float = 1.0, seed: int = 0
) -> ArrayDataset:
    """Attribute editing on digits, offline: each digit of the split (``data.split: train|test``,
    the fixed MNIST split of ``mnist_split_indices``) rendered at ``levels`` stroke thicknesses.

    Rendering: strokes grown by ``g`` pixels per side along the digit's signed distance field
    (``render_grown``), ``g`` drawn once per digit and level, uniform within the level's slice of
    [``min_grow``, ``max_grow``] (seeded: the dataset is the same every time). The defaults span
    thin (-0.25 px per side: mean thickness 2.2 px on test digits) to bold (+1 px: 5.2 px). Thinning
    further breaks 2-pixel strokes (at -0.5 px the measured thickness no longer falls, and mnist-cnn
    reads 91 %); growing beyond about 1.25 px closes loops (8 -> blob; mnist-cnn < 90 %).

    Batch keys, per row: ``x`` the rendering, ``attr`` (N, 1) its measured ``stroke_thickness`` in
    pixels (the scale ``translate(attr=...)`` takes), ``y`` the digit's label, and the paired ground
    truth ``a`` = the same digit rendered as written (growth 0), ``attr_a`` its thickness: on the
    test split, ``G(a, attr)`` should look like ``x``. StarGAN training reads ``x`` and ``attr``
    only (the source image and its attribute; the objective draws target attributes itself).

    Row order: block k (rows k·N .. k·N + N - 1, N digits in the split) holds every digit once, in
    split order, digit i at level (i + k) mod ``levels``. So the first N rows are the split's
    digits once each at mixed thicknesses (what preview grids show), ``a[:N]`` / ``y[:N]`` are the
    N distinct test digits and their labels.
    """
    if split not in THICKNESS_SPLITS:
        raise ConfigError(f"data.split must be one of {', '.join(THICKNESS_SPLITS)}, got {split!r}")
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise ConfigError(f"data.levels must be a positive integer, got {levels!r}")
    if not -1.0 <= min_grow < max_grow <= 3.0:
        raise ConfigError(
            f"data.min_grow and data.max_grow must satisfy -1 <= min_grow < max_grow <= 3 (pixels per"
            f" side), got {min_grow} and {max_grow}"
        )
    x, attr, y, a, attr_a = _rendered(split, levels, float(min_grow), float(max_grow), int(seed))
    return ArrayDataset(
        x=x.clone(),
        y=y.clone(),
        name="thickness_digits",
        num_classes=10,
        extras={"attr": attr.clone(), "a": a.clone(), "attr_a": attr_a.clone()},
    )
