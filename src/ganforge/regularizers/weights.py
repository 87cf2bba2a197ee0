"""Constraints and penalties on weights rather than on D's outputs."""

from __future__ import annotations

import torch
from torch import nn


def orthogonal_penalty(module: nn.Module) -> torch.Tensor:
    """BigGAN's orthogonal regularisation (Brock et al. 2019, Eq. 3): Σ_W ‖WWᵀ ⊙ (1 - I)‖²_F.

    Only the off-diagonal of WWᵀ is penalised, so filters are pushed towards mutual orthogonality
    without constraining their norms; BigGAN applies it to G (β = 1e-4) to make G amenable to the
    truncation trick. Every parameter with ≥ 2 dims counts, viewed as (out, rest) as in BigGAN's
    code (a transposed conv's (in, out, k, k) weight is viewed along its first dim the same way).
    """
    total: torch.Tensor | None = None
    for p in module.parameters():
        if p.dim() < 2:
            continue
        w = p.float().reshape(p.shape[0], -1)
        off_diagonal = 1.0 - torch.eye(len(w), device=w.device)
        term = (w @ w.T * off_diagonal).square().sum()
        total = term if total is None else total + term
    return total if total is not None else torch.zeros(())


@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> None:
    """Clamp every parameter to [-c, c] in place: WGAN's crude Lipschitz constraint
    (Arjovsky et al. 2017, Alg. 1, c = 0.01), applied after each critic update."""
    if c <= 0:
        raise ValueError(f"clip value must be positive, got {c}")
    for p in module.parameters():
        p.clamp_(-c, c)
