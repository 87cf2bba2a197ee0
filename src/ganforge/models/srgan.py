"""Super-resolution networks: SRResNet / SRGAN (Ledig et al. 2017, "Photo-Realistic Single Image
Super-Resolution Using a Generative Adversarial Network") and ESRGAN's RRDB generator (Wang et al.
2018, "ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks").

Generator (``block: srresnet``, Ledig et al. Fig. 4): a 9×9 conv + PReLU; B residual blocks
(conv3-BN-PReLU-conv3-BN, plus the block's input); conv3-BN plus a long skip from the first layer;
log2(scale) upsampling blocks (conv3 to 4× the width -> PixelShuffle(2) -> PReLU: the sub-pixel
convolution of Shi et al. 2016, which learns the upsampling filters instead of interpolating first,
so every conv but the last runs at the *low* resolution); a final 9×9 conv. We end with tanh so the
output lives in [-1, 1] like every image in ganforge.

``block: rrdb`` (ESRGAN Sec. 3.1, Fig. 4): no BatchNorm anywhere (BN statistics differ between
training batches and a test image, which Wang et al. find causes artefacts in deep GAN-trained
nets); each basic block is a residual-in-residual dense block: three dense blocks (five 3×3 convs,
each seeing all previous feature maps, ``growth`` new channels per conv, LeakyReLU 0.2), each dense
block's output scaled by 0.2 before it is added to its input, and the three together scaled by 0.2
again ("residual scaling"); convs start at a tenth of the Kaiming scale ("smaller initialisation").
Its head/tail are 3×3 convs and it upsamples by nearest-neighbour ×2 + conv3 + LeakyReLU, as the
authors' RRDBNet.

Discriminator: SRGAN's VGG-style net (Ledig et al. Fig. 4, bottom) adapted to small images. The
paper's eight 3×3 conv layers (widths 64-64-128-128-256-256-512-512, strides alternating 1/2, BN
from the second, LeakyReLU 0.2) halve a 96 px crop four times; we take ``d_stages`` (stride-1,
stride-2) pairs so that the last map is still at least 4×4 (3 at 32 px, 4 at 64 px), then global
average pooling (instead of flattening a 6×6 map, so any input size works), dense 1024, LeakyReLU,
dense 1. It is unconditional, as in both papers: D judges whether a high-resolution image is
natural, and the content loss ties the output to its input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import ConfigError
from ganforge.models.base import ModelOptions, Networks, register_translation_model
from ganforge.models.translation import TranslationGenerator, norm_layer
from ganforge.options import NonNegativeInt, PositiveInt
from ganforge.registry import register_variant

BLOCKS = ("srresnet", "rrdb")
RESIDUAL_SCALE = (
    0.2  # ESRGAN Sec. 3.1: "scaling down the residuals by multiplying a constant between 0 and 1"
)
MAX_D_STAGES = 4  # SRGAN's D: four stride-2 convs
MIN_D_MAP = 4  # the smallest feature map our D pools (the paper's 96 px crops end at 6x6)


def check_scale(scale: int) -> int:
    """The upsampling factor: a power of 2 from 2 on (one PixelShuffle(2) block per factor 2)."""
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 2 or scale & (scale - 1):
        raise ConfigError(f"'model.scale' must be a power of 2 (2, 4, 8, ...), got {scale!r}")
    return scale


def check_sr_shape(family: str, shape: tuple[int, ...], scale: int) -> tuple[int, int, int]:
    """(C, H, W) of the *target* images, whose sides must divide by ``scale``, else a ConfigError."""
    if len(shape) != 3:
        raise ConfigError(f"{family} upscales (C, H, W) images, got samples of shape {tuple(shape)}")
    c, h, w = (int(v) for v in shape)
    if h % scale or w % scale:
        raise ConfigError(
            f"{family}: the target image size {h}x{w} must be divisible by model.scale ({scale}) so that"
            f" the low-resolution input is {h}/{scale} x {w}/{scale} pixels"
        )
    return c, h, w


class ResidualBlock(nn.Module):
    """x + [conv3, BN, PReLU, conv3, BN](x) (Ledig et al. Fig. 4; He et al. 2016 without the final ReLU)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.PReLU(width),
            nn.Conv2d(width, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class DenseBlock(nn.Module):
    """ESRGAN's residual dense block: five 3×3 convs, conv k sees [x, out_1 .. out_{k-1}];
    returns x + 0.2 · out_5 (Wang et al. Fig. 4, right)."""

    def __init__(self, width: int, growth: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(width + i * growth, growth if i < 4 else width, 3, 1, 1) for i in range(5)
        )
        self.act = nn.LeakyReLU(0.2, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for i, conv in enumerate(self.convs):
            out = conv(torch.cat(feats, 1))
            if i < 4:
                feats.append(self.act(out))
        return x + RESIDUAL_SCALE * out


class RRDB(nn.Module):
    """Residual-in-residual dense block: x + 0.2 · DB(DB(DB(x))) (Wang et al. Fig. 4, left)."""

    def __init__(self, width: int, growth: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*(DenseBlock(width, growth) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RESIDUAL_SCALE * self.body(x)


def _small_init(module: nn.Module, scale: float = 0.1) -> None:
    """Kaiming-normal convs scaled by ``scale`` (ESRGAN Sec. 3.1 "smaller initialization"): the
    residual branches start near zero, so the deep trunk begins as an (almost) identity map."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            m.weight.data.mul_(scale)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class NearestUpsample(nn.Module):
    """×2 nearest-neighbour upsampling, then conv3 + LeakyReLU (the authors' RRDBNet upsampler)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, 1, 1)
        self.act = nn.LeakyReLU(0.2, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(F.interpolate(x, scale_factor=2, mode="nearest")))


class SRResNet(nn.Module):
    """(N, C, h, w) in [-1, 1] -> (N, C, scale·h, scale·w) in [-1, 1].

    ``block``: ``srresnet`` (BN residual blocks, PixelShuffle upsampling, 9×9 head/tail) or ``rrdb``
    (ESRGAN: BN-free residual-in-residual dense blocks, nearest upsampling, 3×3 head/tail).

    ``bicubic_residual`` (VDSR's global residual, Kim et al. 2016): the network adds a correction
    to the bicubic upsampling of its input, ``clamp(bicubic(x) + tail(...), -1, 1)``, with the
    tail initialised at zero, so training starts *at* bicubic quality instead of at noise. Where a
    small network gets few steps (a CPU), this is the difference between trailing bicubic and
    beating it; with it there is no tanh (the residual is signed and small).
    """

    def __init__(self, channels: int, o: SRGANOptions) -> None:
        super().__init__()
        scale, width, n_blocks, block, growth = o.scale, o.ngf, o.n_blocks, o.block, o.growth
        if block not in BLOCKS:
            raise ConfigError(f"'model.block' must be one of {', '.join(BLOCKS)}, got {block!r}")
        self.scale, self.block = check_scale(scale), block
        ups = int(math.log2(scale))
        if block == "srresnet":
            self.head = nn.Sequential(nn.Conv2d(channels, width, 9, 1, 4), nn.PReLU(width))
            self.trunk = nn.Sequential(*(ResidualBlock(width) for _ in range(n_blocks)))
            self.trunk_out = nn.Sequential(
                nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)
            )
            up: list[nn.Module] = []
            for _ in range(ups):
                up += [nn.Conv2d(width, 4 * width, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(width)]
            self.upsample = nn.Sequential(*up)
            self.tail = nn.Conv2d(width, channels, 9, 1, 4)
        else:
            self.head = nn.Conv2d(channels, width, 3, 1, 1)
            self.trunk = nn.Sequential(*(RRDB(width, growth) for _ in range(n_blocks)))
            self.trunk_out = nn.Conv2d(width, width, 3, 1, 1)
            _small_init(self.trunk)
            self.upsample = nn.Sequential(*(NearestUpsample(width) for _ in range(ups)))
            self.tail = nn.Sequential(
                nn.Conv2d(width, width, 3, 1, 1), nn.LeakyReLU(0.2, True), nn.Conv2d(width, channels, 3, 1, 1)
            )
        self.bicubic_residual = bool(o.bicubic_residual)
        if self.bicubic_residual:  # start exactly at bicubic: the correction is zero
            last = [m for m in self.tail.modules() if isinstance(m, nn.Conv2d)][-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        h = h + self.trunk_out(self.trunk(h))  # the long skip: the trunk learns a correction
        out = self.tail(self.upsample(h))
        if not self.bicubic_residual:
            return torch.tanh(out)
        base = F.interpolate(x.float(), scale_factor=self.scale, mode="bicubic", align_corners=False)
        return (base + out.float()).clamp(-1.0, 1.0).to(out.dtype)


def d_stages_for(side: int) -> int:
    """(stride-1, stride-2) conv pairs of the SRGAN D for images of ``side``: as many as SRGAN's
    four while the last map keeps at least ``MIN_D_MAP`` pixels (3 at 32 px, 4 from 64 px on)."""
    stages = 1
    while stages < MAX_D_STAGES and side // 2 ** (stages + 1) >= MIN_D_MAP:
        stages += 1
    return stages


class SRDiscriminator(nn.Module):
    """SRGAN's VGG-style D: (N, C, H, W) -> (N, 1) logits.

    k3n{w}s1, k3n{w}s2, then for each further stage k3n{2w}s1, k3n{2w}s2 (widths doubling up to
    8·``ndf``), BN on every conv but the first, LeakyReLU 0.2; global average pooling, dense
    ``dense``, LeakyReLU 0.2, dense 1 (Ledig et al. Fig. 4; the sigmoid lives in the loss).
    """

    def __init__(
        self, channels: int, ndf: int = 64, stages: int = 3, norm: str = "batch", dense: int = 1024
    ) -> None:
        super().__init__()
        make_norm, bias = norm_layer(norm), norm != "batch"
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 3, 1, 1), nn.LeakyReLU(0.2, True)]
        width = ndf
        for stage in range(stages):
            nxt = ndf * min(2**stage, 8)
            if stage > 0:
                layers += [nn.Conv2d(width, nxt, 3, 1, 1, bias=bias), make_norm(nxt), nn.LeakyReLU(0.2, True)]
            layers += [nn.Conv2d(nxt, nxt, 3, 2, 1, bias=bias), make_norm(nxt), nn.LeakyReLU(0.2, True)]
            width = nxt
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(width, dense), nn.LeakyReLU(0.2, True), nn.Linear(dense, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


@dataclass(frozen=True)
class SRGANOptions(ModelOptions):
    """``scale``: the upsampling factor, a power of 2. ``block``: ``srresnet`` (Ledig et al.;
    ``n_blocks`` 16 in the paper) or ``rrdb`` (ESRGAN; 23 RRDBs and ``growth`` 32 in the paper), of
    width ``ngf``. ``bicubic_residual``: G corrects the bicubic upsampling of its input
    (``SRResNet``).

    D: base width ``ndf``, ``d_stages`` (stride-1, stride-2) pairs (None: ``d_stages_for`` the
    smaller image side), ``d_norm`` in its convs and a ``dense``-unit hidden layer.
    """

    scale: int = 4
    block: str = "srresnet"
    ngf: PositiveInt = 64
    n_blocks: NonNegativeInt = 16
    growth: PositiveInt = 32
    ndf: PositiveInt = 64
    d_stages: int | None = None
    d_norm: str = "batch"
    dense: PositiveInt = 1024
    bicubic_residual: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_scale(self.scale)


@register_translation_model(
    "srgan",
    SRGANOptions,
    "SRGAN/ESRGAN 4x super-resolution: SRResNet or RRDB G (PixelShuffle) + VGG-style D",
)
def srgan(shape: tuple[int, ...], num_classes: int, o: SRGANOptions) -> Networks:
    """``g``: (C, H/scale, W/scale) -> ``shape`` (the TARGET sample shape (C, H, W), which the
    trainer takes from the dataset's ``x``); ``d``: VGG-style discriminator on (C, H, W).

    ``num_classes`` is accepted and ignored: SR is conditioned on the input image only.
    """
    c, h, w = check_sr_shape("srgan", shape, o.scale)
    stages = d_stages_for(min(h, w)) if o.d_stages is None else o.d_stages
    if not 1 <= stages <= int(math.log2(min(h, w))):
        raise ConfigError(f"'model.d_stages' must be between 1 and log2 of the image side, got {stages}")
    g = SRResNet(c, o)
    return {
        "g": TranslationGenerator(g, None, in_shape=(c, h // o.scale, w // o.scale), out_shape=(c, h, w)),
        "d": SRDiscriminator(c, o.ndf, stages, o.d_norm, o.dense),
    }


register_variant(
    "srgan_tiny",
    base="srgan",
    description="srgan with small widths and two blocks, for tests",
    ngf=16,
    n_blocks=2,
    growth=8,
    ndf=8,
    dense=32,
)
