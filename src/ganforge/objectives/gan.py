"""The classic two-player objective (Goodfellow et al. 2014): phases ``D`` (``repeats=n_critic``) then ``G``.

Serves vanilla GAN, DCGAN, LSGAN, hinge GAN, WGAN(-GP), SNGAN and R3GAN-style training alike: the
loss function changes, and stabilisers from the config (``objective.r1_gamma``, ``gp_lambda``,
``lecam_lambda``, ``pac``, ...; see ``penalties.py``) add a line or two each to the phases.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganforge.augment import Augment, build_augment
from ganforge.errors import ConfigError
from ganforge.losses import get_loss
from ganforge.models.base import Generator
from ganforge.objectives.base import Batch, Context, Phase, prefixed
from ganforge.objectives.penalties import Stabilizers, gradient_penalties, pack
from ganforge.registry import register_objective
from ganforge.regularizers import LeCam, clip_weights, orthogonal_penalty
from ganforge.training.distributed import mean_across_ranks


class AdversarialObjective:
    """Discriminator step on real vs detached fakes, then a generator step through D.

    ``reuse_fakes=True`` (the default, as in the PyTorch DCGAN example) generates each step's fakes
    once: the D phase builds them with G's graph (``Phase.keep_graph``), trains D on them detached,
    and the G phase back-propagates through the same fakes into G. That saves one generator forward
    per step (~8% of a DCGAN step). ``False`` draws fresh latents for the G phase instead, with the
    D phase's fakes made under ``no_grad`` (the stylegan2-ada habit).

    With lazy regularisation (``reg_every > 1``) R1/R2/GP leave the D phase for a ``Dreg`` phase
    that runs every ``reg_every`` steps on its own batch, after G's.
    """

    def __init__(
        self,
        g: Generator,
        d: nn.Module,
        ctx: Context,
        loss: str = "ns",
        n_critic: int = 1,
        reuse_fakes: bool = True,
        stabilizers: Stabilizers | None = None,
        augment: Augment | None = None,
    ) -> None:
        if n_critic < 1:
            raise ConfigError(f"'objective.n_critic' must be at least 1, got {n_critic}")
        self.g, self.d, self.ctx = g, d, ctx
        self.loss = get_loss(loss)
        self.n_critic = n_critic
        self.reuse_fakes = reuse_fakes
        self.s = stabilizers or Stabilizers()
        self.s.check(self.loss)
        self.augment = augment or build_augment("none")
        self.lecam = LeCam(decay=0.99) if self.s.lecam_lambda > 0 else None
        self.d_steps = 0  # D-phase calls so far (checkpointed): the instance-noise schedule's clock
        self.noise_std = 0.0
        self._pending_fake: torch.Tensor | None = None  # the last D phase's fakes, with G's graph
        # Log-probability of each pending fake's discrete latent draw, for generators that learn its
        # weights (MixtureLatent): read right after the forward that made them, so no later G call mixes in.
        self._pending_log_prob: torch.Tensor | None = None

    def networks(self) -> dict[str, nn.Module]:
        return {"g": self.g, "d": self.d}

    def phases(self) -> list[Phase]:
        keep = ("g",) if self.reuse_fakes else ()
        phases = [
            Phase("D", trains="d", repeats=self.n_critic, keep_graph=keep),
            Phase("G", trains="g", fresh_batch=False),
        ]
        if self.s.lazy:
            phases.append(Phase("Dreg", trains="d", every=self.s.reg_every))
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

    def step(self, phase: str, batch: Batch) -> dict[str, torch.Tensor]:
        real, labels = batch["x"], batch.get("y")
        if phase == "D":
            return self._d_step(real, labels)
        if phase == "G":
            return self._g_step(real, labels)
        if phase == "Dreg":
            return self._dreg_step(real, labels)
        raise ValueError(f"unknown phase '{phase}'")

    def _d_step(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
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
        adversarial = self.loss.d_loss(real_logits, fake_logits)
        if self.loss.needs_real_in_g:  # a relativistic D only ranks: is D(x) above its paired D(G(z))?
            accuracy = (real_logits > fake_logits).float().mean()
        else:
            accuracy = 0.5 * ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean())
        stats = {
            "loss_d": adversarial.detach(),
            "d_real": real_logits.detach().mean(),
            "d_fake": fake_logits.detach().mean(),
            "d_acc": accuracy.detach(),
        }
        loss = adversarial
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

    def _g_step(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
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

    def _dreg_step(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Lazy R1/R2/GP on a batch of their own, scaled by ``reg_every`` (StyleGAN2 Sec. 3.1)."""
        fake = None
        if self.s.r2_gamma > 0 or self.s.gp_lambda > 0:
            with torch.no_grad():
                fake = self._fake(len(real), labels)
        loss, stats = gradient_penalties(self.critic, real, fake, labels, self.s, scale=self.s.reg_every)
        return {"loss": loss, **stats}

    def _mean_over_ranks(self, *logits: torch.Tensor) -> list[torch.Tensor]:
        """Batch means averaged over processes, so every rank keeps the same LeCam EMAs."""
        return mean_across_ranks([v.detach().float().mean() for v in logits], self.ctx.world_size)

    # Optional hooks the Trainer calls (objectives/base.py).
    def after_optimizer_step(self, phase: str) -> None:
        if self.s.clip_value > 0 and phase in ("D", "Dreg"):  # WGAN: clip after every critic update
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


