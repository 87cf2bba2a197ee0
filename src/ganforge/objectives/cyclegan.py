"""CycleGAN (Zhu et al. 2017, Eq. 3 and Sec. 4): phases G (both generators) then D (both discriminators).

    L(G, F, D_X, D_Y) = L_GAN(G, D_Y) + L_GAN(F, D_X) + λ_cyc·L_cyc(G, F) + λ_id·L_identity(G, F)

with G = ``g.ab`` (A→B), F = ``g.ba`` (B→A), D_Y = ``d.b``, D_X = ``d.a``:

* L_GAN: any registered adversarial loss, ``lsgan`` by default (Sec. 4: least squares "is more
  stable during training and generates higher quality results"; Mao et al. 2017).
* L_cyc = E‖F(G(a)) − a‖₁ + E‖G(F(b)) − b‖₁ (Eq. 2): translating there and back must return the
  input, which is what rules out mapping every input to one plausible output when no pairs exist.
* L_identity = E‖G(b) − b‖₁ + E‖F(a) − a‖₁ (Sec. 5.2, from Taigman et al. 2017): a generator fed
  an image of its own output domain should leave it alone; keeps colour and tone. λ_id is given
  as a fraction of λ_cyc (``identity``, 0.5 as in the reference code).

D trains on fakes drawn from an image history pool of 50 (``ImagePool``; Shrivastava et al.
2017), not only the newest ones. The pools and their RNGs are checkpointed with the objective, so
resuming is bit-exact. G goes first, as in Zhu et al.'s code, and its fakes (detached) feed D.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganforge.losses import get_loss
from ganforge.models.translation import DiscriminatorPair, TranslationGenerator
from ganforge.objectives.base import Batch, Phase, Stats, TwoPlayerObjective, discriminator_terms, prefixed
from ganforge.objectives.translation import ImagePool, inputs_of
from ganforge.options import NonNegativeFloat, NonNegativeInt, Options
from ganforge.registry import register_objective


def _l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x.float() - y.float()).abs().mean()


@dataclass(frozen=True)
class CycleGANOptions(Options):
    """``loss`` (presets use ``lsgan``), the cycle weight ``lambda_cyc``, the identity weight
    ``identity`` × ``lambda_cyc`` (0 turns it off) and the history ``pool_size`` (0: none)."""

    loss: str = "lsgan"
    lambda_cyc: NonNegativeFloat = 10.0
    identity: NonNegativeFloat = 0.5
    pool_size: NonNegativeInt = 50


@register_objective("cyclegan")
class CycleGANObjective(TwoPlayerObjective):
    """CycleGAN: LSGAN + λ·cycle + identity losses, both directions, D on a history pool

    Zhu et al. 2017 on a cyclegan model (two generators, a discriminator per domain).
    """

    Options = CycleGANOptions
    g: TranslationGenerator
    d: DiscriminatorPair

    def setup(self, options: CycleGANOptions) -> None:
        self.loss = get_loss(options.loss)
        # Seeded from the run's seed (set just before the objective is built); one stream per rank.
        seed = (torch.initial_seed() + 1_000_003 * self.ctx.rank) % 2**63
        self.pool_b, self.pool_a = ImagePool(options.pool_size, seed), ImagePool(options.pool_size, seed + 1)
        self._fakes: tuple[torch.Tensor, torch.Tensor] | None = None  # the G phase's (G(a), F(b))

    def phases(self) -> list[Phase]:
        return [
            Phase("G", trains="g", step=self.g_step),
            Phase("D", trains="d", step=self.d_step, fresh_batch=False),
        ]

    def _adversarial(self, fake: torch.Tensor, real: torch.Tensor, domain: str) -> torch.Tensor:
        real_logits = None
        if self.loss.needs_real_in_g:  # relativistic losses compare with D(real); no gradient there
            with torch.no_grad():
                real_logits = self.d(real, domain).float()
        return self.loss.g_loss(self.d(fake, domain).float(), real_logits)

    def g_step(self, batch: Batch) -> Stats:
        a, b = inputs_of(batch, "cyclegan")
        fake_b, fake_a = self.g(a, "AtoB"), self.g(b, "BtoA")
        adversarial = self._adversarial(fake_b, b, "B") + self._adversarial(fake_a, a, "A")
        cycle = _l1(self.g(fake_b, "BtoA"), a) + _l1(self.g(fake_a, "AtoB"), b)
        loss = adversarial + self.options.lambda_cyc * cycle
        stats = {"loss_g": adversarial.detach(), "cycle": cycle.detach()}
        if self.options.identity > 0:
            idt = _l1(self.g(b, "AtoB"), b) + _l1(self.g(a, "BtoA"), a)
            loss = loss + self.options.identity * self.options.lambda_cyc * idt
            stats["identity"] = idt.detach()
        self._fakes = (fake_b.detach(), fake_a.detach())
        return {"loss": loss, **stats}

    def d_step(self, batch: Batch) -> Stats:
        a, b = inputs_of(batch, "cyclegan")
        fakes, self._fakes = self._fakes, None
        if fakes is None:  # D phase without a preceding G phase (never in the default schedule)
            with torch.no_grad():
                fakes = (self.g(a, "AtoB"), self.g(b, "BtoA"))
        total, stats = torch.zeros((), device=b.device), []
        for domain, real, fake, pool in (("B", b, fakes[0], self.pool_b), ("A", a, fakes[1], self.pool_a)):
            real_logits = self.d(real, domain).float()
            fake_logits = self.d(pool.query(fake), domain).float()
            terms = discriminator_terms(self.loss, real_logits, fake_logits)
            total = total + terms["loss"]
            stats.append((terms["d_real"], terms["d_fake"], terms["d_acc"]))
        d_real, d_fake, d_acc = (torch.stack(v).mean() for v in zip(*stats, strict=True))
        return {"loss": total, "loss_d": total.detach(), "d_real": d_real, "d_fake": d_fake, "d_acc": d_acc}

    @torch.no_grad()
    def preview(self, g: nn.Module, batch: Batch) -> torch.Tensor:
        """a | G(a) | F(G(a)) | b | F(b) | G(F(b)) per sample: (N, 6, C, H, W)."""
        a, b = inputs_of(batch, "cyclegan")
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
        fake_b, fake_a = g(a, "AtoB"), g(b, "BtoA")
        panels = [a, fake_b, g(fake_b, "BtoA"), b, fake_a, g(fake_a, "AtoB")]
        return torch.stack([p.float() for p in panels], dim=1)

    # The pools are training state.
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for name, pool in (("pool_a", self.pool_a), ("pool_b", self.pool_b)):
            state.update({f"{name}.{k}": v for k, v in pool.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, pool in (("pool_a", self.pool_a), ("pool_b", self.pool_b)):
            pool_state = prefixed(state, name)
            if pool_state:
                pool.load_state_dict(pool_state, device=self.ctx.device)
