"""CTGAN's training objective (Xu et al. 2019, Sec. 4.4), registered as objective ``ctgan``.

WGAN-GP (Gulrajani et al. 2017) on PacGAN packs, with CTGAN's conditional generator:

    L_D = E[D(pack(Ĝ ⊕ c))] − E[D(pack(r ⊕ c))] + λ · E[(‖∇D(pack(x̂ ⊕ c))‖₂ − 1)²]
    L_G = −E[D(pack(Ĝ ⊕ c))] + E[CE(m, d̂)]

``r`` are real rows drawn by training-by-sampling with conditional vectors ``c`` (``sampler.py``),
``Ĝ = head(G(z ⊕ c))`` the generated rows (tanh + Gumbel-softmax), and the cross-entropy CE between
the conditional vector's one-hot ``m`` and G's distribution over the conditioned column makes G
produce the category it was asked for (Sec. 4.3, "Generator loss"). The gradient penalty interpolates
whole packs with one α per pack, so the 1-Lipschitz constraint is on the packed critic D actually is.

As in ``objectives/gan.py`` the D phase generates the step's fakes with G's graph kept
(``Phase.keep_graph``) and the G phase back-propagates through those same fakes: one G forward per
step instead of the two of a textbook loop, which is a large share of a CTGAN step on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganforge.errors import ConfigError
from ganforge.objectives.base import Batch, Phase, Stats, TwoPlayerObjective
from ganforge.objectives.penalties import pack
from ganforge.options import NonNegativeFloat, Options, PositiveInt
from ganforge.registry import register_objective
from ganforge.regularizers import gradient_penalty
from ganforge.tabular.networks import PacDiscriminator, TabularGenerator


@dataclass(frozen=True)
class CTGANOptions(Options):
    """WGAN-GP weight ``gp_lambda`` (10 in the paper), Gumbel-softmax temperature ``tau`` (0.2),
    ``n_critic`` D steps per G step (1 in the paper's code). The pack size is the critic's own
    (``model.pac``): the objective packs rows as its critic was built to judge them."""

    gp_lambda: NonNegativeFloat = 10.0
    tau: float = 0.2
    n_critic: PositiveInt = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.tau > 0:  # the Gumbel-softmax divides by it
            raise ConfigError(f"'objective.tau' must be > 0, got {self.tau}")


@register_objective("ctgan")
class CTGANObjective(TwoPlayerObjective):
    """CTGAN (Xu et al. 2019): conditional WGAN-GP on PacGAN packs of table rows.

    The networks are ``ganforge.tabular.networks``' (G carries the table's output layout).
    """

    Options = CTGANOptions
    g: TabularGenerator
    d: PacDiscriminator
    signed_logits = False  # a Wasserstein critic: its scores have no fixed zero

    def setup(self, options: CTGANOptions) -> None:
        self.pac = self.d.pac
        self._pending: tuple[torch.Tensor, torch.Tensor] | None = None  # (raw, rows) with G's graph

    def phases(self) -> list[Phase]:
        return [
            Phase("D", trains="d", step=self.d_step, repeats=self.options.n_critic, keep_graph=("g",)),
            Phase("G", trains="g", step=self.g_step, fresh_batch=False),
        ]

    def generate(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(raw logits, soft rows) for one conditional vector per row."""
        raw = self.g(self.ctx.randn(len(cond), self.g.z_dim), cond)
        return raw, self.g.layout.activate(raw, self.options.tau)

    def check_batch_size(self, batch_size: int) -> None:
        if batch_size % self.pac:
            raise ConfigError(
                f"'data.batch_size' ({batch_size}) must be divisible by 'model.pac' ({self.pac})"
            )

    def packed(self, rows: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Rows ⊕ their conditional vectors, ``pac`` of them side by side: D's input."""
        x = torch.cat([rows, cond], dim=1) if cond.shape[1] else rows
        return pack(x, None, self.pac)[0]

    def d_step(self, batch: Batch) -> Stats:
        cond = batch["c"]
        self._pending = _, fake = self.generate(cond)
        real_x = self.packed(batch["x"], cond)
        fake_x = self.packed(fake.detach(), cond)
        logits = self.d(torch.cat([real_x, fake_x])).float()  # one forward for both halves
        real_logits, fake_logits = logits[: len(real_x)], logits[len(real_x) :]
        distance = real_logits.mean() - fake_logits.mean()  # the critic's Wasserstein estimate
        loss = -distance
        stats = {"loss_d": (-distance).detach(), "d_real": real_logits.detach().mean(),
                 "d_fake": fake_logits.detach().mean()}  # fmt: skip
        if self.options.gp_lambda > 0:
            gp = gradient_penalty(self.d, real_x, fake_x)
            loss = loss + self.options.gp_lambda * gp
            stats["gp"] = gp.detach()
        return {"loss": loss, **stats}

    def g_step(self, batch: Batch) -> Stats:
        cond = batch["c"]
        pending, self._pending = self._pending, None
        raw, fake = pending if pending is not None and pending[1].requires_grad else self.generate(cond)
        adversarial = -self.d(self.packed(fake, cond)).float().mean()
        loss = adversarial
        stats = {"loss_g": adversarial.detach()}
        if "pos" in batch:
            ce = -self.g.layout.cond_log_prob(raw.float(), batch["pos"]).mean()
            loss = loss + ce
            stats["cond_ce"] = ce.detach()
        return {"loss": loss, **stats}
