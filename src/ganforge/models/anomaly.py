"""Anomaly-detection families: GANomaly (Akçay et al. 2018) and f-AnoGAN (Schlegl et al. 2019).

Both learn what *normal* images look like from normal images only and score a new image by how
badly the model explains it; their networks are DCGAN-style convolution stacks (stride-2 4×4
convolutions down to 4×4, a 4×4 valid convolution to a vector, and the transposed path back).

* ``ganomaly``: ``g`` is an encoder–decoder–encoder, x → z = G_E(x) → x̂ = G_D(z) → ẑ = E(x̂);
  ``d`` a DCGAN discriminator whose penultimate features the generator matches. Score: the
  latent distance ‖z − ẑ‖² (Eq. 9 of the paper): the second encoder only learns to encode the
  reconstructions of *normal* images, so an anomaly's reconstruction lands far from its code.
* ``fanogan``: ``g`` is a WGAN-GP generator G: z → x with the izi_f encoder E: x → z beside it
  (one network, so one optimiser trains G in stage 1 and E in stage 2); ``d`` the critic, no
  normalisation (the gradient penalty is per sample). Score: ‖x − G(E(x))‖²/n + κ·‖f(x) −
  f(G(E(x)))‖²/n_f (Eq. 5-7), f = the critic's penultimate features; ``model.kappa`` is κ.

Both ``g`` networks subclass ``AnomalyModel``, whose ``score(x, d)`` is what the ``anomaly`` task's
handle calls: the task asks the network, it never asks which family it is.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganforge.models.base import Generator, ImageModelOptions, Networks, init_dcgan_weights
from ganforge.options import NonNegativeFloat, PositiveInt
from ganforge.registry import register_model, register_variant

# The sides the conv stacks are written for: halvings down to 4×4.
ANOMALY_RESOLUTIONS = (16, 32, 64, 128)


@dataclass
class Scores:
    """What a detector says about a batch: ``score`` (N,), higher = more anomalous, and
    ``residual`` (N, 1, H, W), where in each image the model failed to explain it."""

    score: torch.Tensor
    residual: torch.Tensor


class ConvEncoder(nn.Module):
    """(N, C, S, S) → (N, out_dim): stride-2 4×4 convs (width doubling, LeakyReLU 0.2; BatchNorm
    after all but the first where ``batch_norm``) down to 4×4, then a 4×4 valid conv. ``features``
    is everything before that last conv (GANomaly's and f-AnoGAN's f(·))."""

    def __init__(
        self, channels: int, side: int, width: int, out_dim: int, batch_norm: bool, bias: bool = True
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        while side // 2 > 4:
            norm = nn.BatchNorm2d(width * 2) if batch_norm else nn.Identity()
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=not batch_norm), norm, nn.LeakyReLU(0.2)]
            side, width = side // 2, width * 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, out_dim, 4, 1, 0, bias=bias)
        self.apply(init_dcgan_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).flatten(1)


class ConvDecoder(nn.Module):
    """(N, z_dim) → (N, C, S, S) in [-1, 1]: the mirror of ``ConvEncoder`` (transposed convs,
    BatchNorm, ReLU; tanh out), as DCGAN's generator."""

    def __init__(self, z_dim: int, channels: int, side: int, width: int) -> None:
        super().__init__()
        widths = []
        while side > 4:
            widths.append(width)
            side, width = side // 2, width * 2
        widths.reverse()  # widest first: at 4×4
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, widths[0], 4, 1, 0, bias=False)]
        layers += [nn.BatchNorm2d(widths[0]), nn.ReLU()]
        for w_in, w_out in itertools.pairwise(widths):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.ReLU()]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.reshape(len(z), -1, 1, 1))


class Critic(nn.Module):
    """A DCGAN discriminator / WGAN critic: ``forward(x)`` → (N,) logits, ``features(x)`` → (N, F),
    the penultimate activations both families compare real and reconstructed images by.
    ``bias=False`` for a Wasserstein critic: E[D(x)] − E[D(G(z))] cancels a constant, so an
    output bias would never learn."""

    def __init__(self, channels: int, side: int, width: int, batch_norm: bool, bias: bool = True) -> None:
        super().__init__()
        self.net = ConvEncoder(channels, side, width, 1, batch_norm, bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).reshape(-1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x).flatten(1)


def pixel_residual(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W): the squared reconstruction error per pixel, averaged over channels."""
    return (x.float() - x_hat.float()).square().mean(1, keepdim=True)


class AnomalyModel(nn.Module):
    """Base of the ``g`` networks of the ``anomaly`` task: ``in_shape`` (C, H, W) and ``score``."""

    in_shape: tuple[int, ...]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x̂: the model's explanation of ``x`` as a normal image."""
        raise NotImplementedError

    def score(self, x: torch.Tensor, d: Critic) -> Scores:
        """Anomaly scores of ``x`` (higher = more anomalous) and their per-pixel residuals."""
        raise NotImplementedError


class GANomalyGenerator(AnomalyModel):
    """GANomaly's G: encoder G_E, decoder G_D, second encoder E; ``forward(x)`` → (x̂, z, ẑ)."""

    def __init__(self, channels: int, side: int, z_dim: int, width: int) -> None:
        super().__init__()
        self.in_shape = (channels, side, side)
        self.encoder = ConvEncoder(channels, side, width, z_dim, batch_norm=True)
        self.decoder = ConvDecoder(z_dim, channels, side, width)
        self.encoder2 = ConvEncoder(channels, side, width, z_dim, batch_norm=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        x_hat = self.decoder(z)
        return x_hat, z, self.encoder2(x_hat)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)[0]

    def score(self, x: torch.Tensor, d: Critic) -> Scores:
        """Eq. 9: A(x) = ‖G_E(x) − E(G(x))‖², here as the mean over the latent's dimensions."""
        x_hat, z, z_hat = self.forward(x)
        return Scores((z.float() - z_hat.float()).square().mean(1), pixel_residual(x, x_hat))


