"""CycleGAN networks (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks"): two ResNet generators and two PatchGAN discriminators.

The generator is Johnson et al. 2016's ("Perceptual Losses for Real-Time Style Transfer") as CycleGAN
uses it (App. 7.2): c7s1-64, d128, d256, R256 × n_blocks, u128, u64, c7s1-3, with instance norm
(Ulyanov et al. 2016) and reflection padding (no border artefacts from zero padding). Residual
blocks suit translation between similar domains: each block only adds a correction, so the
identity map is easy to represent. Zhu et al. use 9 blocks at 256 px and 6 at 128; at 32 px two
downsamplings leave 8×8 maps, and 6 blocks (the default) already cover them many times over.

Discriminators: unconditional PatchGANs with instance norm, one per domain (``models/translation.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ganforge.models.base import Networks, register_translation_model
from ganforge.models.translation import (
    DiscriminatorPair,
    PatchDiscriminator,
    TranslationGenerator,
    TranslationOptions,
    check_translation_shape,
    init_normal,
    norm_layer,
)
from ganforge.options import NonNegativeInt
from ganforge.registry import register_variant


def reflect_conv(
    in_channels: int, out_channels: int, kernel: int, make_norm: Callable[[int], nn.Module], bias: bool
) -> list[nn.Module]:
    """Reflection padding, a "same" conv of odd ``kernel`` and a norm: the unit of Johnson et al.'s
    generator (c7s1-k, the residual blocks), padded by reflection to avoid border artefacts."""
    return [
        nn.ReflectionPad2d(kernel // 2),
        nn.Conv2d(in_channels, out_channels, kernel, bias=bias),
        make_norm(out_channels),
    ]


def downsample(width: int, make_norm: Callable[[int], nn.Module], bias: bool) -> list[nn.Module]:
    """A stride-2 conv3×3 to twice the width and its norm (Johnson et al.'s d-k stage, before its ReLU)."""
    return [nn.Conv2d(width, 2 * width, 3, 2, 1, bias=bias), make_norm(2 * width)]


def upsample(width: int, make_norm: Callable[[int], nn.Module], bias: bool) -> list[nn.Module]:
    """A stride-2 transposed conv3×3 to half the width and its norm (the u-k stage, before its ReLU)."""
    half = width // 2
    return [nn.ConvTranspose2d(width, half, 3, 2, 1, output_padding=1, bias=bias), make_norm(half)]


class ResnetBlock(nn.Module):
    """x + [reflect-pad, conv3×3, norm, ReLU, reflect-pad, conv3×3, norm](x) (Johnson et al., Fig. 5)."""

    def __init__(self, width: int, norm: str = "instance", dropout: float = 0.0) -> None:
        super().__init__()
        make_norm, bias = norm_layer(norm), norm != "batch"
        layers = [*reflect_conv(width, width, 3, make_norm, bias), nn.ReLU(True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += reflect_conv(width, width, 3, make_norm, bias)
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """(N, in_channels, H, W) -> (N, out_channels, H, W) in [-1, 1]; H, W divisible by 2^downsamplings."""

    def __init__(self, in_channels: int, out_channels: int, o: CycleGANOptions) -> None:
        super().__init__()
        make_norm, bias = norm_layer(o.norm), o.norm != "batch"
        layers = [*reflect_conv(in_channels, o.ngf, 7, make_norm, bias), nn.ReLU(True)]
        width = o.ngf
        for _ in range(o.downsamplings):
            layers += [*downsample(width, make_norm, bias), nn.ReLU(True)]
            width *= 2
        layers += [ResnetBlock(width, o.norm, o.dropout) for _ in range(o.n_blocks)]
        for _ in range(o.downsamplings):
            layers += [*upsample(width, make_norm, bias), nn.ReLU(True)]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(init_normal)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


@dataclass(frozen=True)
class CycleGANOptions(TranslationOptions):
    """``ngf``/``ndf``/``d_layers``: see ``TranslationOptions``; the two Gs (and the two Ds) share them.

    ``n_blocks``: residual blocks per G (Zhu et al.: 9 at 256 px, 6 at 128). ``downsamplings``:
    G's stride-2 stages before and after them; the image side must divide by 2^downsamplings.
    ``norm``: ``instance`` (Zhu et al.'s), ``batch`` or ``none``, in Gs and Ds. ``dropout``: a rate
    inside each residual block, off by default as in the paper.
    """

    n_blocks: NonNegativeInt = 6
    downsamplings: NonNegativeInt = 2
    norm: str = "instance"
    dropout: float = 0.0


@register_translation_model(
    "cyclegan",
    CycleGANOptions,
    "CycleGAN: two ResNet Gs + two PatchGAN Ds (Zhu et al. 2017), unpaired translation",
)
def cyclegan(shape: tuple[int, ...], num_classes: int, o: CycleGANOptions) -> Networks:
    """``g``: ``ab`` (A→B) and ``ba`` (B→A) ResNet generators; ``d``: ``b`` and ``a`` PatchGANs.

    ``shape`` is one image's (C, H, W), the same in both domains. ``num_classes`` is accepted and
    ignored.
    """
    c, side = check_translation_shape("cyclegan", shape, 2**o.downsamplings)
    layers = o.patch_layers(side)

    def generator() -> ResnetGenerator:
        return ResnetGenerator(c, c, o)

    def discriminator() -> PatchDiscriminator:
        return PatchDiscriminator(c, o.ndf, layers, o.norm)

    return {
        "g": TranslationGenerator(generator(), generator(), shape, shape),
        "d": DiscriminatorPair(b=discriminator(), a=discriminator()),
    }


register_variant(
    "cyclegan_tiny",
    base="cyclegan",
    description="cyclegan with small widths and 2 residual blocks, for tests",
    ngf=8,
    ndf=8,
    n_blocks=2,
    d_layers=1,
)
