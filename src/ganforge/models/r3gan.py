"""R3GAN-style baseline (Huang et al. 2024, "The GAN is dead; long live the GAN! A Modern GAN Baseline").

The paper's claim is that a well-posed loss (relativistic pairing, RpGAN) plus zero-centred penalties
on both real and fake data (R1 + R2) make GAN training stable enough that the tricks older
architectures needed can go: no normalisation layers, no minibatch-stddev, no equalised-lr tricks,
no mapping network. What remains is a plain residual ConvNet (their "Config E"):

* **Residual blocks without normalisation**, inverted bottleneck: 1x1 conv (widen by ``expansion``)
  -> grouped kxk conv -> 1x1 conv back, leaky ReLU between (Sec. 4, Fig. 3).
* **Fix-up initialisation** (Zhang et al. 2019) instead of normalisation: the last conv of every
  residual branch starts at zero, so each block is exactly the identity at initialisation and the
  network starts as a shallow, well-conditioned map; the other two convs are He-initialised and
  scaled by ``L^(-1/(2m-2))`` (``L`` blocks of ``m = 3`` layers) so the sum of ``L`` branches keeps
  a bounded variance once they train.
* **Bilinear resampling** between stages: G upsamples bilinearly after a 1x1 transition conv, D
  low-pass filters with the bilinear kernel [1, 3, 3, 1] before decimating (no aliasing, and plain
  convolutions, so R1/R2's double backward works everywhere).
* G starts from a learned 4x4 basis modulated per channel by a projection of ``z``; D ends in a
  depthwise 4x4 convolution that collapses the 4x4 map to a vector, then a linear layer.

Deviations from the paper, on purpose: G's output is clamped to [-1, 1], ganforge's image contract
(R3GAN's output is unbounded), with a gradient that never dies (``bounded_output``: a tanh there
collapsed training); conditional D uses the projection discriminator's
``linear(h) + <e_y, h>`` (Miyato & Koyama 2018; R3GAN keeps only the inner product), which keeps an
unconditional "real vs fake" head beside the class-matching term.

Conditioning (``num_classes > 0``): G concatenates a class embedding to ``z`` (as R3GAN does) and D
adds the projection term; both go through ``embed_labels``, so integer labels and soft class
weights (class interpolation, ``ganforge.latent``) work alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import ConfigError
from ganforge.models.base import Generator, ImageModelOptions, Networks, register_image_model
from ganforge.nn.conditioning import embed_labels, require_labels
from ganforge.nn.output import bounded_output
from ganforge.options import PositiveInt
from ganforge.registry import register_variant

NEGATIVE_SLOPE = 0.2
# He gain for leaky ReLU: keeps activations' second moment constant through conv + activation.
LEAKY_GAIN = math.sqrt(2.0 / (1.0 + NEGATIVE_SLOPE**2))
LAYERS_PER_BLOCK = 3
BASIS_SIZE = 4
# The bilinear kernel: bilinear x2 upsampling is zero-insertion then this filter, and bilinear
# (antialiased) /2 downsampling is this filter then decimation.
_BILINEAR_TAPS = (1.0, 3.0, 3.0, 1.0)


def he_init_(layer: nn.Conv2d | nn.Linear, scale: float = 1.0) -> None:
    """Weights ~ N(0, (scale · LEAKY_GAIN)² / fan_in), zero bias; ``scale = 0`` zero-initialises."""
    fan_in = layer.weight[0].numel()  # in_channels / groups · k · k for convs
    nn.init.normal_(layer.weight, 0.0, scale * LEAKY_GAIN / math.sqrt(fan_in))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def upsample(x: torch.Tensor) -> torch.Tensor:
    """Bilinear x2 (align_corners=False): smooth, no checkerboard artefacts of transposed convs."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def downsample(x: torch.Tensor) -> torch.Tensor:
    """Antialiased bilinear /2: the [1, 3, 3, 1]/8 low-pass per axis, then every other pixel.

    Written as a fixed depthwise convolution, not ``F.interpolate(antialias=True)``: the latter has
    no bf16 kernel on CPU, and convolutions support the double backward that R1/R2 need.
    """
    taps = torch.tensor(_BILINEAR_TAPS, dtype=x.dtype, device=x.device)
    kernel = (taps[:, None] * taps[None, :]) / taps.sum() ** 2
    c = x.shape[1]
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, kernel.expand(c, 1, 4, 4), stride=2, groups=c)