@register_objective(
    "gan", description="two-player GAN: D then G, any adversarial loss, n_critic, GP/R1/R2/LeCam/PacGAN..."
)
def build_gan(
    nets: dict[str, nn.Module],
    ctx: Context,
    loss: str = "ns",
    n_critic: int = 1,
    reuse_fakes: bool = True,
    gp_lambda: float = 0.0,
    r1_gamma: float = 0.0,
    r2_gamma: float = 0.0,
    reg_every: int = 1,
    lecam_lambda: float = 0.0,
    ortho_lambda: float = 0.0,
    clip_value: float = 0.0,
    label_smoothing: float = 0.0,
    instance_noise: float = 0.0,
    instance_noise_steps: int = 2000,
    pac: int = 1,
    augment: str = "none",
    augment_policy: str | None = None,
    augment_p: float = 0.0,
    ada_target: float = 0.6,
    ada_kimg: float = 500.0,
    ada_interval: int = 4,
) -> AdversarialObjective:
    """Two-player GAN. Stabilisers (all off at 0/1), any of which combine with any loss and model:

    ``gp_lambda`` WGAN-GP weight; ``r1_gamma``/``r2_gamma`` zero-centred penalties on real/fake
    (loss += γ/2·E‖∇D‖²); ``reg_every`` > 1 moves those three to a lazy ``Dreg`` phase;
    ``lecam_lambda`` LeCam; ``ortho_lambda`` BigGAN's orthogonal penalty on G; ``clip_value`` WGAN
    weight clipping of D; ``label_smoothing`` one-sided, BCE losses only; ``instance_noise`` std of
    input noise for D, annealed to 0 over ``instance_noise_steps`` steps; ``pac`` PacGAN packing.
    ``augment``: ``none``, ``diffaug`` (DiffAugment, ``augment_policy`` e.g. "color,translation,cutout"),
    ``ada`` (adaptive p toward ``ada_target`` of E[sign D(x)], speed ``ada_kimg``) or ``ada_fixed``
    (constant ``augment_p``); applied to every D input, real and fake alike.
    """
    stabilizers = Stabilizers(
        gp_lambda=gp_lambda,
        r1_gamma=r1_gamma,
        r2_gamma=r2_gamma,
        reg_every=reg_every,
        lecam_lambda=lecam_lambda,
        ortho_lambda=ortho_lambda,
        clip_value=clip_value,
        label_smoothing=label_smoothing,
        instance_noise=instance_noise,
        instance_noise_steps=instance_noise_steps,
        pac=pac,
    )
    return AdversarialObjective(
        nets["g"],  # type: ignore[arg-type]
        nets["d"],
        ctx,
        loss=loss,
        n_critic=n_critic,
        reuse_fakes=reuse_fakes,
        stabilizers=stabilizers,
        augment=build_augment(augment, augment_policy, augment_p, ada_target, ada_kimg, ada_interval),
    )
