"""A conditional translator for continuous attributes (StarGAN, Choi et al. 2018, Sec. 3 and App. A):
one generator G(x, t) -> x at target attribute t, and a discriminator with two heads.

Generator: CycleGAN's encoder-ResNet-decoder (``models/cyclegan.py``: c7s1-ngf, d·2, R·n_blocks,
u·2, c7s1-C, instance norm, reflection padding) with the target attribute fed in by FiLM (Perez et
al. 2018): after every normalisation, features become h·(1 + γ(t)) + β(t), γ and β linear in an
embedding of t. StarGAN instead concatenates t as constant feature maps to the input; with
instance norm and reflection padding that signal is exactly cancelled (a constant map adds a
constant to each feature map, which the next instance norm subtracts; StarGAN's zero padding leaks
it through the borders only), so we modulate after the norms. The residual blocks are CycleGAN's
own, with a FiLM between consecutive blocks; the γ/β layers start at zero, so the untrained G is a
plain ResNet translator that ignores t.

Discriminator: a PatchGAN-like trunk (4×4 stride-2 convs, LeakyReLU 0.2, no normalisation: an
instance norm would erase the per-image ink level that thickness mostly is) with two heads, as
StarGAN's D_src / D_cls: ``adv``, one real/fake logit per patch, and ``attr``, the K attributes.
StarGAN classifies binary attributes; a continuous one is regressed (MSE), so this head is linear
in the features: each patch gives a value and a weight, and the image's attribute is the
softmax-weighted mean of the values (attention pooling). A plain mean over patches could only add
up local evidence, and mean stroke width is a ratio (ink area / stroke length): the weights let D
average local width estimates over the patches that hold strokes, ignoring the background.

Attributes enter and leave the networks in the data's units (pixels for stroke thickness) and are
standardised inside with the fixed ``attr_center`` / ``attr_scale`` (defaults:
``data.attributes.THICKNESS_CENTER`` / ``THICKNESS_SCALE``), so ``translate(x, attr=3.0)`` means
"3-pixel strokes".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganforge.data.attributes import THICKNESS_CENTER, THICKNESS_SCALE
from ganforge.errors import ConfigError, DataError
from ganforge.models.base import ModelOptions, Networks, register_translation_model
from ganforge.models.cyclegan import ResnetBlock, downsample, reflect_conv, upsample
from ganforge.models.translation import TranslationGenerator, check_translation_shape, init_normal, norm_layer
from ganforge.options import NonNegativeInt, PositiveInt
from ganforge.registry import register_variant


def check_attr(attr: torch.Tensor, n: int, attr_dim: int) -> torch.Tensor:
    """``attr`` as (n, attr_dim) finite values, or a DataError saying what it must be."""
    if attr.ndim != 2 or attr.shape != (n, attr_dim):
        raise DataError(
            f"attr must be ({n}, {attr_dim}): {attr_dim} target value(s) per image,"
            f" got shape {tuple(attr.shape)}"
        )
    # A check on values cannot be part of an exported graph (torch.export traces shapes only).
    if not torch.compiler.is_compiling() and not torch.isfinite(attr).all():
        raise DataError("attr values must be finite")
    return attr


class FiLM(nn.Module):
    """h·(1 + γ(e)) + β(e) per channel (Perez et al. 2018), γ, β linear in the embedding e; zero-init."""

    def __init__(self, width: int, embed_dim: int) -> None:
        super().__init__()
        self.affine = nn.Linear(embed_dim, 2 * width)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(e).to(h.dtype)[:, :, None, None].chunk(2, dim=1)
        return h * (1 + gamma) + beta


class AttrEditGenerator(nn.Module):
    """(N, C, H, W) in [-1, 1] and (N, K) target attributes -> (N, C, H, W) in [-1, 1]."""

    def __init__(self, channels: int, o: AttrEditOptions) -> None:
        super().__init__()
        self.attr_dim, self.attr_center, self.attr_scale = o.attr_dim, o.attr_center, o.attr_scale
        attr_dim, ngf, embed_dim, downsamplings, norm = (
            o.attr_dim,
            o.ngf,
            o.embed_dim,
            o.downsamplings,
            o.norm,
        )
        make_norm, bias = norm_layer(norm), norm != "batch"
        self.embed = nn.Sequential(
            nn.Linear(attr_dim, embed_dim), nn.ReLU(True), nn.Linear(embed_dim, embed_dim)
        )
        layers = [*reflect_conv(channels, ngf, 7, make_norm, bias), FiLM(ngf, embed_dim), nn.ReLU(True)]
        width = ngf
        for _ in range(downsamplings):
            layers += [*downsample(width, make_norm, bias), FiLM(2 * width, embed_dim), nn.ReLU(True)]
            width *= 2
        for _ in range(o.n_blocks):
            layers += [ResnetBlock(width, norm), FiLM(width, embed_dim)]
        for _ in range(downsamplings):
            layers += [*upsample(width, make_norm, bias), FiLM(width // 2, embed_dim), nn.ReLU(True)]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, channels, 7), nn.Tanh()]
        self.layers = nn.ModuleList(layers)
        self.apply(init_normal)

    def forward(self, x: torch.Tensor, attr: torch.Tensor) -> torch.Tensor:
        attr = check_attr(attr, x.shape[0], self.attr_dim)  # shape[0]: traceable
        e = self.embed(((attr.float() - self.attr_center) / self.attr_scale).to(x.dtype))
        h = x
        for layer in self.layers:
            h = layer(h, e) if isinstance(layer, FiLM) else layer(h)
        return h


class AttrDiscriminator(nn.Module):
    """``forward(x) -> (adv, attr)``: (N, 1, h, w) real/fake patch logits and (N, K) attributes in the
    data's units (StarGAN's D_src and D_cls on one shared trunk)."""

    def __init__(self, channels: int, o: AttrEditOptions) -> None:
        super().__init__()
        self.attr_dim, self.attr_center, self.attr_scale = o.attr_dim, o.attr_center, o.attr_scale
        trunk: list[nn.Module] = []
        width_in, width = channels, o.ndf
        for i in range(o.d_layers):
            width = o.ndf * min(2**i, 8)
            trunk += [nn.Conv2d(width_in, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            width_in = width
        self.trunk = nn.Sequential(*trunk)
        self.adv = nn.Conv2d(width, 1, 3, 1, 1)
        self.attr = nn.Conv2d(width, 2 * o.attr_dim, 3, 1, 1)  # per patch: a value and a pooling weight
        self.apply(init_normal)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        value, weight = self.attr(h).float().flatten(2).chunk(2, dim=1)  # (N, K, patches) each
        attr = (value * weight.softmax(dim=2)).sum(dim=2)
        return self.adv(h), self.attr_center + self.attr_scale * attr


@dataclass(frozen=True)
class AttrEditOptions(ModelOptions):
    """``attr_dim``: K, the number of continuous attributes G is told and D regresses. ``ngf``,
    ``n_blocks``, ``downsamplings`` and ``norm`` shape G as CycleGAN's ResNet translator;
    ``embed_dim`` is the size of the attribute embedding every FiLM reads. ``ndf`` and ``d_layers``
    are D's first width and number of stride-2 convs.

    ``attr_center`` / ``attr_scale`` standardise attributes inside both networks (defaults: stroke
    thickness in pixels on ``thickness_digits``), so the networks see values near N(0, 1) while
    every caller speaks the data's units.
    """

    attr_dim: PositiveInt = 1
    ngf: PositiveInt = 64
    ndf: PositiveInt = 64
    n_blocks: NonNegativeInt = 6
    downsamplings: NonNegativeInt = 2
    d_layers: PositiveInt = 3
    embed_dim: PositiveInt = 64
    attr_center: float = THICKNESS_CENTER
    attr_scale: float = THICKNESS_SCALE
    norm: str = "instance"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.attr_scale > 0:
            raise ConfigError(f"'model.attr_scale' must be positive, got {self.attr_scale}")


@register_translation_model(
    "attr_edit",
    AttrEditOptions,
    "StarGAN-style attribute editor: FiLM-conditioned ResNet G(x, t) + PatchGAN D with attr head",
)
def attr_edit(shape: tuple[int, ...], num_classes: int, o: AttrEditOptions) -> Networks:
    """``g``: ``TranslationGenerator(ab=AttrEditGenerator, conditions=("attr",))``, so
    ``g(x, attr=t)`` with t (N, ``attr_dim``) in the data's units; ``d``: ``AttrDiscriminator``.
    ``num_classes`` is accepted and ignored.
    """
    c, side = check_translation_shape("attr_edit", shape, 2**o.downsamplings)
    if side < 2**o.d_layers:
        raise ConfigError(f"'model.d_layers' ({o.d_layers}) halves a {side}-pixel image below one pixel")
    g, d = AttrEditGenerator(c, o), AttrDiscriminator(c, o)
    return {"g": TranslationGenerator(g, None, shape, shape, conditions=("attr",)), "d": d}


register_variant(
    "attr_edit_tiny",
    base="attr_edit",
    description="attr_edit with small widths and 2 residual blocks, for tests",
    ngf=8,
    ndf=16,
    n_blocks=2,
    d_layers=2,
    embed_dim=16,
)