class FAnoGANGenerator(Generator, AnomalyModel):
    """f-AnoGAN's G (z → x, a ``Generator``: sample grids and the latent tools work on it) with
    the izi_f encoder E (x → z) beside it; ``kappa`` weights the feature residual.

    E keeps PyTorch's default (Kaiming-uniform) initialisation: under DCGAN's N(0, 0.02) every
    unnormalised layer shrinks its input, E starts out mapping every image to z ≈ 0 (G's mean
    image), far inside N(0, I), and Adam at G's learning rate takes thousands of steps to grow it
    (measured: the izi_f loss flat over 200 steps)."""

    def __init__(self, channels: int, side: int, z_dim: int, width: int, kappa: float) -> None:
        super().__init__()
        self.z_dim, self.out_shape, self.in_shape = z_dim, (channels, side, side), (channels, side, side)
        self.kappa = kappa
        self.decoder = ConvDecoder(z_dim, channels, side, width)
        self.encoder = ConvEncoder(channels, side, width, z_dim, batch_norm=False)
        for m in self.encoder.modules():  # PyTorch's default init, not DCGAN's N(0, 0.02): see below
            if isinstance(m, nn.Conv2d):
                m.reset_parameters()

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def residuals(self, x: torch.Tensor, d: Critic) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x̂, per-image pixel residual ‖x − x̂‖²/n, per-image feature residual ‖f(x) − f(x̂)‖²/n_f):
        the izi_f loss's two terms (Eq. 6) and the score's (Eq. 7), computed once for both."""
        x_hat = self.reconstruct(x)
        pixels = (x.float() - x_hat.float()).square().flatten(1).mean(1)
        feats = (d.features(x).float() - d.features(x_hat).float()).square().mean(1)
        return x_hat, pixels, feats

    def score(self, x: torch.Tensor, d: Critic) -> Scores:
        x_hat, pixels, feats = self.residuals(x, d)
        return Scores(pixels + self.kappa * feats, pixel_residual(x, x_hat))


@dataclass(frozen=True)
class AnomalyModelOptions(ImageModelOptions):
    """``z_dim``: the latent code's size; ``ngf``/``ndf``: the first conv widths of G's stacks and D
    (each halving of the side doubles them)."""

    z_dim: PositiveInt = 100
    ngf: PositiveInt = 64
    ndf: PositiveInt = 64


@dataclass(frozen=True)
class FAnoGANOptions(AnomalyModelOptions):
    """``kappa``: κ, the weight of D's feature residual in the encoder's loss and in the score
    (1.0 in the paper)."""

    kappa: NonNegativeFloat = 1.0


Build = Callable[[int, int, Any], Networks]


def register_anomaly_model(
    name: str, options: type[AnomalyModelOptions], description: str
) -> Callable[[Build], Any]:
    """Register ``fn(channels, side, options)`` as model ``name`` of the ``anomaly`` task.

    ``inputs=("normal_image",)``: these models train on normal images and score images; they are
    no latent samplers to ``d(g(z))``, so the registry-walking model battery leaves them to
    ``tests/anomaly/test_anomaly_models.py``, which gives them the same checks on their own terms.
    """

    def deco(fn: Build) -> Any:
        defaults = options()

        def build(
            shape: tuple[int, ...], num_classes: int = 0, options: AnomalyModelOptions = defaults
        ) -> Networks:
            channels, side = options.image_shape(name, shape, ANOMALY_RESOLUTIONS)
            return fn(channels, side, options)

        build.__name__ = build.__qualname__ = fn.__name__
        build.__doc__, build.__module__ = fn.__doc__, fn.__module__
        meta = {"inputs": ("normal_image",), "task": "anomaly", "resolutions": ANOMALY_RESOLUTIONS}
        return register_model(name, options=options, description=description, **meta)(build)

    return deco


@register_anomaly_model(
    "ganomaly", AnomalyModelOptions, "GANomaly (Akçay et al. 2018): encoder-decoder-encoder G + DCGAN D"
)
def ganomaly(channels: int, side: int, o: AnomalyModelOptions) -> Networks:
    """``g``: G_E / G_D / E of width ``ngf``; ``d``: a BatchNorm DCGAN discriminator of width ``ndf``."""
    return {
        "g": GANomalyGenerator(channels, side, o.z_dim, o.ngf),
        "d": Critic(channels, side, o.ndf, batch_norm=True),
    }


@register_anomaly_model(
    "fanogan", FAnoGANOptions, "f-AnoGAN (Schlegl et al. 2019): WGAN-GP G and critic + izi_f encoder"
)
def fanogan(channels: int, side: int, o: FAnoGANOptions) -> Networks:
    """``g``: DCGAN generator + encoder of width ``ngf``; ``d``: a critic without normalisation."""
    return {
        "g": FAnoGANGenerator(channels, side, o.z_dim, o.ngf, o.kappa),
        "d": Critic(channels, side, o.ndf, batch_norm=False, bias=False),
    }


register_variant(
    "ganomaly_tiny", base="ganomaly", description="ganomaly with widths 8, z 16", z_dim=16, ngf=8, ndf=8
)
register_variant(
    "fanogan_tiny", base="fanogan", description="fanogan with widths 8, z 16", z_dim=16, ngf=8, ndf=8
)