class ResidualBlock(nn.Module):
    """``x + conv1x1(act(grouped convkxk(act(conv1x1(x)))))``, no normalisation anywhere.

    The branch's last conv is zero-initialised, so at initialisation the block returns ``x``
    exactly (fix-up); ``scale`` is the variance-scaling factor of the two other convs.
    """

    def __init__(self, width: int, expansion: int, group_size: int, kernel_size: int, scale: float) -> None:
        super().__init__()
        hidden = width * expansion
        groups = hidden // math.gcd(hidden, group_size)  # channels per group: group_size if it divides
        self.expand = nn.Conv2d(width, hidden, 1)
        self.spatial = nn.Conv2d(hidden, hidden, kernel_size, padding=kernel_size // 2, groups=groups)
        self.project = nn.Conv2d(hidden, width, 1)
        he_init_(self.expand, scale)
        he_init_(self.spatial, scale)
        he_init_(self.project, 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.expand(x), NEGATIVE_SLOPE)
        h = F.leaky_relu(self.spatial(h), NEGATIVE_SLOPE)
        return x + self.project(h)


WIDTH_RESOLUTION = 128  # ``width`` is the output stage's width up to this size (see stage_widths)


def stage_widths(resolution: int, width: int, max_width: int) -> list[int]:
    """Channel widths of the stages from 4x4 up to ``resolution``: ``width`` at the output
    resolution, doubling per halving of the resolution, capped at ``max_width``.

    32 with width 32, max 128 -> [128, 128, 64, 32] (stages at 4, 8, 16, 32).

    Above 128 px ``width`` is the 128x128 stage's and the widths keep halving toward the output
    (at least 1): the stage at r px has min(max_width, width·128 / r) channels, StyleGAN2's
    ``channel_base / r`` capped at ``channel_max`` with ``channel_base = 128·width``, as R3GAN's own
    FFHQ-256 layout shrinks (768 channels at 4-32 px down to 96 at 256). 1024 with width 64, max 256
    -> [256, 256, 256, 256, 128, 64, 32, 16, 8] (stages at 4, 8, ..., 1024).
    """
    n = int(math.log2(resolution // BASIS_SIZE)) + 1
    top = min(resolution, WIDTH_RESOLUTION)  # the resolution that has ``width`` channels
    return [max(1, min(max_width, width * top // (BASIS_SIZE * 2**i))) for i in range(n)]


def transition(width_in: int, width_out: int) -> nn.Module:
    """A 1x1 conv where the width changes (linear, as in R3GAN), else nothing."""
    if width_in == width_out:
        return nn.Identity()
    conv = nn.Conv2d(width_in, width_out, 1)
    he_init_(conv, 1.0 / LEAKY_GAIN)  # linear layer: unit gain
    return conv


class Upsample(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample(x)


class Downsample(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return downsample(x)


@dataclass(frozen=True)
class StageBody:
    """How every stage of G and D is built (the same in both): ``blocks_per_stage`` residual blocks,
    inverted bottlenecks widened ``expansion`` times, grouped ``kernel_size`` convs of ``group_size``
    channels per group."""

    blocks_per_stage: int
    expansion: int
    group_size: int
    kernel_size: int

    def blocks(self, width: int, stages: int) -> list[nn.Module]:
        """One stage's blocks in a network of ``stages`` stages. Each block's last layer is scaled by
        L^(-1/(2m-2)) for L blocks of m layers in the network (Fix-up init, as R3GAN), so the residual
        sum keeps its variance however deep the network is."""
        scale = (stages * self.blocks_per_stage) ** (-1.0 / (2 * LAYERS_PER_BLOCK - 2))
        return [
            ResidualBlock(width, self.expansion, self.group_size, self.kernel_size, scale)
            for _ in range(self.blocks_per_stage)
        ]


class GenerativeBasis(nn.Module):
    """A learned (C, 4, 4) basis, each channel scaled by a linear projection of the input vector.

    R3GAN's replacement for DCGAN's 1x1 -> 4x4 transposed conv: the spatial layout is a parameter,
    the latent only sets how strongly each basis map is used.
    """

    def __init__(self, in_features: int, width: int) -> None:
        super().__init__()
        self.basis = nn.Parameter(torch.randn(width, BASIS_SIZE, BASIS_SIZE))
        self.project = nn.Linear(in_features, width, bias=False)
        he_init_(self.project, 1.0 / LEAKY_GAIN)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.basis.unsqueeze(0) * self.project(v)[:, :, None, None]


class R3GANGenerator(Generator):
    """z (N, z_dim) [+ labels] -> images (N, channels, resolution, resolution) in [-1, 1]."""

    def __init__(
        self,
        z_dim: int,
        channels: int,
        resolution: int,
        widths: list[int],
        body: StageBody,
        num_classes: int = 0,
        embed_dim: int = 0,
    ) -> None:
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        self.out_shape = (channels, resolution, resolution)
        self.conditional = num_classes > 0
        self.embed = nn.Embedding(num_classes, embed_dim) if self.conditional else None
        self.basis = GenerativeBasis(z_dim + (embed_dim if self.conditional else 0), widths[0])
        stages: list[nn.Module] = []
        for i, width in enumerate(widths):
            head = [] if i == 0 else [transition(widths[i - 1], width), Upsample()]
            stages.append(nn.Sequential(*head, *body.blocks(width, len(widths))))
        self.stages = nn.Sequential(*stages)
        self.to_image = nn.Conv2d(widths[-1], channels, 1)
        he_init_(self.to_image, 1.0 / LEAKY_GAIN)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        v = z
        if self.embed is not None:
            e = embed_labels(self.embed, require_labels(y, self.num_classes, "r3gan generator"))
            v = torch.cat([z, e.to(z.dtype)], dim=1)
        return bounded_output(self.to_image(self.stages(self.basis(v))))


class R3GANDiscriminator(nn.Module):
    """images (N, channels, resolution, resolution) [+ labels] -> logits (N,)."""

    def __init__(self, channels: int, widths: list[int], body: StageBody, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        widths = list(reversed(widths))  # highest resolution first
        self.from_image = nn.Conv2d(channels, widths[0], 1)
        he_init_(self.from_image, 1.0 / LEAKY_GAIN)
        stages: list[nn.Module] = []
        for i, width in enumerate(widths):
            blocks = body.blocks(width, len(widths))
            tail = [Downsample(), transition(width, widths[i + 1])] if i + 1 < len(widths) else []
            stages.append(nn.Sequential(*blocks, *tail))
        self.stages = nn.Sequential(*stages)
        top = widths[-1]
        # Depthwise 4x4 "valid" conv: one learned spatial pooling per channel, 4x4 -> 1x1.
        self.basis = nn.Conv2d(top, top, BASIS_SIZE, groups=top, bias=False)
        he_init_(self.basis, 1.0 / LEAKY_GAIN)
        self.head = nn.Linear(top, 1)
        he_init_(self.head, 1.0 / LEAKY_GAIN)
        self.embed = nn.Embedding(num_classes, top) if num_classes > 0 else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.basis(self.stages(self.from_image(x))).flatten(1)
        out = self.head(h).reshape(-1)
        if self.embed is not None:
            e = embed_labels(self.embed, require_labels(y, self.num_classes, "r3gan discriminator"))
            # Projection term <e_y, h>, scaled by 1/sqrt(C) so it starts O(1) like the linear head.
            out = out + (e.to(h.dtype) * h).sum(1) / math.sqrt(h.shape[1])
        return out


@dataclass(frozen=True)
class R3GANOptions(ImageModelOptions):
    """Mirrored stage widths in G and D (``width`` at full resolution, or at 128 px above 128,
    doubling toward 4x4, capped at ``max_width``: ``stage_widths``), ``blocks_per_stage`` residual
    blocks per stage, inverted bottlenecks widened ``expansion`` times with grouped ``kernel_size``
    convs of ``group_size`` channels per group.

    Train it with ``objective: {loss: rpgan, r1_gamma: γ, r2_gamma: γ}`` and Adam betas (0, 0.99).
    On labelled data (``num_classes > 0``) both networks are class-conditional unless
    ``conditional`` is false; ``embed_dim`` is G's class-embedding size.
    """

    z_dim: PositiveInt = 64
    width: PositiveInt = 64
    max_width: PositiveInt = 256
    blocks_per_stage: PositiveInt = 2
    expansion: PositiveInt = 2
    group_size: PositiveInt = 16
    kernel_size: int = 3
    embed_dim: PositiveInt = 32
    conditional: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:  # odd: "same" padding is kernel_size // 2
            raise ConfigError(f"'model.kernel_size' must be an odd positive number, got {self.kernel_size}")


@register_image_model(
    "r3gan",
    R3GANOptions,
    "R3GAN-style baseline (Huang et al. 2024): residual nets, no normalisation; RpGAN+R1+R2",
)
def r3gan(c: int, res: int, num_classes: int, o: R3GANOptions) -> Networks:
    """R3GAN G and D for (C, H, W) images of ``shape``."""
    widths = stage_widths(res, o.width, o.max_width)
    body = StageBody(o.blocks_per_stage, o.expansion, o.group_size, o.kernel_size)
    num_classes = num_classes if o.conditional else 0
    return {
        "g": R3GANGenerator(o.z_dim, c, res, widths, body, num_classes=num_classes, embed_dim=o.embed_dim),
        "d": R3GANDiscriminator(c, widths, body, num_classes=num_classes),
    }


register_variant(
    "r3gan_tiny",
    base="r3gan",
    description="r3gan with small widths, for tests",
    z_dim=16,
    width=8,
    max_width=32,
    blocks_per_stage=1,
    group_size=8,
    embed_dim=8,
)
