"""Fully connected generator and discriminator: the baseline for toy 2-D mixtures and small images.

The original GAN (Goodfellow et al. 2014) used MLPs, and toy-mixture studies (Metz et al. 2017,
"Unrolled GANs"; Srivastava et al. 2017, "VEEGAN") still do: a few ReLU layers of a few hundred units
are enough to show mode collapse and its cures in seconds on a CPU. Images are flattened, so the
same networks also serve MNIST-sized data as a sanity baseline.

``num_classes`` is accepted and recorded, but the MLP stays unconditional (``forward`` ignores labels).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import ClassVar

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.models.base import Generator, ModelOptions
from ganforge.options import Options, PositiveInt
from ganforge.registry import register_model, register_variant


def mlp_stack(sizes: list[int], activation: Callable[[], nn.Module]) -> nn.Sequential:
    """Linear layers through ``sizes`` with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class MLPGenerator(Generator):
    """z (N, z_dim) -> samples (N, *out_shape) through ``depth`` ReLU layers of ``hidden`` units.

    Images get a final tanh (the data live in [-1, 1]); vectors get a linear output because toy
    data (Gaussian mixtures, rings, spirals) are unbounded and a squashed output would clip modes.
    """

    def __init__(
        self,
        z_dim: int,
        out_shape: tuple[int, ...],
        hidden: int,
        depth: int,
        num_classes: int = 0,
        latent: MixtureLatentOptions | None = None,
    ) -> None:
        super().__init__()
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, tuple(out_shape)
        islands = latent is not None and latent.latent_components > 0
        self.latent = MixtureLatent(z_dim, latent) if islands else None
        width = z_dim - 1 if self.latent is not None else z_dim
        self.net = mlp_stack([width, *[hidden] * depth, math.prod(out_shape)], nn.ReLU)
        self.out = nn.Tanh() if len(out_shape) == 3 else nn.Identity()

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = z if self.latent is None else self.latent(z)
        return self.out(self.net(h)).reshape(z.shape[0], *self.out_shape)

    @property
    def draw_log_prob(self) -> torch.Tensor | None:
        """Log-probability of each sample's island in the last forward, when the weights are learnt."""
        return None if self.latent is None else self.latent.draw_log_prob


class MixtureLatent(nn.Module):
    """Standard-normal z (N, z_dim) -> a draw from a uniform mixture of ``components`` narrow
    Gaussians in z_dim - 1 dimensions: z[:, 0] picks the component through the normal CDF (so it is
    uniform), the rest is the noise within it, ``centre_k + scale · z[:, 1:]``.

    Why: a continuous generator maps a connected latent to a connected set, so between separated
    modes it *must* leave samples in the gaps (Tanielian et al. 2020, "Learning disconnected
    manifolds: a no GAN's land"; Khayatkhoei et al. 2018). A latent of well-separated islands lets
    it place each island on one mode instead. The centres are fixed N(0, I) draws (a constant
    seed, stored as a buffer), never learnt, and far more numerous than the modes of any toy
    preset, so nothing here knows the data's mode count. It is a reparameterisation of ordinary
    normal draws, so every sampler (training, EMA grids, the API, latent tools) works unchanged.

    Islands settle on a mode early and cannot cross a gap later, so with equal weights the modes
    end up with unequal island counts and unequal mass. ``learn_weights`` makes the mixture
    weights a parameter of G (softmax of ``weight_logits``, uniform at start): z[:, 0] then picks
    an island through the inverse CDF of those weights, and the log-probability of each pick is
    kept in ``draw_log_prob`` for a score-function (REINFORCE) gradient, which the ``gan``
    objective adds to G's loss. Weights flow from islands whose samples D rates less real than
    the batch's average to those it rates more real: toward the modes that are short of mass.
    """

    SEED = 0

    def __init__(self, z_dim: int, options: MixtureLatentOptions) -> None:
        super().__init__()
        if z_dim < 2:
            raise ConfigError(f"a mixture latent needs model.z_dim >= 2 (1 picks the component), got {z_dim}")
        components, scale = options.latent_components, options.latent_scale  # checked by the options
        anneal, anneal_start = options.latent_anneal, options.latent_anneal_start
        gen = torch.Generator().manual_seed(self.SEED)
        self.register_buffer("centres", torch.randn(components, z_dim - 1, generator=gen))
        self.scale, self.anneal, self.anneal_start = float(scale), float(anneal), float(anneal_start)
        # The width in use: a buffer, so checkpoints and the EMA copy carry it.
        self.register_buffer("width", torch.tensor(self.scale if anneal == 0 else 1.0))
        self.weight_logits = nn.Parameter(torch.zeros(components)) if options.latent_learn_weights else None
        self.draw_log_prob: torch.Tensor | None = None

    def set_progress(self, fraction: float) -> None:
        """Called by the Trainer before each step (``fraction`` = step / steps): with ``anneal`` > 0
        the islands start as one wide blob (width 1, the plain normal latent) and shrink
        geometrically to ``scale`` over that fraction of training, from ``anneal_start`` on. While
        wide, G balances its mass over the modes the way a connected latent does (islands straddle
        modes); narrow islands from the start lock in whatever mode each first lands on."""
        if self.anneal > 0:
            t = min(max(fraction - self.anneal_start, 0.0) / self.anneal, 1.0)
            self.width.fill_(self.scale**t)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        uniform = torch.special.ndtr(z[:, 0].float())
        last = len(self.centres) - 1
        if self.weight_logits is None:
            k = (uniform * len(self.centres)).long().clamp_(0, last)
        else:  # the inverse CDF of the learnt weights
            log_weights = torch.log_softmax(self.weight_logits.float(), 0)
            k = torch.searchsorted(log_weights.detach().exp().cumsum(0), uniform.contiguous()).clamp_(0, last)
            self.draw_log_prob = log_weights[k]
        return self.centres[k].to(z.dtype) + self.width.to(z.dtype) * z[:, 1:]


