"""LeCam regularisation (Tseng et al. 2021, "Regularizing Generative Adversarial Networks under
Limited Data", Eq. 3): keep D's scores from drifting apart when data are scarce.

    R_LC = E_x[‖D(x) - α_F‖²] + E_z[‖D(G(z)) - α_R‖²]

where α_R, α_F are exponential moving averages (decay 0.99) of D's mean score on real and fake
batches. The authors' code penalises only the side past the anchor (a ReLU), which is what we do:
real scores above the fake anchor, fake scores below the real anchor. The paper shows this bounds a
LeCam divergence, which is more robust than the objective's f-divergence with few samples.

The EMAs are state that must survive a resume: ``state_dict``/``load_state_dict`` carry them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class LeCam:
    """EMAs of D(x) and D(G(z)) plus the penalty anchored on them."""

    def __init__(self, decay: float = 0.99) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"LeCam decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.ema_real: torch.Tensor | None = None  # None until the first update
        self.ema_fake: torch.Tensor | None = None

    @torch.no_grad()
    def update(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> None:
        """α ← decay·α + (1 - decay)·mean(scores); the first batch initialises α to its means
        (the authors' EMA with decay 0 before its start step)."""
        real, fake = real_logits.detach().float().mean(), fake_logits.detach().float().mean()
        if self.ema_real is None or self.ema_fake is None:
            self.ema_real, self.ema_fake = real, fake
            return
        self.ema_real = self.decay * self.ema_real + (1.0 - self.decay) * real
        self.ema_fake = self.decay * self.ema_fake + (1.0 - self.decay) * fake

    def penalty(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """E[relu(D(x) - α_F)²] + E[relu(α_R - D(G(z)))²]; call ``update`` first."""
        if self.ema_real is None or self.ema_fake is None:
            raise RuntimeError("LeCam.penalty needs at least one update() first")
        real, fake = real_logits.float(), fake_logits.float()
        return F.relu(real - self.ema_fake).square().mean() + F.relu(self.ema_real - fake).square().mean()

    def state_dict(self) -> dict[str, torch.Tensor]:
        if self.ema_real is None or self.ema_fake is None:
            return {}
        return {"ema_real": self.ema_real, "ema_fake": self.ema_fake}

    def load_state_dict(self, state: dict[str, torch.Tensor], device: torch.device | None = None) -> None:
        if "ema_real" in state and "ema_fake" in state:
            self.ema_real = state["ema_real"].to(device=device, dtype=torch.float32)
            self.ema_fake = state["ema_fake"].to(device=device, dtype=torch.float32)
