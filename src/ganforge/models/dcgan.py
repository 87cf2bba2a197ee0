"""DCGAN (Radford et al. 2015, "Unsupervised Representation Learning with Deep Convolutional GANs").

At 64x64 the networks are exactly those of the PyTorch ``examples/dcgan`` reference (same layers, same
order, same ``main.<i>`` parameter names, so its checkpoints load), except that D returns raw logits
instead of a sigmoid: the losses work on logits, which is both numerically stable and what non-BCE
losses (hinge, Wasserstein, least squares) need.

Other resolutions change the number of stride-2 stages: each stage doubles the spatial size in G
(halves it in D) and halves (doubles) the width, so 32x32 drops the widest stage and 128x128 adds one
(``ngf * 16`` / ``ndf * 16``). From 256 to 1024 px the added stages all have the narrowest width
(``stage_multipliers``), so the widest stays ``ngf * 16``.

``num_classes`` is accepted and recorded, but DCGAN stays unconditional (``forward`` ignores labels);
the conditional families (cGAN, projection, AC-GAN) live in ``models/conditional.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ganforge.models.base import (
    Generator,
    ImageModelOptions,
    Networks,
    init_dcgan_weights,
    register_image_model,
)
from ganforge.options import PositiveInt
from ganforge.registry import register_variant

MAX_DOUBLINGS = 4  # the widest stage is 16x the narrowest, as DCGAN's 128 px layout


def stage_multipliers(resolution: int) -> list[int]:
    """Width multipliers of the stride-2 stages, narrowest (highest-resolution) first: 64 -> [1, 2, 4, 8].

    G projects z to a 4x4 map and doubles it log2(resolution / 4) times: every stage but the output
    layer carries BatchNorm and one of these widths. D mirrors it, ending in a 4x4 -> 1x1 convolution.
    Up to 128 px the width doubles at every stage toward 4x4 (Radford et al.). Above 128 px the
    stages from 4x4 to 64x64 keep the 128 px model's widths and every larger stage has the narrowest
    width, so widths shrink as the resolution grows, as StyleGAN2's ``channel_base / res`` capped at
    ``channel_max``, instead of doubling to 128·ngf at 1024 px: 1024 -> [1, 1, 1, 1, 2, 4, 8, 16].
    """
    n = int(math.log2(resolution)) - 2
    flat = max(0, n - 1 - MAX_DOUBLINGS)  # stages above 64x64 that stay at the narrowest width
    return [2 ** max(0, i - flat) for i in range(n)]


class DCGANGenerator(Generator):
    """z (N, z_dim) -> images (N, channels, resolution, resolution) in [-1, 1]."""

    def __init__(self, z_dim: int, channels: int, resolution: int, ngf: int, num_classes: int = 0) -> None:
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        self.out_shape = (channels, resolution, resolution)
        layers: list[nn.Module] = []
        width = z_dim
        for i, mult in enumerate(reversed(stage_multipliers(resolution))):
            stride, padding = (1, 0) if i == 0 else (2, 1)  # the first layer projects 1x1 -> 4x4
            layers += [
                nn.ConvTranspose2d(width, ngf * mult, 4, stride, padding, bias=False),
                nn.BatchNorm2d(ngf * mult),
                nn.ReLU(True),
            ]
            width = ngf * mult
        # Output layer: one more doubling, no BatchNorm (Radford et al., Sec. 3), tanh to [-1, 1].
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.main(z.reshape(z.shape[0], self.z_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """images (N, channels, resolution, resolution) -> logits (N,)."""

    def __init__(self, channels: int, resolution: int, ndf: int, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        width = channels
        for i, mult in enumerate(stage_multipliers(resolution)):
            layers.append(nn.Conv2d(width, ndf * mult, 4, 2, 1, bias=False))
            if i > 0:  # no BatchNorm on D's input layer (Radford et al., Sec. 3)
                layers.append(nn.BatchNorm2d(ndf * mult))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            width = ndf * mult
        layers.append(nn.Conv2d(width, 1, 4, 1, 0, bias=False))  # 4x4 -> 1x1 score
        self.main = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.main(x).reshape(-1)


@dataclass(frozen=True)
class DCGANOptions(ImageModelOptions):
    """``ngf``/``ndf``: the widths of the narrowest (highest-resolution) stage of G and D."""

    z_dim: PositiveInt = 100
    ngf: PositiveInt = 64
    ndf: PositiveInt = 64


@register_image_model("dcgan", DCGANOptions, "DCGAN (Radford et al. 2015)")
def dcgan(c: int, res: int, num_classes: int, o: DCGANOptions) -> Networks:
    """DCGAN G and D for (C, H, W) images of ``shape``."""
    return {
        "g": DCGANGenerator(o.z_dim, c, res, o.ngf, num_classes),
        "d": DCGANDiscriminator(c, res, o.ndf, num_classes),
    }


register_variant(
    "dcgan_tiny",
    base="dcgan",
    description="dcgan with small widths, for tests",
    z_dim=16,
    ngf=8,
    ndf=8,
)
