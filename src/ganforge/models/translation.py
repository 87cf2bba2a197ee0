"""What image-to-image models share: the generator group, PatchGAN discriminators, norm layers.

The Trainer keeps one optimiser per network name and configures ``optim.g`` / ``optim.d`` only, so a
translation model groups its networks under those two names: ``g`` is a ``TranslationGenerator``
holding one generator per direction (``ab``: A→B, and for CycleGAN ``ba``: B→A), and ``d`` is a
PatchGAN (pix2pix, conditioned on the input) or a ``DiscriminatorPair`` (CycleGAN's ``b``: judges
domain B, ``a``: domain A). One Adam over both generators is exactly what Zhu et al.'s reference
code does (``itertools.chain`` of both parameter lists); the EMA of ``g`` then averages both.

A translation generator is not a latent sampler: it has no ``z_dim``/``sample_z``. Sampling code
tells the two apart by ``sample_z``; preview grids come from the objective's ``preview`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.models.base import ModelOptions
from ganforge.options import PositiveInt

DIRECTIONS = ("AtoB", "BtoA")


def norm_layer(kind: str) -> Callable[[int], nn.Module]:
    """``batch`` (pix2pix), ``instance`` (CycleGAN; Ulyanov et al. 2016, no affine, no running stats)
    or ``none``; a factory taking the channel count."""
    if kind == "batch":
        return nn.BatchNorm2d
    if kind == "instance":
        return lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
    if kind == "none":
        return lambda c: nn.Identity()
    raise ConfigError(f"'model.norm' must be batch, instance or none, got {kind!r}")


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """N(0, 0.02) convolutions and N(1, 0.02) norm scales, the initialisation of both papers' code."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, std)
        nn.init.zeros_(module.bias)


