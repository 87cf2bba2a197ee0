"""pix2pix networks (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial
Networks"): a U-Net generator and a conditional PatchGAN discriminator.

The U-Net (Ronneberger et al. 2015; Isola et al. Sec. 3.2.1, App. 6.1.1) is an encoder-decoder
whose decoder layer i also receives encoder layer i's features (skip connections), so the low-level
structure shared by input and output (edge positions, outlines) bypasses the bottleneck. Encoder:
C64-C128-C256-C512-C512-..., 4×4 stride-2 convs with LeakyReLU(0.2), no norm on the first layer
or at the bottleneck; decoder: 4×4 stride-2 transposed convs with ReLU, dropout 0.5 on its first
three layers (pix2pix's only noise: "we provide noise only in the form of dropout"), tanh output.

The depth defaults to as many halvings as the image side allows, up to a 1×1 bottleneck (8 at 256
px as in the paper, 5 at 32 px). D sees the input and output images concatenated (D(A, B)), with
patches sized by ``patch_layers_for`` (see ``models/translation.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.models.base import Networks, register_translation_model
from ganforge.models.translation import (
    PatchDiscriminator,
    TranslationGenerator,
    TranslationOptions,
    check_translation_shape,
    init_normal,
    norm_layer,
)
from ganforge.registry import register_variant

MAX_DEPTH = 8
DROPOUT_LAYERS = 3  # decoder layers with dropout, innermost first (Isola et al., App. 6.1.1: CD512 x 3)


def unet_depth(side: int) -> int:
    """Halvings of ``side`` until it is 1 or odd, at most ``MAX_DEPTH``: the deepest U-Net that fits."""
    depth = 0
    while side % 2 == 0 and side > 1 and depth < MAX_DEPTH:
        side, depth = side // 2, depth + 1
    return depth


class UNetGenerator(nn.Module):
    """(N, in_channels, H, W) in [-1, 1] -> (N, out_channels, H, W) in [-1, 1]; H, W divisible by 2^depth."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        depth: int,
        ngf: int = 64,
        norm: str = "batch",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if depth < 2:
            raise ConfigError(f"'model.depth' must be at least 2 for a U-Net, got {depth}")
        make_norm, bias = norm_layer(norm), norm != "batch"
        widths = [ngf * min(2**i, 8) for i in range(depth)]  # encoder level i's output width
        self.downs = nn.ModuleList()
        for i, width in enumerate(widths):
            if i == 0:
                self.downs.append(nn.Conv2d(in_channels, width, 4, 2, 1, bias=bias))
                continue
            layers: list[nn.Module] = [
                nn.LeakyReLU(0.2, True),
                nn.Conv2d(widths[i - 1], width, 4, 2, 1, bias=bias),
            ]
            if i < depth - 1:  # the bottleneck (1x1 at full depth) has no norm
                layers.append(make_norm(width))
            self.downs.append(nn.Sequential(*layers))
        self.ups = nn.ModuleList()
        for i, width in enumerate(widths):
            if i == 0:
                self.ups.append(
                    nn.Sequential(
                        nn.ReLU(True), nn.ConvTranspose2d(2 * width, out_channels, 4, 2, 1), nn.Tanh()
                    )
                )
                continue
            fan_in = width if i == depth - 1 else 2 * width  # skip connections double the others' input
            layers = [nn.ReLU(True), nn.ConvTranspose2d(fan_in, widths[i - 1], 4, 2, 1, bias=bias)]
            layers.append(make_norm(widths[i - 1]))
            if dropout > 0 and i >= depth - DROPOUT_LAYERS:
                layers.append(nn.Dropout(dropout))
            self.ups.append(nn.Sequential(*layers))
        self.apply(init_normal)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = []
        for down in self.downs:
            x = down(x)
            feats.append(x)
        h = self.ups[-1](feats[-1])
        for i in range(len(self.ups) - 2, -1, -1):
            h = self.ups[i](torch.cat([feats[i], h], dim=1))
        return h


@dataclass(frozen=True)
class Pix2PixOptions(TranslationOptions):
    """``ngf``/``ndf``/``d_layers``: see ``TranslationOptions``; D's patches are on [A, B].

    ``depth``: the U-Net's halvings; None takes the deepest that fits the image side
    (``unet_depth``), a 1×1 bottleneck where the side allows. ``norm``: ``batch`` (Isola et al.'s),
    ``instance`` or ``none``, in G and D. ``dropout``: the rate in the three innermost decoder
    layers, pix2pix's only source of noise; 0 turns it off.
    """

    depth: int | None = None
    norm: str = "batch"
    dropout: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"'model.dropout' must be in [0, 1), got {self.dropout}")


@register_translation_model(
    "pix2pix",
    Pix2PixOptions,
    "pix2pix: U-Net G + conditional PatchGAN D (Isola et al. 2017), paired translation",
)
def pix2pix(shape: tuple[int, ...], num_classes: int, o: Pix2PixOptions) -> Networks:
    """``g``: A→B U-Net; ``d``: PatchGAN on [A, B].

    ``shape`` is one target image's (C, H, W); inputs have the same shape (``data/paired.py``).
    ``num_classes`` is accepted and ignored: pix2pix is conditioned on the input image only.
    """
    c, side = check_translation_shape("pix2pix", shape, 1)
    depth = unet_depth(side) if o.depth is None else o.depth
    c, side = check_translation_shape("pix2pix", shape, 2**depth)
    layers = o.patch_layers(side)
    g = UNetGenerator(c, c, depth, o.ngf, o.norm, o.dropout)
    return {
        "g": TranslationGenerator(g, None, shape, shape),
        "d": PatchDiscriminator(c, o.ndf, layers, o.norm, cond_channels=c),
    }


register_variant(
    "pix2pix_tiny",
    base="pix2pix",
    description="pix2pix with small widths and depth 3, for tests",
    ngf=8,
    ndf=8,
    depth=3,
    d_layers=1,
)
