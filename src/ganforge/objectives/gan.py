"""The classic two-player objective (Goodfellow et al. 2014): phases ``D`` (``repeats=n_critic``) then ``G``.

Serves vanilla GAN, DCGAN, LSGAN, hinge GAN, WGAN(-GP), SNGAN and R3GAN-style training alike: the
loss function changes, and stabilisers from the config (``objective.r1_gamma``, ``gp_lambda``,
``lecam_lambda``, ``pac``, ...; see ``penalties.py``) add a line or two each to the phases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ganforge.augment import AugmentOptions
from ganforge.losses import get_loss
from ganforge.models.base import Generator
from ganforge.objectives.base import (
    Batch,
    Phase,
    Stats,
    StepFn,
    TwoPlayerObjective,
    discriminator_terms,
    prefixed,
)
from ganforge.objectives.penalties import Stabilizers, gradient_penalties, pack
from ganforge.options import PositiveInt
from ganforge.registry import register_objective
from ganforge.regularizers import LeCam, clip_weights, orthogonal_penalty
from ganforge.utils.distributed import mean_across_ranks


@dataclass(frozen=True)
class GANOptions(Stabilizers, AugmentOptions):
    """The ``gan`` objective's keys: the adversarial ``loss``, ``n_critic`` D steps per G step,
    ``reuse_fakes`` (below), every stabiliser (``penalties.Stabilizers``: all off at 0/1, any of
    them combines with any loss and model) and D's input augmentation (``AugmentOptions``:
    ``none``, ``diffaug``, ``ada`` or ``ada_fixed``, applied to every D input, real and fake alike)."""

    loss: str = "ns"
    n_critic: PositiveInt = 1
    reuse_fakes: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check(get_loss(self.loss))


@register_objective("gan")
class AdversarialObjective(TwoPlayerObjective):
    """two-player GAN: D then G, any adversarial loss, n_critic, GP/R1/R2/LeCam/PacGAN...

    A discriminator step on real vs detached fakes, then a generator step through D.

    ``reuse_fakes=True`` (the default, as in the PyTorch DCGAN example) generates each step's fakes
    once: the D phase builds them with G's graph (``Phase.keep_graph``), trains D on them detached,
    and the G phase back-propagates through the same fakes into G. That saves one generator forward
    per step (~8% of a DCGAN step). ``False`` draws fresh latents for the G phase instead, with the
    D phase's fakes made under ``no_grad`` (the stylegan2-ada habit).

    With lazy regularisation (``reg_every > 1``) R1/R2/GP leave the D phase for a ``Dreg`` phase
    that runs every ``reg_every`` steps on its own batch, after G's.
    """

    Options = GANOptions
    model = None  # any family
    g: Generator

    def setup(self, options: GANOptions) -> None:
        self.loss = get_loss(options.loss)
        self.n_critic = options.n_critic
        self.reuse_fakes = options.reuse_fakes
        self.s: Stabilizers = options
        self.augment = options.build_augment()
        self.lecam = LeCam(decay=0.99) if self.s.lecam_lambda > 0 else None
        self.d_steps = 0  # D-phase calls so far (checkpointed): the instance-noise schedule's clock
        self.noise_std = 0.0
        self._pending_fake: torch.Tensor | None = None  # the last D phase's fakes, with G's graph
        # Log-probability of each pending fake's discrete latent draw, for generators that learn its
        # weights (MixtureLatent): read right after the forward that made them, so no later G call mixes in.
        self._pending_log_prob: torch.Tensor | None = None

    def phases(self) -> list[Phase]:
        return self.phase_list(self.d_step, self.g_step, self.dreg_step)

    def phase_list(self, d_step: StepFn, g_step: StepFn, dreg_step: StepFn) -> list[Phase]:
        """D (``n_critic`` times), G, and with lazy regularisation Dreg, running the given steps:
        objectives that extend this game (AC-GAN) keep its schedule and wrap its steps."""
        keep = ("g",) if self.reuse_fakes else ()
        phases = [
            Phase("D", trains="d", step=d_step, repeats=self.n_critic, keep_graph=keep),
            Phase("G", trains="g", step=g_step, fresh_batch=False),
        ]
        if self.s.lazy:
            phases.append(Phase("Dreg", trains="d", step=dreg_step, every=self.s.reg_every))
        return phases

    def _fake(self, n: int, labels: torch.Tensor | None) -> torch.Tensor:
        z = self.ctx.randn(n, self.g.z_dim)
        return self.g(z, labels)

    def critic(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """D's fp32 logits on a batch of samples, through everything D's input passes on the way.

        Augmentation (DiffAugment/ADA) first, on single samples, then PacGAN packing, then
        instance noise. Gradient penalties differentiate this whole map with respect to the
        un-augmented, unpacked ``x``, as StyleGAN2-ADA takes R1 with respect to the real images.
        """
        x, y = pack(self.augment(x), labels, self.s.pac)
        if self.noise_std > 0:
            x = x + self.noise_std * self.ctx.randn(len(x), *x.shape[1:]).to(x.dtype)
        return self.d(x, y).float()

    def d_step(self, batch: Batch) -> Stats:
        real, labels = batch["x"], batch.get("y")
        self.noise_std = self.s.noise_std(self.d_steps // self.n_critic)
        self.d_steps += 1
        if self.reuse_fakes:
            fake = self._pending_fake = self._fake(len(real), labels)
            self._pending_log_prob = self.g.draw_log_prob
        else:
            with torch.no_grad():
                fake = self._fake(len(real), labels)
        eager = not self.s.lazy  # R1/R2 in this phase: share D's forward with them (R3GAN)
        real_x = real.detach().requires_grad_(eager and self.s.r1_gamma > 0)
        fake_x = fake.detach().requires_grad_(eager and self.s.r2_gamma > 0)
        real_logits, fake_logits = self.critic(real_x, labels), self.critic(fake_x, labels)
        self.augment.observe(real_logits)  # ADA's overfitting heuristic r_t = E[sign(D(x))]
        stats = discriminator_terms(self.loss, real_logits, fake_logits)
        loss = stats.pop("loss")
        if self.s.label_smoothing > 0:
            # BCE(D(x), 1 - ε) = BCE(D(x), 1) + ε·D(x) on logits: one-sided smoothing, Salimans et al. 2016.
            loss = loss + self.s.label_smoothing * real_logits.mean()
        if self.lecam is not None:
            self.lecam.update(*self._mean_over_ranks(real_logits, fake_logits))
            lecam = self.lecam.penalty(real_logits, fake_logits)
            loss = loss + self.s.lecam_lambda * lecam
            stats["lecam"] = lecam.detach()
        if eager and self.s.gradient_penalties:
            reg, reg_stats = gradient_penalties(
                self.critic, real_x, fake_x, labels, self.s, real_logits=real_logits, fake_logits=fake_logits
            )
            loss = loss + reg
            stats.update(reg_stats)
        if self.s.instance_noise > 0:
            stats["instance_noise"] = torch.tensor(self.noise_std)
        stats.update({k: torch.tensor(v) for k, v in self.augment.stats().items()})
        return {"loss": loss, **stats}

    def g_step(self, batch: Batch) -> Stats:
        real, labels = batch["x"], batch.get("y")
        fake, self._pending_fake = self._pending_fake, None
        log_prob, self._pending_log_prob = self._pending_log_prob, None
        if fake is None or not fake.requires_grad:
            fake = self._fake(len(real), labels)
            log_prob = self.g.draw_log_prob
        real_logits = None
        if self.loss.needs_real_in_g:  # relativistic losses compare with D(x); no gradient to G there
            with torch.no_grad():
                real_logits = self.critic(real, labels)
        fake_logits = self.critic(fake, labels)
        loss = self.loss.g_loss(fake_logits, real_logits)
        stats = {"loss_g": loss.detach()}
        if log_prob is not None:  # G learns the weights of its discrete latent draw (after loss_g is read)
            loss = loss + score_function_term(fake_logits, log_prob)
        if self.s.ortho_lambda > 0:
            ortho = orthogonal_penalty(self.g)
            loss = loss + self.s.ortho_lambda * ortho
            stats["ortho"] = ortho.detach()
        return {"loss": loss, **stats}

    def dreg_step(self, batch: Batch) -> Stats:
        """Lazy R1/R2/GP on a batch of their own, scaled by ``reg_every`` (StyleGAN2 Sec. 3.1)."""
        real, labels = batch["x"], batch.get("y")
        fake = None
        if self.s.r2_gamma > 0 or self.s.gp_lambda > 0:
            with torch.no_grad():
                fake = self._fake(len(real), labels)
        loss, stats = gradient_penalties(self.critic, real, fake, labels, self.s, scale=self.s.reg_every)
        return {"loss": loss, **stats}

    def _mean_over_ranks(self, *logits: torch.Tensor) -> list[torch.Tensor]:
        """Batch means averaged over processes, so every rank keeps the same LeCam EMAs."""
        return mean_across_ranks([v.detach().float().mean() for v in logits], self.ctx.world_size)

    def after_optimizer_step(self, phase: Phase) -> None:
        if self.s.clip_value > 0 and phase.trains == "d":  # WGAN: clip after every critic update
            clip_weights(self.d, self.s.clip_value)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"d_steps": self.d_steps}
        state.update({f"augment.{k}": v for k, v in self.augment.state_dict().items()})
        if self.lecam is not None:
            state.update({f"lecam.{k}": v for k, v in self.lecam.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_steps = int(state.get("d_steps", 0))
        augment = prefixed(state, "augment")
        if augment:
            self.augment.load_state_dict(augment)
        if self.lecam is not None:
            lecam = prefixed(state, "lecam")
            self.lecam.load_state_dict(lecam, device=self.ctx.device)


def score_function_term(fake_logits: torch.Tensor, log_prob: torch.Tensor) -> torch.Tensor:
    """REINFORCE surrogate for the discrete part of G's latent: its gradient is -E[(r - r̄) ∇log p].

    The reward r of a sample is D's logit for it (at D's optimum, log p_data/p_G there), r̄ the
    batch mean as baseline; minimising the surrogate moves probability toward the choices whose
    samples D finds under-represented. Only what ``log_prob`` depends on (the mixture weights)
    gets this gradient. With PacGAN packing one logit judges a pack of samples, so their
    log-probabilities are summed per pack.
    """
    reward = fake_logits.detach().reshape(len(fake_logits), -1).mean(1)
    log_prob = log_prob.reshape(len(reward), -1).sum(1)
    return -((reward - reward.mean()) * log_prob).mean()
