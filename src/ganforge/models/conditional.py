"""Class-conditional GANs on DCGAN-style networks: cGAN, projection cGAN and AC-GAN.

The three families differ only in *where the label enters*; the convolutional stages are DCGAN's
(Radford et al. 2015; widths from ``dcgan.stage_multipliers``), so their cost and behaviour are
directly comparable with the unconditional quickstart.

* ``cgan`` (Mirza & Osindero 2014, "Conditional Generative Adversarial Nets"): the label is one
  more input. G sees ``[z, e(y)]``; D sees the image with ``e(y)`` broadcast as extra channels.
* ``projection_gan`` (Miyato & Koyama 2018, "cGANs with Projection Discriminator"): G modulates every
  BatchNorm by the class embedding (conditional BatchNorm, de Vries et al. 2017); D scores
  ``f(x, y) = ψ(φ(x)) + ⟨V e_y, φ(x)⟩`` (Eq. 3): the inner product of a class embedding with D's
  features replaces concatenation, which the paper shows is what the log-density-ratio form of
  the optimal D asks for, and it conditions D far more strongly.
* ``acgan`` (Odena et al. 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs"): G is
  the cGAN generator; D does not see the label but has a second head that classifies the image
  (``adv_and_class``); the ``acgan`` objective adds the classification loss (objectives/acgan.py).

Labels are integer classes ``(N,)`` or float class weights ``(N, num_classes)``; both go through
``ganforge.nn.embed_labels``, so a one-hot row gives exactly the hard label's output and a mixture
interpolates between classes. Built with ``num_classes=0`` (unlabelled data) every family falls back
to its unconditional networks: no embeddings, ``Generator.conditional`` False, labels ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.models.base import (
    IMAGE_RESOLUTIONS,
    Generator,
    ImageModelOptions,
    Networks,
    init_dcgan_weights,
    register_image_model,
)
from ganforge.models.dcgan import stage_multipliers
from ganforge.nn import ConditionalBatchNorm2d, embed_labels, require_labels
from ganforge.options import PositiveInt
from ganforge.registry import register_variant

RESOLUTIONS = IMAGE_RESOLUTIONS  # 32 to 1024 px, DCGAN's stages (``dcgan.stage_multipliers``)


# --------------------------------------------------------------------------------------------- G


class ConditionalGenerator(Generator):
    """DCGAN's generator with the label fed in one of two ways (``conditioning``):

    ``concat`` (cGAN, AC-GAN): the first transposed conv sees ``[z, e(y)]``.
    ``cbn`` (projection cGAN): every BatchNorm is a ``ConditionalBatchNorm2d`` whose gain and bias
    are linear in ``e(y)``; its projections start at zero, so G starts unconditional and learns how
    much each class should shift each channel (Miyato & Koyama 2018, Sec. 4; de Vries et al. 2017).
    """

    def __init__(
        self,
        family: str,
        z_dim: int,
        channels: int,
        resolution: int,
        ngf: int,
        num_classes: int,
        embed_dim: int,
        conditioning: Literal["concat", "cbn"],
    ) -> None:
        super().__init__()
        if conditioning not in ("concat", "cbn"):
            raise ValueError(f"conditioning must be 'concat' or 'cbn', got {conditioning!r}")
        self.family = family
        self.z_dim, self.num_classes, self.conditional = z_dim, num_classes, num_classes > 0
        self.out_shape = (channels, resolution, resolution)
        self.cbn = self.conditional and conditioning == "cbn"
        self.embed = nn.Embedding(num_classes, embed_dim) if self.conditional else None
        width = z_dim + (embed_dim if self.conditional and not self.cbn else 0)
        self.ups, self.norms = nn.ModuleList(), nn.ModuleList()
        for i, mult in enumerate(reversed(stage_multipliers(resolution))):
            stride, padding = (1, 0) if i == 0 else (2, 1)  # the first layer projects 1x1 -> 4x4
            self.ups.append(nn.ConvTranspose2d(width, ngf * mult, 4, stride, padding, bias=False))
            norm = ConditionalBatchNorm2d(ngf * mult, embed_dim) if self.cbn else nn.BatchNorm2d(ngf * mult)
            self.norms.append(norm)
            width = ngf * mult
        self.out = nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False)  # no norm: Radford Sec. 3
        # DCGAN's init for convs and plain BatchNorm; a CBN keeps its own (zero projections: neutral start).
        for m in (*self.ups, self.out, *([] if self.cbn else self.norms)):
            m.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h, cond = z, None
        if self.embed is not None:
            e = embed_labels(self.embed, require_labels(y, self.num_classes, f"the {self.family} generator"))
            if self.cbn:
                cond = e
            else:
                h = torch.cat([z, e.to(z.dtype)], dim=1)
        h = h.reshape(h.shape[0], -1, 1, 1)
        for up, norm in zip(self.ups, self.norms, strict=True):
            h = up(h)
            h = torch.relu(norm(h, cond) if cond is not None else norm(h))
        return torch.tanh(self.out(h))


# --------------------------------------------------------------------------------------------- D


def down_stages(channels: int, resolution: int, ndf: int, batchnorm: bool) -> tuple[nn.Sequential, int]:
    """DCGAN's discriminator without its scoring layer: images -> (N, width, 4, 4) features, width.

    ``batchnorm=False`` drops the BatchNorm after the inner convs, as SNGAN and the projection
    discriminator do: spectral normalisation (``model.spectral_norm: d``) then bounds D's Lipschitz
    constant, which the per-batch rescaling of BatchNorm would otherwise undo.
    """
    layers: list[nn.Module] = []
    width = channels
    for i, mult in enumerate(stage_multipliers(resolution)):
        layers.append(nn.Conv2d(width, ndf * mult, 4, 2, 1, bias=False))
        if i > 0 and batchnorm:  # no BatchNorm on D's input layer (Radford et al., Sec. 3)
            layers.append(nn.BatchNorm2d(ndf * mult))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        width = ndf * mult
    return nn.Sequential(*layers), width


class ConcatDiscriminator(nn.Module):
    """cGAN discriminator: D([x, e(y) broadcast over H x W]) -> logits (N,)."""

    def __init__(
        self,
        channels: int,
        resolution: int,
        ndf: int,
        num_classes: int,
        embed_dim: int,
        batchnorm: bool = True,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes > 0 else None
        extra = embed_dim if self.embed is not None else 0
        self.features, width = down_stages(channels + extra, resolution, ndf, batchnorm)
        self.score = nn.Conv2d(width, 1, 4, 1, 0, bias=False)  # 4x4 -> 1x1, as DCGAN
        self.apply(init_dcgan_weights)  # leaves the embedding at N(0, 1): label maps on the pixels' scale

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            e = embed_labels(self.embed, require_labels(y, self.num_classes, "the cgan discriminator"))
            maps = e.to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
            x = torch.cat([x, maps], dim=1)
        return self.score(self.features(x)).reshape(-1)


class LabelledDiscriminator(nn.Module):
    """The body the projection and AC-GAN discriminators share: DCGAN's ``down_stages`` to a 4x4
    map of ``self.width`` channels, for ``num_classes`` labels; each subclass adds its heads."""

    def __init__(
        self, channels: int, resolution: int, ndf: int, num_classes: int, batchnorm: bool = True
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.features, self.width = down_stages(channels, resolution, ndf, batchnorm)


class ProjectionDiscriminator(LabelledDiscriminator):
    """f(x, y) = ψ(φ(x)) + ⟨V e_y, φ(x)⟩ (Miyato & Koyama 2018, Eq. 3) -> logits (N,).

    φ(x) is the last 4x4 feature map, flattened; ψ is DCGAN's 4x4 scoring conv, so the projection
    term adds one learned 4x4 readout filter per class (``embed`` holds V e_y for every y). Where the
    paper sums φ over space first, keeping the 4x4 positions lets a class say *where* its strokes
    belong, at 16x the (still tiny) embedding size.
    """

    def __init__(
        self, channels: int, resolution: int, ndf: int, num_classes: int, batchnorm: bool = True
    ) -> None:
        super().__init__(channels, resolution, ndf, num_classes, batchnorm)
        self.psi = nn.Conv2d(self.width, 1, 4, 1, 0, bias=False)
        self.embed = nn.Embedding(num_classes, self.width * 16) if num_classes > 0 else None
        self.apply(init_dcgan_weights)
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)  # like ψ: both readouts start equally small

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        out = self.psi(h).reshape(-1)
        if self.embed is not None:
            v = embed_labels(self.embed, require_labels(y, self.num_classes, "the projection discriminator"))
            out = out + (v.to(h.dtype) * h.flatten(1)).sum(dim=1)
        return out


class AuxClassifierDiscriminator(LabelledDiscriminator):
    """AC-GAN discriminator: shared features, an adversarial head and a K-way class head.

    ``forward(x, y)`` returns the adversarial logits (N,) and ignores ``y``, so the ``gan``
    objective, gradient penalties and evaluation treat it as any D; ``adv_and_class(x)`` returns
    both heads from one pass through the features, which the ``acgan`` objective trains on.
    """

    def __init__(
        self, channels: int, resolution: int, ndf: int, num_classes: int, batchnorm: bool = True
    ) -> None:
        super().__init__(channels, resolution, ndf, num_classes, batchnorm)
        self.score = nn.Conv2d(self.width, 1, 4, 1, 0, bias=False)
        self.classify = nn.Conv2d(self.width, num_classes, 4, 1, 0, bias=True) if num_classes > 0 else None
        self.apply(init_dcgan_weights)

    def adv_and_class(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(adversarial logits (N,), class logits (N, num_classes)) from one forward."""
        if self.classify is None:
            raise ConfigError("this AC-GAN discriminator was built without classes (num_classes=0)")
        h = self.features(x)
        return self.score(h).reshape(-1), self.classify(h).flatten(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.score(self.features(x)).reshape(-1)


# ---------------------------------------------------------------------------------------- builders


@dataclass(frozen=True)
class ConditionalOptions(ImageModelOptions):
    """The keys every conditional family shares (``cgan`` and ``acgan`` take exactly these).

    ``ngf``/``ndf``: the widths of the narrowest (highest-resolution) stage of G and D, as in DCGAN.
    ``embed_dim``: the size of the learned label embedding each network uses. ``d_batchnorm: false``
    drops D's inner BatchNorms, so that spectral normalisation can bound D (see ``down_stages``).
    """

    z_dim: PositiveInt = 100
    ngf: PositiveInt = 48
    ndf: PositiveInt = 48
    embed_dim: PositiveInt = 16
    d_batchnorm: bool = True


@dataclass(frozen=True)
class ProjectionGANOptions(ConditionalOptions):
    """``embed_dim`` sizes G's shared class embedding, the input of every conditional BatchNorm; D's
    projection embedding is as wide as its features and takes no key."""

    embed_dim: PositiveInt = 32


DiscriminatorFn = Callable[[int, int, ConditionalOptions, int], nn.Module]


def register_conditional(
    name: str,
    options: type[ConditionalOptions],
    conditioning: str,
    discriminator: DiscriminatorFn,
    description: str,
) -> None:
    """Register a conditional family: ``ConditionalGenerator`` with ``conditioning`` (``concat``: the
    embedded label joins z; ``cbn``: it drives conditional BatchNorm) and the family's D, built as
    ``discriminator(channels, resolution, options, num_classes)``. The three families differ only
    in those two choices, so they are declared as data below."""

    def build(c: int, res: int, num_classes: int, o: ConditionalOptions) -> Networks:
        return {
            "g": ConditionalGenerator(name, o.z_dim, c, res, o.ngf, num_classes, o.embed_dim, conditioning),
            "d": discriminator(c, res, o, num_classes),
        }

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"{name} G and D for (C, H, W) images of ``shape``."
    register_image_model(name, options, description, RESOLUTIONS)(build)


register_conditional(
    "cgan",
    ConditionalOptions,
    "concat",
    lambda c, res, o, k: ConcatDiscriminator(c, res, o.ndf, k, o.embed_dim, o.d_batchnorm),
    "conditional GAN: label embedding joined to G's latent and D's input (Mirza & Osindero 2014)",
)
register_conditional(
    "projection_gan",
    ProjectionGANOptions,
    "cbn",
    lambda c, res, o, k: ProjectionDiscriminator(c, res, o.ndf, k, o.d_batchnorm),
    "cGAN with conditional-BatchNorm G and projection D (Miyato & Koyama 2018)",
)
register_conditional(
    "acgan",
    ConditionalOptions,
    "concat",
    # Train it with objective.name: acgan (the gan objective ignores the class head).
    lambda c, res, o, k: AuxClassifierDiscriminator(c, res, o.ndf, k, o.d_batchnorm),
    "AC-GAN: cGAN generator, D with an auxiliary classifier head (Odena et al. 2017)",
)


register_variant(
    "cgan_tiny",
    base="cgan",
    description="cgan with small widths, for tests",
    z_dim=16,
    ngf=8,
    ndf=8,
    embed_dim=8,
)
register_variant(
    "projection_gan_tiny",
    base="projection_gan",
    description="projection_gan with small widths, for tests",
    z_dim=16,
    ngf=8,
    ndf=8,
    embed_dim=8,
)
register_variant(
    "acgan_tiny",
    base="acgan",
    description="acgan with small widths, for tests",
    z_dim=16,
    ngf=8,
    ndf=8,
    embed_dim=8,
)
