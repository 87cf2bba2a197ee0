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

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.models.translation import (
    DiscriminatorPair,
    PatchDiscriminator,
    TranslationGenerator,
    check_translation_shape,
    init_normal,
    norm_layer,
    patch_layers_for,
)
from ganforge.registry import register_model, register_variant


class ResnetBlock(nn.Module):
    """x + [reflect-pad, conv3×3, norm, ReLU, reflect-pad, conv3×3, norm](x) (Johnson et al., Fig. 5)."""

    def __init__(self, width: int, norm: str = "instance", dropout: float = 0.0) -> None:
        super().__init__()
        make_norm, bias = norm_layer(norm), norm != "batch"
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(width, width, 3, bias=bias),
            make_norm(width),
            nn.ReLU(True),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3, bias=bias), make_norm(width)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """(N, in_channels, H, W) -> (N, out_channels, H, W) in [-1, 1]; H, W divisible by 2^downsamplings."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ngf: int = 64,
        n_blocks: int = 6,
        downsamplings: int = 2,
        norm: str = "instance",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        make_norm, bias = norm_layer(norm), norm != "batch"
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=bias),
            make_norm(ngf),
            nn.ReLU(True),
        ]
        width = ngf
        for _ in range(downsamplings):
            layers += [nn.Conv2d(width, 2 * width, 3, 2, 1, bias=bias), make_norm(2 * width), nn.ReLU(True)]
            width *= 2
        layers += [ResnetBlock(width, norm, dropout) for _ in range(n_blocks)]
        for _ in range(downsamplings):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 3, 2, 1, output_padding=1, bias=bias),
                make_norm(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(init_normal)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


@register_model(
    "cyclegan",
    inputs=("image_pair",),
    task="translation",
    description="CycleGAN: two ResNet Gs + two PatchGAN Ds (Zhu et al. 2017), unpaired translation",
)
def cyclegan(
    shape: tuple[int, ...],
    num_classes: int = 0,
    *,
    ngf: int = 64,
    ndf: int = 64,
    n_blocks: int = 6,
    downsamplings: int = 2,
    d_layers: int | None = None,
    norm: str = "instance",
    dropout: float = 0.0,
) -> dict[str, nn.Module]:
    """``g``: ``ab`` (A→B) and ``ba`` (B→A) ResNet generators; ``d``: ``b`` and ``a`` PatchGANs.

    ``shape`` is one image's (C, H, W), the same in both domains. ``d_layers`` defaults to patches of
    at least a quarter of the image side. ``num_classes`` is accepted and ignored.
    """
    for key, value, least in (
        ("ngf", ngf, 1),
        ("ndf", ndf, 1),
        ("n_blocks", n_blocks, 0),
        ("downsamplings", downsamplings, 0),
    ):
        if value < least:
            raise ConfigError(f"'model.{key}' must be at least {least}, got {value}")
    c, side = check_translation_shape("cyclegan", shape, 2**downsamplings)
    layers = patch_layers_for(side) if d_layers is None else d_layers
    if layers < 1:
        raise ConfigError(f"'model.d_layers' must be at least 1, got {layers}")

    def generator() -> ResnetGenerator:
        return ResnetGenerator(c, c, ngf, n_blocks, downsamplings, norm, dropout)

    def discriminator() -> PatchDiscriminator:
        return PatchDiscriminator(c, ndf, layers, norm)

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
