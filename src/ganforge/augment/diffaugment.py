"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

Augmenting only the real images teaches G to produce augmented images; augmenting reals and fakes
with *differentiable* transforms, before every call of D in both the D and the G step (the paper's
Eq. 3-4), lets D see more varied data without changing the distribution G must match, and lets
G's gradient flow back through the transform. Each sample gets its own random parameters, drawn
from the same distribution for reals and fakes. Policies (Sec. 3, Fig. 4), applied in this order:

- ``color``: brightness ``x + b``, b ~ U[-0.5, 0.5); saturation ``m + s (x - m)`` with m the
  per-pixel channel mean, s ~ U[0, 2); contrast ``m + c (x - m)`` with m the image mean,
  c ~ U[0.5, 1.5). For images in [-1, 1]. With one channel the pixel *is* its channel mean, so
  saturation is a no-op for grey images (brightness and contrast still apply).
- ``translation``: shift by integers dy, dx ~ U{-r, ..., r}, r = round(size / 8), zero padding.
- ``cutout``: zero one square of half the image size (round(H / 2) x round(W / 2)) centred at a
  uniform random pixel and clipped at the borders: at most 1/4 of the image, (7/16)^2 ~ 0.19 on
  average because of the clipping.

Every op works on (N, C, H, W) images of any C, dtype (bf16 under autocast stays bf16) and layout
(channels_last in, channels_last out). Vector data (N, D) raises ``ConfigError``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ganforge.augment.functional import (
    channel_mean,
    check_images,
    image_mean,
    memory_format,
    per_sample,
    translate,
    uniform,
)
from ganforge.augment.stateless import StatelessAugment
from ganforge.errors import ConfigError

Op = Callable[..., torch.Tensor]
DEFAULT_POLICY = "color,translation,cutout"
TRANSLATION_RATIO = 1 / 8
CUTOUT_RATIO = 1 / 2


def brightness(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``x + b``, b ~ U[-0.5, 0.5) per sample."""
    return x + per_sample(uniform(len(x), x, generator) - 0.5, x)


def saturation(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Scale each pixel's distance from its channel mean (grey) by s ~ U[0, 2) per sample."""
    mean = channel_mean(x)
    return (x - mean) * per_sample(uniform(len(x), x, generator) * 2, x) + mean


def contrast(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Scale each pixel's distance from the image mean by c ~ U[0.5, 1.5) per sample."""
    mean = image_mean(x)
    return (x - mean) * per_sample(uniform(len(x), x, generator) + 0.5, x) + mean


def color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """The paper's ``color`` policy: brightness, then saturation, then contrast."""
    return contrast(saturation(brightness(x, generator), generator), generator)


def random_shifts(
    n: int, size: int, ratio: float, x: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """n integer shifts uniform in {-r, ..., r}, r = round(size * ratio)."""
    r = int(size * ratio + 0.5)
    return torch.randint(-r, r + 1, (n,), device=x.device, generator=generator)


def translation(
    x: torch.Tensor, generator: torch.Generator | None = None, ratio: float = TRANSLATION_RATIO
) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size (integer pixels), filling with zeros."""
    n, _, h, w = x.shape
    dy = random_shifts(n, h, ratio, x, generator)
    dx = random_shifts(n, w, ratio, x, generator)
    return translate(x, dy, dx, padding="zeros")


def cutout(
    x: torch.Tensor, generator: torch.Generator | None = None, ratio: float = CUTOUT_RATIO
) -> torch.Tensor:
    """Zero one ``ratio``-sized rectangle per image, centred at a random pixel, clipped at the borders."""
    n, _, h, w = x.shape

    def band(size: int) -> torch.Tensor:  # (N, size) bool: which rows (columns) the square covers
        side = int(size * ratio + 0.5)
        centre = torch.randint(0, size, (n, 1), device=x.device, generator=generator)
        start = centre - side // 2
        index = torch.arange(size, device=x.device).unsqueeze(0)
        return (index >= start) & (index < start + side)

    rows, cols = band(h), band(w)
    keep = ~(rows.unsqueeze(2) & cols.unsqueeze(1))  # (N, H, W)
    return x * keep.unsqueeze(1).to(x.dtype)


POLICIES: dict[str, Op] = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> list[Op]:
    """``"color,translation,cutout"`` -> the ops, in the order given; unknown names are a ConfigError."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    if not names:
        raise ConfigError("DiffAugment policy is empty; use 'objective.augment: none' for no augmentation")
    for name in names:
        if name not in POLICIES:
            raise ConfigError(
                f"unknown DiffAugment policy '{name}'; valid: {', '.join(POLICIES)} (comma-separated)"
            )
    return [POLICIES[name] for name in names]


class DiffAugment(StatelessAugment):
    """Apply a DiffAugment policy to every sample (there is no probability: ``p`` reads 1.0).

    Stateless: ``observe`` does nothing and ``state_dict`` is empty. Randomness comes from torch's
    global RNG on the images' device (checkpointed by the trainer), so seeding fixes it.
    """

    kind = "diffaug"

    def __init__(self, policy: str = DEFAULT_POLICY) -> None:
        self.policy = policy
        self.ops = parse_policy(policy)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, "DiffAugment")
        fmt = memory_format(x)
        for op in self.ops:
            x = op(x)
        return x.contiguous(memory_format=fmt)

    @property
    def p(self) -> float:
        return 1.0

    def __repr__(self) -> str:
        return f"DiffAugment(policy={self.policy!r})"
