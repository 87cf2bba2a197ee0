"""GANomaly (Akçay et al. 2018, Sec. 3): an encoder–decoder–encoder G trained against a DCGAN D.

    D phase:  D learns real x vs reconstruction x̂ = G_D(G_E(x)) (``objective.loss``, BCE in the paper)
    G phase:  L = w_adv·‖f(x) − f(x̂)‖₂ + w_con·‖x − x̂‖₁ + w_enc·‖G_E(x) − E(x̂)‖₂   (Eq. 1-4)

f is D's penultimate features: G matches the feature statistics of real images (the paper's
L_adv) instead of fooling D's last layer, which the authors found steadier. The contextual L1
term (w_con = 50) pins x̂ to x; the encoder term teaches the second encoder E to reproduce
G_E's code *for normal images*, which is what makes ‖z − ẑ‖² an anomaly score.

``w_adv: 0`` is the autoencoder ablation: the same three networks trained on the contextual and
encoder losses alone (no D phase), the baseline that says what the adversary adds.

Each step runs G once: the D phase keeps G's graph (``Phase.keep_graph``) and the G phase
back-propagates through the same x̂, z, ẑ (as ``pix2pix``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.losses import get_loss
from ganforge.models.anomaly import Critic, GANomalyGenerator, pixel_residual
from ganforge.objectives.base import Batch, Phase, Stats, TwoPlayerObjective, discriminator_terms
from ganforge.options import NonNegativeFloat, Options
from ganforge.registry import register_objective


@dataclass(frozen=True)
class GANomalyOptions(Options):
    """The paper's weights: ``w_adv`` 1, ``w_con`` 50, ``w_enc`` 1; ``loss``: D's adversarial loss."""

    loss: str = "ns"
    w_adv: NonNegativeFloat = 1.0
    w_con: NonNegativeFloat = 50.0
    w_enc: NonNegativeFloat = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        get_loss(self.loss)


@register_objective("ganomaly")
class GANomalyObjective(TwoPlayerObjective):
    """GANomaly: D on x vs x̂, G on feature matching + 50·L1 + latent L2 (Akçay et al. 2018)"""

    Options = GANomalyOptions
    g: GANomalyGenerator
    d: Critic

    def setup(self, options: GANomalyOptions) -> None:
        self.loss = get_loss(options.loss)
        self._pending: tuple[torch.Tensor, ...] | None = None  # the D phase's (x̂, z, ẑ) with G's graph

    def phases(self) -> list[Phase]:
        """D then G; the autoencoder ablation (``w_adv`` 0) G only, on a fresh batch each step."""
        g_phase = Phase("G", trains="g", step=self.g_step, fresh_batch=not self.options.w_adv)
        if not self.options.w_adv:
            return [g_phase]
        return [Phase("D", trains="d", step=self.d_step, keep_graph=("g",)), g_phase]

    def d_step(self, batch: Batch) -> Stats:
        x = batch["x"]
        self._pending = self.g(x)
        real_logits, fake_logits = self.d(x).float(), self.d(self._pending[0].detach()).float()
        return discriminator_terms(self.loss, real_logits, fake_logits)

    def g_step(self, batch: Batch) -> Stats:
        x = batch["x"]
        out, self._pending = self._pending, None
        if out is None or not out[0].requires_grad:
            out = self.g(x)
        x_hat, z, z_hat = out
        con = (x.float() - x_hat.float()).abs().mean()
        enc = F.mse_loss(z_hat.float(), z.float())
        loss = self.options.w_con * con + self.options.w_enc * enc
        stats = {"l_con": con.detach(), "l_enc": enc.detach()}
        if self.options.w_adv:
            with torch.no_grad():
                real_features = self.d.features(x).float()
            adv = F.mse_loss(self.d.features(x_hat).float(), real_features)
            loss = loss + self.options.w_adv * adv
            stats["loss_g"] = adv.detach()
        return {"loss": loss, **stats}

    @torch.no_grad()
    def preview(self, g: nn.Module, batch: Batch) -> torch.Tensor:
        """input | reconstruction | residual |x − x̂| (mean over channels, white = 2) per sample:
        (N, 3, C, H, W)."""
        x = batch["x"].float()
        x_hat = g(x)[0].float()
        residual = pixel_residual(x, x_hat).sqrt() - 1
        return torch.stack([x, x_hat, residual.expand_as(x)], dim=1)
