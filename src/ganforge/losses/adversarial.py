"""Adversarial losses as pure functions of discriminator logits, selected by name.

Every loss is a pair ``d_loss(real_logits, fake_logits)`` / ``g_loss(fake_logits, real_logits=None)``
returning a scalar that the respective player *minimises*; the objective decides which network's
parameters the gradient reaches. Keeping losses free of networks is what lets any family combine any
loss from the config (``objective.loss: hinge``).

Conventions shared by all losses:

* Inputs are raw logits (any shape; every element is one sample's score) and are cast to fp32
  first, so a loss computed under bf16 autocast is as accurate as one computed in fp32: a mean of
  bf16 values loses ~3 significant digits, enough to hide a small loss trend in the logs.
* Reductions are means over the batch, so a loss's scale does not depend on the batch size.
* Probabilities are never formed: ``log σ(x) = -softplus(-x)`` and ``log(1 - σ(x)) = -softplus(x)``
  stay finite for logits of any magnitude, whereas ``log(sigmoid(x))`` is ``-inf`` at x = -100.
* ``g_loss`` accepts ``real_logits`` so relativistic losses (which compare fake to real scores,
  ``losses/relativistic.py``) fit the same signature; the losses here ignore it, and the flag
  ``AdversarialLoss.needs_real_in_g`` tells an objective whether D(x) is worth computing in G's phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from ganforge.registry import LOSSES, register_loss


class DLoss(Protocol):
    def __call__(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor: ...


class GLoss(Protocol):
    def __call__(
        self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None
    ) -> torch.Tensor: ...


@dataclass(frozen=True)
class AdversarialLoss:
    """A named pair of losses: the discriminator's and the generator's (both minimised).

    ``needs_real_in_g``: ``g_loss`` uses ``real_logits`` (relativistic losses), so the objective must
    score a real batch in the generator's phase too; otherwise it skips that forward.
    ``bce``: D's loss is binary cross-entropy on logits with real target 1, the losses for which
    one-sided label smoothing (Salimans et al. 2016) is defined.
    ``signed_logits``: D's scores have a fixed zero (real above, fake below), so the sign-based
    accuracy ``d_acc`` and the "D overpowering" diagnostic mean something; a Wasserstein critic's
    scores are defined only up to a constant, so not for it.
    """

    name: str
    d_loss: DLoss
    g_loss: GLoss
    needs_real_in_g: bool = False
    bce: bool = False
    signed_logits: bool = True


def _f32(logits: torch.Tensor) -> torch.Tensor:
    return logits.float()


# --- Goodfellow et al. 2014, "Generative Adversarial Nets" ------------------------------------------


def _bce_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 1, D side: maximise E[log D(x)] + E[log(1 - D(G(z)))], i.e. minimise the negative.

    Written as ``softplus(-real) + softplus(fake)`` (= binary cross-entropy with targets 1 and 0).
    Shared by ``minimax`` and ``ns``: the two differ only in the generator's loss.
    """
    return F.softplus(-_f32(real_logits)).mean() + F.softplus(_f32(fake_logits)).mean()


def _minimax_g_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 1, G side: minimise E[log(1 - D(G(z)))] = -E[softplus(fake)].

    Saturates: its gradient w.r.t. the logit is -σ(fake), which vanishes exactly when D confidently
    rejects the fakes (early in training). Kept for the paper's original game and for comparison.
    """
    return -F.softplus(_f32(fake_logits)).mean()


def _ns_g_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
    """Goodfellow et al. 2014, Sec. 3: minimise -E[log D(G(z))] = E[softplus(-fake)] instead.

    Same fixed point as the minimax game, but the gradient -(1 - σ(fake)) is largest when D rejects
    the fakes, which is why it is the default in practice.
    """
    return F.softplus(-_f32(fake_logits)).mean()


# --- Lim & Ye 2017 "Geometric GAN"; Miyato et al. 2018 "Spectral Normalization", Eq. 16-17 -------


def _hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]: D stops pushing once a sample is beyond the margin."""
    return F.relu(1.0 - _f32(real_logits)).mean() + F.relu(1.0 + _f32(fake_logits)).mean()