class TranslationGenerator(nn.Module):
    """The ``g`` network of a translation model: ``forward(x, direction, **conditions)`` runs that
    direction's net.

    ``in_shape``/``out_shape`` are one A / one B sample's (C, H, W); they differ in side for
    super-resolution. ``directions`` lists what the model can do (pix2pix: A→B only).
    ``conditions`` names what the A→B net needs besides its input image, each passed as a keyword
    and carried in batches under the same key: ``mask`` (inpainting: (N, 1, H, W), 1 = missing),
    ``attr`` (attribute editing: (N, K) target values). Callers (objectives, ``TranslatorHandle``,
    evaluation) look at ``conditions`` instead of at the model's family.
    """

    def __init__(
        self,
        ab: nn.Module,
        ba: nn.Module | None,
        in_shape: tuple[int, ...],
        out_shape: tuple[int, ...],
        conditions: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.ab = ab
        self.ba = ba
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.directions = DIRECTIONS if ba is not None else DIRECTIONS[:1]
        self.conditions = tuple(conditions)

    def forward(self, x: torch.Tensor, direction: str = "AtoB", **conditions: torch.Tensor) -> torch.Tensor:
        missing = [name for name in self.conditions if name not in conditions]
        unknown = [name for name in conditions if name not in self.conditions]
        if missing or unknown:
            need = ", ".join(self.conditions) or "no conditions"
            raise ConfigError(f"this translator takes {need}; missing {missing}, unexpected {unknown}")
        if direction == "AtoB":
            return self.ab(x, **conditions)
        if direction == "BtoA" and self.ba is not None:
            return self.ba(x)
        raise ConfigError(
            f"direction must be one of {', '.join(self.directions)} for this model, got {direction!r}"
        )

    def input_shape(self, direction: str) -> tuple[int, ...]:
        return self.in_shape if direction == "AtoB" else self.out_shape


def parse_attr(text: str, name: str = "--attr") -> torch.Tensor:
    """``"2.5"`` or ``"1,0.5"`` (typed by a user as ``name``) -> a (1, K) target attribute row."""
    import math

    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{name} must be numbers separated by commas, got {text!r}") from None
    if not values or not all(map(math.isfinite, values)):
        raise ConfigError(f"{name} must be finite numbers, got {text!r}")
    return torch.tensor([values], dtype=torch.float32)


def check_condition(name: str, value: torch.Tensor, n: int, side: tuple[int, int]) -> torch.Tensor:
    """A condition for ``n`` images of size ``side`` as float32, its first dimension ``n`` (a
    leading 1 is broadcast), or a DataError saying what shape and values it must have.

    ``mask``: (N or 1, 1, H, W), 0 = known, 1 = missing (values in [0, 1]; a (H, W) or (1, H, W)
    mask is taken as one for all images); ``attr``: (N or 1, K) finite target values (a scalar or a
    (K,) vector is one for all images).
    """
    from ganforge.errors import DataError

    value = torch.as_tensor(value, dtype=torch.float32)
    if name == "mask":
        while value.ndim < 4:
            value = value[None]
        if value.ndim != 4 or value.shape[1] != 1 or tuple(value.shape[-2:]) != tuple(side):
            raise DataError(
                f"a mask must be (N or 1, 1, {side[0]}, {side[1]}) for these images, got {tuple(value.shape)}"
            )
        if not torch.isfinite(value).all() or value.min() < 0 or value.max() > 1:
            raise DataError("mask values must be in [0, 1] (1 = missing)")
    elif name == "attr":
        while value.ndim < 2:
            value = value[None]
        if value.ndim != 2 or not torch.isfinite(value).all():
            raise DataError(f"attr must be finite (N or 1, K) values, got shape {tuple(value.shape)}")
    else:
        raise ConfigError(f"unknown translation condition '{name}'")
    if len(value) not in (1, n):
        raise DataError(f"{name} holds {len(value)} rows for {n} image(s); give 1 or {n}")
    return value.expand(n, *value.shape[1:]) if len(value) == 1 else value


def patch_layers_for(resolution: int) -> int:
    """Stride-2 layers of a PatchGAN whose receptive field is at least a quarter of the image side.

    Isola et al.'s 70×70 patches on 256×256 images (3 layers) are 27% of the side; the rule keeps that
    proportion: 1 layer (16 px patches) at 32 px, 2 (34 px) at 128, 3 (70 px) at 256.
    """
    layers = 1
    while patch_receptive_field(layers) < resolution / 4:
        layers += 1
    return layers


def patch_receptive_field(layers: int) -> int:
    """Receptive field of a PatchGAN: ``layers`` 4×4 stride-2 convs, then two 4×4 stride-1 ones."""
    field = 7  # the two stride-1 convs: 4 + 3
    for _ in range(layers):
        field = 2 * field + 2  # a 4x4 stride-2 conv: (r - 1) * 2 + 4
    return field


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. 2017, Sec. 3.2.2): a grid of logits, one per overlapping image patch.

    C64-C128-...: 4×4 convs, stride 2 for ``layers`` layers (no norm on the first), a stride-1 conv
    doubling the width, then a stride-1 conv to one channel. Each output logit sees one
    ``patch_receptive_field(layers)``-pixel patch, so D models high frequencies only and leaves
    the low ones to the L1/cycle loss. ``cond_channels`` > 0 makes it conditional: ``forward(x, cond)``
    scores the channel-wise concatenation [cond, x] (pix2pix's D(A, B)).
    """

    def __init__(
        self, channels: int, ndf: int = 64, layers: int = 3, norm: str = "batch", cond_channels: int = 0
    ) -> None:
        super().__init__()
        make_norm = norm_layer(norm)
        bias = norm != "batch"  # BatchNorm's shift makes a conv bias redundant
        width = ndf
        seq: list[nn.Module] = [nn.Conv2d(channels + cond_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for i in range(1, layers + 1):
            stride = 2 if i < layers else 1
            nxt = ndf * min(2**i, 8)
            seq += [nn.Conv2d(width, nxt, 4, stride, 1, bias=bias), make_norm(nxt), nn.LeakyReLU(0.2, True)]
            width = nxt
        seq.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.main = nn.Sequential(*seq)
        self.cond_channels = cond_channels
        self.apply(init_normal)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.cond_channels:
            if cond is None:
                raise ValueError("this PatchGAN is conditional: pass the input image as cond")
            x = torch.cat([cond.to(x.dtype), x], dim=1)
        return self.main(x)


class DiscriminatorPair(nn.Module):
    """CycleGAN's two discriminators as one network (one optimiser): ``b`` judges domain B, ``a`` A."""

    def __init__(self, b: nn.Module, a: nn.Module) -> None:
        super().__init__()
        self.b, self.a = b, a

    def forward(self, x: torch.Tensor, domain: str = "B") -> torch.Tensor:
        return self.b(x) if domain == "B" else self.a(x)


def check_translation_shape(family: str, shape: tuple[int, ...], multiple: int) -> tuple[int, int]:
    """(channels, side) of square images whose side divides by ``multiple``, else a ConfigError."""
    if len(shape) != 3:
        raise ConfigError(f"{family} translates (C, H, W) images, got samples of shape {tuple(shape)}")
    c, h, w = shape
    if h != w:
        raise ConfigError(f"{family} needs square images, got {h}x{w}")
    if h % multiple:
        raise ConfigError(f"{family} needs an image side divisible by {multiple} for its depth, got {h}")
    return c, h


@dataclass(frozen=True)
class TranslationOptions(ModelOptions):
    """The keys pix2pix and CycleGAN share; each family adds its own (``norm`` and ``dropout`` among
    them, whose defaults differ: batch norm and dropout 0.5 for pix2pix, instance norm and none for
    CycleGAN).

    ``ngf``/``ndf``: the widths of G's and D's first layers (deeper layers are multiples of them).
    ``d_layers``: the PatchGAN's stride-2 layers; None derives it from the image side, so that a
    patch covers at least a quarter of it (``patch_layers_for``), as Isola et al.'s 70 px patches
    do at 256 px.
    """

    ngf: PositiveInt = 64
    ndf: PositiveInt = 64
    d_layers: PositiveInt | None = None

    def patch_layers(self, side: int) -> int:
        """``d_layers``, or where it is None the default for images of ``side``."""
        return patch_layers_for(side) if self.d_layers is None else self.d_layers
