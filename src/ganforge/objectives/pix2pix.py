"""pix2pix (Isola et al. 2017, Eq. 4): G* = arg min_G max_D L_cGAN(G, D) + λ·L_L1(G), phases D then G.

L_cGAN is any registered adversarial loss (``objective.loss``; the paper's is the non-saturating
``ns``, ``lsgan`` is the common alternative) on a conditional PatchGAN that scores [input, image]
pairs, so D judges whether an output is a plausible translation *of that input*, not merely a
plausible image. L_L1 = E‖B − G(A)‖₁ pins the low frequencies to the target; L1 rather than L2
because it blurs less (Sec. 3.1). λ = 100 as in the paper.

Each step generates once (as ``AdversarialObjective``): the D phase makes G(A) with G's graph
(``Phase.keep_graph``), trains D on it detached, and the G phase back-propagates through the same
output. Isola et al. halve D's loss; with Adam a constant factor on one player's loss changes
nothing, so we do not.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganforge.losses import get_loss
from ganforge.models.translation import PatchDiscriminator, TranslationGenerator
from ganforge.objectives.base import Batch, Phase, Stats, TwoPlayerObjective, discriminator_terms
from ganforge.objectives.translation import inputs_of
from ganforge.options import NonNegativeFloat, Options
from ganforge.registry import register_objective


@dataclass(frozen=True)
class Pix2PixOptions(Options):
    """``lambda_adv`` · ``loss`` + ``lambda_l1`` · L1; ``lambda_adv: 0`` is the L1-only ablation
    (no D phase at all)."""

    loss: str = "ns"
    lambda_l1: NonNegativeFloat = 100.0
    lambda_adv: NonNegativeFloat = 1.0


@register_objective("pix2pix")
class Pix2PixObjective(TwoPlayerObjective):
    """pix2pix: conditional PatchGAN adversarial loss + λ·L1 to the target (paired data)

    Isola et al. 2017 on a pix2pix model (U-Net G, conditional PatchGAN D).
    """

    Options = Pix2PixOptions
    g: TranslationGenerator
    d: PatchDiscriminator

    def setup(self, options: Pix2PixOptions) -> None:
        self.loss = get_loss(options.loss)
        self._pending: torch.Tensor | None = None  # the D phase's G(A), with G's graph

    def phases(self) -> list[Phase]:
        """D then G; with ``lambda_adv`` 0 (the L1-only ablation: a plain regression U-Net) G only."""
        g_phase = Phase("G", trains="g", step=self.g_step, fresh_batch=self.options.lambda_adv == 0)
        if not self.options.lambda_adv:
            return [g_phase]
        return [Phase("D", trains="d", step=self.d_step, keep_graph=("g",)), g_phase]

    def d_step(self, batch: Batch) -> Stats:
        a, b = inputs_of(batch, "pix2pix")
        fake = self._pending = self.g(a)
        real_logits = self.d(b, a).float()
        fake_logits = self.d(fake.detach(), a).float()
        return discriminator_terms(self.loss, real_logits, fake_logits)

    def g_step(self, batch: Batch) -> Stats:
        a, b = inputs_of(batch, "pix2pix")
        fake, self._pending = self._pending, None
        if fake is None or not fake.requires_grad:
            fake = self.g(a)
        l1 = (fake.float() - b.float()).abs().mean()
        if not self.options.lambda_adv:
            return {"loss": self.options.lambda_l1 * l1, "l1": l1.detach()}
        real_logits = None
        if self.loss.needs_real_in_g:
            with torch.no_grad():
                real_logits = self.d(b, a).float()
        adversarial = self.loss.g_loss(self.d(fake, a).float(), real_logits)
        return {
            "loss": self.options.lambda_adv * adversarial + self.options.lambda_l1 * l1,
            "loss_g": adversarial.detach(),
            "l1": l1.detach(),
        }

    @torch.no_grad()
    def preview(self, g: nn.Module, batch: Batch) -> torch.Tensor:
        """input | output | target per sample: (N, 3, C, H, W)."""
        a, b = inputs_of(batch, "pix2pix")
        return torch.stack([a.float(), g(a).float(), b.float()], dim=1)
