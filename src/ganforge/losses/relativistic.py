"""Relativistic losses (Jolicoeur-Martineau 2019, "The relativistic discriminator: a key element
missing from standard GAN"): D estimates how much more realistic real data are than fakes.

Both players then play the *same* game with the roles swapped, so G's loss depends on D(x) too
(``needs_real_in_g``): with a standard loss G can only push D(G(z)) up; a relativistic G also
benefits from real samples looking *less* real by comparison, which is what lets the pairing form
converge without mode dropping (Sun et al. 2020; R3GAN, Huang et al. 2024, Sec. 2).

Written with ``softplus`` as in ``adversarial.py``: ``-log σ(t) = softplus(-t)``. Logits are cast
to fp32 first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganforge.losses.adversarial import define_loss


def _reals(real_logits: torch.Tensor | None, name: str) -> torch.Tensor:
    if real_logits is None:
        raise ValueError(f"the '{name}' generator loss compares fake to real scores: pass real_logits")
    return real_logits.float()


# --- Relativistic pairing GAN (RpGAN / RSGAN): Jolicoeur-Martineau 2019, Eq. 3-4; R3GAN Eq. 2 ------


def _rp_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """E[softplus(-(D(x) - D(G(z))))]: each real is compared with the fake it is paired with."""
    return F.softplus(-(real_logits.float() - fake_logits.float())).mean()


def _rp_g_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
    """E[softplus(-(D(G(z)) - D(x)))]: D's game with real and fake swapped."""
    return F.softplus(-(fake_logits.float() - _reals(real_logits, "rpgan"))).mean()


# --- Relativistic average GAN (RaSGAN): Jolicoeur-Martineau 2019, Sec. 4.3 -------------------------


def _ra_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """E_x[softplus(-(D(x) - E D(G(z))))] + E_z[softplus(D(G(z)) - E D(x))]: each sample vs the
    other side's *mean* score, so real and fake batches need not pair up."""
    real, fake = real_logits.float(), fake_logits.float()
    return F.softplus(-(real - fake.mean())).mean() + F.softplus(fake - real.mean()).mean()


def _ra_g_loss(fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
    """E_z[softplus(-(D(G(z)) - E D(x)))] + E_x[softplus(D(x) - E D(G(z)))]: D's loss, roles swapped."""
    real, fake = _reals(real_logits, "ragan"), fake_logits.float()
    return F.softplus(-(fake - real.mean())).mean() + F.softplus(real - fake.mean()).mean()


RPGAN = define_loss(
    "rpgan",
    _rp_d_loss,
    _rp_g_loss,
    "relativistic pairing GAN (Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2024)",
    aliases=("rsgan", "relativistic"),
    needs_real_in_g=True,
)
RAGAN = define_loss(
    "ragan",
    _ra_d_loss,
    _ra_g_loss,
    "relativistic average GAN, RaSGAN (Jolicoeur-Martineau 2019)",
    aliases=("rasgan",),
    needs_real_in_g=True,
)

__all__ = ["RAGAN", "RPGAN"]