class MLPDiscriminator(nn.Module):
    """samples (N, *in_shape) -> logits (N,); LeakyReLU(0.2) keeps gradients alive for negative inputs."""

    def __init__(self, in_shape: tuple[int, ...], hidden: int, depth: int, num_classes: int = 0) -> None:
        super().__init__()
        self.in_shape, self.num_classes = tuple(in_shape), num_classes
        self.net = mlp_stack([math.prod(in_shape), *[hidden] * depth, 1], lambda: nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        # reshape, not view: channels_last image batches are not contiguous in (C, H, W) order.
        return self.net(x.reshape(x.shape[0], -1)).reshape(-1)


@dataclass(frozen=True)
class MixtureLatentOptions(Options):
    """The ``latent_*`` keys of a generator whose input is ``MixtureLatent``'s islands:
    ``latent_components`` > 0 draws G's input from a mixture of that many narrow Gaussians (width
    ``latent_scale``, reached after the ``latent_anneal`` fraction of training that begins at
    ``latent_anneal_start``) instead of one; ``latent_learn_weights`` lets G learn the islands'
    weights (trained by the ``gan`` objective). Declared once here: a family's ``Options`` inherits
    them and ``MixtureLatent`` is built from them."""

    SECTION: ClassVar[str] = "model"

    latent_components: int = 0
    latent_scale: float = 0.1
    latent_anneal: float = 0.0
    latent_anneal_start: float = 0.0
    latent_learn_weights: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.latent_components == 0:  # off: the other keys are unused, except to ask for islands
            if self.latent_learn_weights:
                raise ConfigError("'model.latent_learn_weights' needs islands: set 'model.latent_components'")
            return
        if self.latent_components < 2:
            raise ConfigError(
                f"'model.latent_components' must be 0 (off) or at least 2, got {self.latent_components}"
            )
        if not self.latent_scale > 0:
            raise ConfigError(f"'model.latent_scale' must be > 0, got {self.latent_scale}")
        for key in ("latent_anneal", "latent_anneal_start"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(
                    f"'model.{key}' must be a fraction of training in [0, 1], got {getattr(self, key)}"
                )


@dataclass(frozen=True)
class MLPOptions(ModelOptions, MixtureLatentOptions):
    """``depth`` hidden layers of ``hidden`` units in both networks, and the islands latent's keys
    (``MixtureLatentOptions``, off by default).

    Defaults sit in the range of the toy-mixture literature (z 2-256, 128-400 units x 3-4 layers).
    ``g_depth`` (None: ``depth``) deepens the generator alone: a ReLU network's steepest possible
    transition grows with depth, and a generator of a connected latent needs steep ones to jump
    between separated modes without samples in the gaps.
    """

    z_dim: PositiveInt = 64
    hidden: PositiveInt = 256
    depth: PositiveInt = 3
    g_depth: PositiveInt | None = None


@register_model(
    "mlp",
    options=MLPOptions,
    inputs=("vector", "image"),
    description="MLP generator/discriminator for toy 2-D mixtures and small flattened images",
)
def mlp(
    shape: tuple[int, ...], num_classes: int = 0, options: MLPOptions = MLPOptions()
) -> dict[str, nn.Module]:
    """MLP G and D for one sample's ``shape`` from the data: (D,) vectors or (C, H, W) images."""
    o = options
    if len(shape) not in (1, 3):
        raise ConfigError(f"mlp needs (D,) vectors or (C, H, W) images, got samples of shape {tuple(shape)}")
    g_depth = o.depth if o.g_depth is None else o.g_depth
    return {
        "g": MLPGenerator(o.z_dim, shape, o.hidden, g_depth, num_classes, latent=o),
        "d": MLPDiscriminator(shape, o.hidden, o.depth, num_classes),
    }


register_variant(
    "mlp_tiny",
    base="mlp",
    description="mlp with small widths, for tests",
    z_dim=8,
    hidden=32,
    depth=2,
)
