"""``sr_patches``: natural-image patches for super-resolution, cut from scikit-image's sample photos.

The images ship inside scikit-image, so the task runs offline. Which photo feeds which split is
fixed, so no test patch ever shares a pixel with a training one:

* ``train``: astronaut, rocket, hubble_deep_field, immunohistochemistry, retina and the left view of
  stereo_motorcycle (six colour photos: a portrait, an outdoor scene, a star field, a micrograph,
  a fundus photo and a cluttered indoor scene);
* ``test``: chelsea (a cat) and coffee (a cup on a table), never used in training.

Each patch is a ``resolution``×``resolution`` (64) crop at a uniformly random position of a
uniformly chosen image of its split, drawn with ``numpy.random.default_rng([seed, split])``. Crops
whose grey-level standard deviation is below ``min_std`` (flat sky, the black surround of
the retina and of deep space) are redrawn: they teach an SR model nothing and would dominate the
dark images. ``x`` = the patch in [-1, 1], (N, 3, 64, 64). ``a`` = the patch downsampled ``scale``
(4)× to 16×16 with bicubic interpolation, the degradation of the SR literature (MATLAB's
``imresize``, used by SRGAN and ESRGAN), antialiased the same way: ``torch.nn.functional.interpolate
(mode="bicubic", antialias=True)`` widens the cubic kernel (a = -0.5) by the scale factor, as
``imresize`` and PIL's ``BICUBIC`` do, so frequencies above the new Nyquist limit are filtered out
rather than aliased. The result is clamped to [-1, 1] (the cubic kernel overshoots at edges).

The arrays are built once per process (about a second) and cached; callers get copies.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.base import ArrayDataset, to_unit_range
from ganforge.data.embedded import check_resolution
from ganforge.errors import ConfigError
from ganforge.registry import register_dataset
from ganforge.utils.optional import require

TRAIN_IMAGES = (
    "astronaut",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "stereo_motorcycle",
)
TEST_IMAGES = ("chelsea", "coffee")
SPLITS = {"train": TRAIN_IMAGES, "test": TEST_IMAGES}
DEFAULT_PATCHES = {"train": 4000, "test": 500}
MAX_DRAWS = 50  # redraws of a flat crop before giving up on min_std for this patch


@functools.cache
def _photo(name: str) -> np.ndarray:
    """(H, W, 3) uint8, read-only. ``stereo_motorcycle`` returns (left, right, disparity): left only."""
    skimage_data = require("skimage.data", "examples", "dataset 'sr_patches' (scikit-image's photos)")
    image = getattr(skimage_data, name)()
    if isinstance(image, tuple):
        image = image[0]
    image = np.asarray(image)[..., :3]
    image.setflags(write=False)
    return image


def bicubic_downsample(x: torch.Tensor, scale: int) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, C, H/scale, W/scale): antialiased bicubic (a = -0.5), clamped."""
    out = F.interpolate(
        x.float(), scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False
    )
    return out.clamp_(-1.0, 1.0)


@functools.lru_cache(maxsize=4)
def _patches_cached(
    split: str, n: int, side: int, scale: int, seed: int, min_std: float
) -> tuple[torch.Tensor, torch.Tensor]:
    names = SPLITS[split]
    photos = [_photo(name) for name in names]
    small = [name for name, p in zip(names, photos, strict=True) if min(p.shape[:2]) < side]
    if small:
        raise ConfigError(f"data.resolution {side} is larger than the sample image(s) {', '.join(small)}")
    rng = np.random.default_rng([seed, list(SPLITS).index(split)])
    out = np.empty((n, side, side, 3), dtype=np.uint8)
    for i in range(n):
        for _ in range(MAX_DRAWS):
            photo = photos[rng.integers(len(photos))]
            top = rng.integers(photo.shape[0] - side + 1)
            left = rng.integers(photo.shape[1] - side + 1)
            crop = photo[top : top + side, left : left + side]
            if crop.std() / 255.0 >= min_std:  # over all channels: a flat crop has none
                break
        out[i] = crop
    x = to_unit_range(np.ascontiguousarray(out.transpose(0, 3, 1, 2), dtype=np.float32), 255.0)
    x = x.clamp_(-1.0, 1.0).contiguous()
    return x, bicubic_downsample(x, scale).contiguous()


@register_dataset(
    "sr_patches",
    native_resolution=64,
    channels=3,
    pairing="paired",
    tiny={"n_patches": 64},  # for tests and guard-rail runs (ganforge.testing)
    description="paired: 64x64 RGB patches of scikit-image photos (x) and their 4x bicubic downsamples (a)",
)
def sr_patches(
    split: str = "train",
    n_patches: int | None = None,
    resolution: int | None = None,
    scale: int = 4,
    seed: int = 0,
    min_std: float = 0.04,
) -> ArrayDataset:
    """Natural-image super-resolution pairs, offline (see the module docstring for the photos).

    ``split``: ``train`` (6 photos, default 4,000 patches) or ``test`` (2 other photos, default 500).
    ``resolution``: the patch side (64); ``scale``: the downsampling factor (4), which must divide it.
    No labels; no FID extractor is registered (none of ganforge's offline extractors knows
    natural images), so ``ganforge eval`` falls back to ``inception``, which needs its weights.
    """
    if split not in SPLITS:
        raise ConfigError(f"data.split must be one of {', '.join(SPLITS)}, got {split!r}")
    n = DEFAULT_PATCHES[split] if n_patches is None else n_patches
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"data.n_patches must be a positive integer, got {n_patches!r}")
    side = check_resolution(resolution) or 64
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1 or side % scale:
        raise ConfigError(
            f"data.scale must be a positive integer dividing the patch side {side}, got {scale!r}"
        )
    if not 0.0 <= min_std < 0.5:
        raise ConfigError(f"data.min_std must be in [0, 0.5), got {min_std}")
    x, a = _patches_cached(split, n, side, scale, int(seed), float(min_std))
    return ArrayDataset(x=x.clone(), name="sr_patches", extras={"a": a.clone()})