def _mean_fake_g_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
    """-E[D(G(z))]: the generator of both the hinge and the Wasserstein GAN raises the critic's score."""
    return -_f32(fake_logits).mean()


# --- Arjovsky et al. 2017, "Wasserstein GAN", Eq. 3 ---------------------------------------------


def _wasserstein_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """E[D(G(z))] - E[D(x)]: the negated Kantorovich-Rubinstein estimate of W1.

    Only meaningful with a Lipschitz constraint on D (clipping, gradient penalty, spectral norm),
    which regularizers provide; this function is the bare critic loss.
    """
    return _f32(fake_logits).mean() - _f32(real_logits).mean()


# --- Mao et al. 2017, "Least Squares GAN", Eq. 2 with a = 0, b = 1, c = 1 (Sec. 3.2.2) ------------


def _lsgan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """½E[(D(x) - b)²] + ½E[(D(G(z)) - a)²] with b = 1, a = 0 on D's raw (linear) output."""
    return 0.5 * (_f32(real_logits) - 1.0).square().mean() + 0.5 * _f32(fake_logits).square().mean()


def _lsgan_g_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
    """½E[(D(G(z)) - c)²] with c = 1: G wants its samples scored as real."""
    return 0.5 * (_f32(fake_logits) - 1.0).square().mean()


def define_loss(
    name: str,
    d_loss: DLoss,
    g_loss: GLoss,
    description: str,
    aliases: tuple[str, ...] = (),
    *,
    needs_real_in_g: bool = False,
    bce: bool = False,
    signed_logits: bool = True,
) -> AdversarialLoss:
    """Create a loss and register a no-argument builder for it (``LOSSES.build(name)``)."""
    loss = AdversarialLoss(name, d_loss, g_loss, needs_real_in_g, bce, signed_logits)

    def builder() -> AdversarialLoss:
        return loss

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = description
    register_loss(name, aliases=aliases, description=description)(builder)
    return loss


MINIMAX = define_loss(
    "minimax",
    _bce_d_loss,
    _minimax_g_loss,
    "saturating minimax GAN (Goodfellow et al. 2014, Eq. 1)",
    bce=True,
)
NS = define_loss(
    "ns",
    _bce_d_loss,
    _ns_g_loss,
    "non-saturating GAN: G minimises -log D(G(z)) (Goodfellow et al. 2014)",
    aliases=("non_saturating",),
    bce=True,
)
HINGE = define_loss(
    "hinge", _hinge_d_loss, _mean_fake_g_loss, "hinge loss (Lim & Ye 2017; Miyato et al. 2018)"
)
WASSERSTEIN = define_loss(
    "wasserstein",
    _wasserstein_d_loss,
    _mean_fake_g_loss,
    "Wasserstein critic loss, no Lipschitz constraint (Arjovsky et al. 2017)",
    aliases=("wgan",),
    signed_logits=False,
)
LSGAN = define_loss(
    "lsgan",
    _lsgan_d_loss,
    _lsgan_g_loss,
    "least-squares GAN, a=0 b=1 c=1 (Mao et al. 2017)",
    aliases=("least_squares",),
)


def get_loss(name: str) -> AdversarialLoss:
    """The loss registered as ``name`` (or an alias); unknown names raise a RegistryError."""
    loss = LOSSES.build(name)
    if not isinstance(loss, AdversarialLoss):  # another kind of loss registered under this name
        raise TypeError(f"loss '{name}' is not an adversarial loss")
    return loss


__all__: list[str] = [
    "HINGE",
    "LSGAN",
    "MINIMAX",
    "NS",
    "WASSERSTEIN",
    "AdversarialLoss",
    "DLoss",
    "GLoss",
    "define_loss",
    "get_loss",
]
