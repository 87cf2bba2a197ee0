"""The stabilisers the ``gan`` objective can add to any loss and family, read from the config.

Each is one ``objective.<key>`` and off by default; ``gan.py`` calls the functions here so it reads
as the two-player game plus a few lines per trick. The regularizers themselves (the equations)
live in ``ganforge.regularizers``; this module holds their settings, their validation, PacGAN's
packing and the weighting of the gradient penalties.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ganforge.errors import ConfigError
from ganforge.losses import AdversarialLoss
from ganforge.options import NonNegativeFloat, Options, PositiveInt
from ganforge.regularizers import gradient_penalty, mean_squared_gradient, zero_centered_penalty

Critic = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class Stabilizers(Options):
    """Weights and switches, ``objective.<field>``: the ``gan`` objective's options inherit them."""

    gp_lambda: NonNegativeFloat = 0.0  # WGAN-GP, Gulrajani et al. 2017 (λ = 10 in the paper)
    r1_gamma: NonNegativeFloat = 0.0  # R1 on real data, Mescheder et al. 2018
    r2_gamma: NonNegativeFloat = 0.0  # R2 on fakes (R3GAN uses R1 + R2 with the same γ)
    reg_every: PositiveInt = 1  # lazy regularisation (Karras et al. 2020, StyleGAN2 Sec. 3.1)
    lecam_lambda: NonNegativeFloat = 0.0  # Tseng et al. 2021
    ortho_lambda: NonNegativeFloat = 0.0  # BigGAN's orthogonal regularisation on G (1e-4 in the paper)
    clip_value: NonNegativeFloat = 0.0  # WGAN weight clipping (0.01 in the paper)
    label_smoothing: NonNegativeFloat = 0.0  # one-sided, Salimans et al. 2016
    instance_noise: NonNegativeFloat = 0.0  # std of Gaussian noise on D's inputs, annealed to 0
    instance_noise_steps: PositiveInt = 2000  # training steps over which that std falls linearly to 0
    pac: PositiveInt = 1  # PacGAN, Lin et al. 2018

    def check(self, loss: AdversarialLoss) -> None:
        """Raise a ConfigError naming the first bad ``objective.<key>`` that its bounds, declared
        with the fields and checked on construction, do not cover: the rules that need ``loss``."""
        if self.label_smoothing >= 1:
            raise ConfigError(f"'objective.label_smoothing' must be below 1, got {self.label_smoothing}")
        if self.label_smoothing > 0 and not loss.bce:
            raise ConfigError(
                "'objective.label_smoothing' smooths the real target of a binary cross-entropy loss"
                f" (ns, minimax); loss '{loss.name}' has no such target, so set it to 0"
            )

    @property
    def gradient_penalties(self) -> bool:
        return self.gp_lambda > 0 or self.r1_gamma > 0 or self.r2_gamma > 0

    @property
    def lazy(self) -> bool:
        """R1/R2/GP run in their own ``Dreg`` phase every ``reg_every`` steps, not in every D step."""
        return self.reg_every > 1 and self.gradient_penalties

    def noise_std(self, step: int) -> float:
        """Instance noise (Sønderby et al. 2017; Arjovsky & Bottou 2017): σ·max(0, 1 - step/steps).

        Noise on both D inputs makes the real and fake distributions overlap, so D cannot separate
        them perfectly and G's gradients stay informative early on; annealing removes the bias later.
        """
        return self.instance_noise * max(0.0, 1.0 - step / self.instance_noise_steps)


def pack(x: torch.Tensor, labels: torch.Tensor | None, pac: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """PacGAN (Lin et al. 2018, Sec. 3): D judges ``pac`` samples at once, concatenated along the
    channel (images) / feature (vectors) axis: (N, C, ...) -> (N/pac, pac·C, ...).

    A packed D sees whether a *set* of samples is diverse, which penalises mode collapse. Labels
    are not packed: each pack keeps its first sample's label.
    """
    if pac == 1:
        return x, labels
    n = len(x)
    if n % pac:
        raise ConfigError(f"'objective.pac' ({pac}) must divide the batch size per process ({n})")
    packed = x.reshape(n // pac, pac * x.shape[1], *x.shape[2:])
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        packed = packed.contiguous(memory_format=torch.channels_last)
    return packed, (labels[::pac] if labels is not None else None)


def _zero_centered(
    critic: Critic, x: torch.Tensor, labels: torch.Tensor | None, logits: torch.Tensor | None
) -> torch.Tensor:
    if logits is not None and x.requires_grad:  # reuse the loss's forward (R3GAN)
        return mean_squared_gradient(logits, x)
    return zero_centered_penalty(critic, x, labels)


def gradient_penalties(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor | None,
    labels: torch.Tensor | None,
    s: Stabilizers,
    *,
    scale: float = 1.0,
    real_logits: torch.Tensor | None = None,
    fake_logits: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """γ₁/2·R1 + γ₂/2·R2 + λ·GP, times ``scale`` (``reg_every`` when lazy, so the penalty's
    average strength is unchanged, StyleGAN2 Sec. 3.1), and the unweighted terms for the log.

    ``real_logits``/``fake_logits``: D's outputs on ``real``/``fake`` if the caller already made
    that forward with the inputs requiring grad; R1/R2 then reuse it.
    """
    total = torch.zeros((), device=real.device)
    stats: dict[str, torch.Tensor] = {}
    if s.r1_gamma > 0:
        r1 = _zero_centered(critic, real, labels, real_logits)
        total = total + 0.5 * s.r1_gamma * scale * r1
        stats["r1"] = r1.detach()
    if s.r2_gamma > 0 or s.gp_lambda > 0:
        if fake is None:
            raise ValueError("R2 and the gradient penalty need fakes")
        if s.r2_gamma > 0:
            r2 = _zero_centered(critic, fake, labels, fake_logits)
            total = total + 0.5 * s.r2_gamma * scale * r2
            stats["r2"] = r2.detach()
        if s.gp_lambda > 0:
            gp = gradient_penalty(critic, real, fake, labels)
            total = total + s.gp_lambda * scale * gp
            stats["gp"] = gp.detach()
    return total, stats
