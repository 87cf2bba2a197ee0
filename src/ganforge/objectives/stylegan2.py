"""StyleGAN2's training scheme (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN").

Four phases, in the order of the paper's code (``training/loss.py``), all on the step's one batch:

* ``Gmain`` (every step): the adversarial loss of G on fakes with style mixing.
* ``Greg`` (every ``pl_every`` = 4 steps): path-length regularisation (Sec. 3.2, Eq. 4)
  E_{w,y}(‖J_wᵀy‖₂ - a)², y ~ N(0, I/(H·W)) an image, a the running mean of the lengths, on
  ``1/pl_batch_shrink`` of the batch, weighted ``pl_weight · pl_every`` (lazy regularisation,
  Sec. 3.1: a penalty applied every k steps is scaled by k so its average strength is unchanged).
* ``Dmain`` (every step): the adversarial loss of D on real vs. (detached) fakes. Its G forward
  is the one that moves w̄ (StyleGAN2-ADA: ``update_emas=True`` in the D phase only).
* ``Dreg`` (every ``r1_every`` = 16 steps): R1 (Mescheder et al. 2018) γ/2·E‖∇D(x)‖² on reals,
  times ``r1_every``.

Why style mixing (StyleGAN Sec. 3.1, "mixing regularization") lives here and not in G's forward:
it is a training-time regulariser, like path length, and belongs with the losses (where the
paper's code has it, ``run_G``). Keeping it out of the model keeps ``G(z, y)`` a deterministic
function of its inputs (in eval mode), which sampling, the EMA copy, the tests that compare two
forwards and latent inversion all rely on; and the objective draws its randomness from
``ctx.randn``, so N processes mix exactly as one would.

``Greg`` and ``Gmain`` both train ``g`` with the same optimiser, as do ``Dmain`` and ``Dreg`` with
``d``; the Trainer runs each due phase in list order and steps that network's optimiser after it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ganforge.augment import AugmentOptions
from ganforge.errors import ConfigError
from ganforge.losses import get_loss
from ganforge.models.stylegan2 import StyleGAN2Generator
from ganforge.objectives.base import Batch, Phase, Stats, TwoPlayerObjective, discriminator_terms, prefixed
from ganforge.options import NonNegativeFloat, PositiveInt, Probability
from ganforge.registry import register_objective
from ganforge.regularizers import zero_centered_penalty
from ganforge.utils.distributed import mean_across_ranks


def mix_styles(w1: torch.Tensor, w2: torch.Tensor, num_ws: int, prob: float, u: torch.Tensor) -> torch.Tensor:
    """Per-layer styles (N, num_ws, w_dim): w1 before a crossover layer, w2 from it on.

    Each sample is mixed with probability ``prob``, at a crossover drawn uniformly from 1..num_ws-1
    (StyleGAN Sec. 3.1); unmixed samples use w1 everywhere. ``u`` (N, 2) holds uniform draws in
    [0, 1): the first decides whether to mix, the second picks the crossover. The paper's code
    flips one coin per batch; one per sample gives the same expected mixing with less variance.
    """
    n = len(w1)
    cutoff = 1 + (u[:, 1] * (num_ws - 1)).long().clamp_max(num_ws - 2)
    cutoff = torch.where(u[:, 0] < prob, cutoff, torch.full_like(cutoff, num_ws))
    second = torch.arange(num_ws, device=w1.device)[None, :] >= cutoff[:, None]  # (N, num_ws)
    return torch.where(second[:, :, None], w2[:, None], w1[:, None]).reshape(n, num_ws, -1)


@dataclass(frozen=True)
class StyleGAN2Options(AugmentOptions):
    """StyleGAN2's keys; the defaults are the paper's (config F).

    ``r1_gamma`` γ of R1, 0 turns ``Dreg`` off (StyleGAN2-ADA's heuristic for other data:
    γ = 0.0002·resolution²/batch); ``r1_every`` its interval. ``pl_weight`` path-length weight
    (0 turns ``Greg`` off), ``pl_every`` its interval, ``pl_batch_shrink`` the batch fraction it
    uses, ``pl_decay`` the speed of its running mean. ``style_mixing`` the probability that a fake
    is drawn from two latents. ``augment`` and the ``ada_*`` keys as for objective ``gan``.
    """

    loss: str = "ns"
    r1_gamma: NonNegativeFloat = 10.0
    r1_every: PositiveInt = 16
    pl_weight: NonNegativeFloat = 2.0
    pl_every: PositiveInt = 4
    pl_batch_shrink: PositiveInt = 2
    pl_decay: float = 0.01
    style_mixing: Probability = 0.9

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.pl_decay <= 1:
            raise ConfigError(f"'objective.pl_decay' must be in (0, 1], got {self.pl_decay}")


@register_objective("stylegan2")
class StyleGAN2Objective(TwoPlayerObjective):
    """StyleGAN2: Gmain, Greg (path length) every 4, Dmain, Dreg (lazy R1) every 16, style mixing

    The path-length mean ``pl_mean`` is checkpointed.
    """

    Options = StyleGAN2Options
    model = None  # any family with a mapping and a synthesis network: ``setup`` checks
    g: StyleGAN2Generator

    def setup(self, options: StyleGAN2Options) -> None:
        if not all(hasattr(self.g, name) for name in ("mapping", "synthesis", "num_ws")):
            raise ConfigError(
                "objective 'stylegan2' needs a generator with a mapping and a synthesis network;"
                " use model stylegan2 / stylegan2_tiny, or objective 'gan' for other models"
            )
        self.loss = get_loss(options.loss)
        self.augment = options.build_augment()
        self.pl_mean = torch.zeros((), device=self.ctx.device)  # a in Eq. 4: running mean of ‖J_wᵀy‖

    def phases(self) -> list[Phase]:
        """Gmain draws the step's batch (its labels condition the fakes); the others reuse it."""
        phases = [Phase("Gmain", trains="g", step=self.gmain)]
        if self.options.pl_weight > 0:
            phases.append(
                Phase("Greg", trains="g", step=self.greg, every=self.options.pl_every, fresh_batch=False)
            )
        phases.append(Phase("Dmain", trains="d", step=self.dmain, fresh_batch=False))
        if self.options.r1_gamma > 0:
            phases.append(
                Phase("Dreg", trains="d", step=self.dreg, every=self.options.r1_every, fresh_batch=False)
            )
        return phases

    # ------------------------------------------------------------------ helpers
    def styles(self, n: int, labels: torch.Tensor | None, update_w_avg: bool = False) -> torch.Tensor:
        """ws (n, num_ws, w_dim) for fresh latents, style-mixed with probability ``style_mixing``."""
        g = self.g
        w = g.mapping(self.ctx.randn(n, g.z_dim), labels, update_w_avg=update_w_avg)
        if self.options.style_mixing <= 0:
            return w[:, None].expand(-1, g.num_ws, -1)
        w2 = g.mapping(self.ctx.randn(n, g.z_dim), labels, update_w_avg=False)
        u = torch.special.ndtr(self.ctx.randn(n, 2))  # N(0, 1) -> U(0, 1), through the shared noise
        return mix_styles(w, w2, g.num_ws, self.options.style_mixing, u)

    def critic(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """D's fp32 logits after augmentation (DiffAugment/ADA), which R1 differentiates through."""
        return self.d(self.augment(x), labels).float()

    # ------------------------------------------------------------------ phases
    def gmain(self, batch: Batch) -> Stats:
        real, labels = batch["x"], batch.get("y")
        fake = self.g.synthesis(self.styles(len(real), labels))
        real_logits = None
        if self.loss.needs_real_in_g:  # relativistic losses compare with D(x); no gradient to G there
            with torch.no_grad():
                real_logits = self.critic(real, labels)
        loss = self.loss.g_loss(self.critic(fake, labels), real_logits)
        return {"loss": loss, "loss_g": loss.detach()}

    def greg(self, batch: Batch) -> Stats:
        """Path length (Eq. 4): ‖J_wᵀy‖ by one backward of <G(w), y> to the styles, per sample.

        y ~ N(0, 1/(H·W)) per pixel makes the length independent of the resolution; the squared
        gradient is summed over w_dim and averaged over the num_ws layers, as in the paper's code.
        """
        real, labels = batch["x"], batch.get("y")
        n = max(1, len(real) // self.options.pl_batch_shrink)
        ws = self.styles(n, labels[:n] if labels is not None else None)
        img = self.g.synthesis(ws)
        h, w = img.shape[-2:]
        y = self.ctx.randn(n, *img.shape[1:]) / math.sqrt(h * w)
        (grad,) = torch.autograd.grad((img.float() * y).sum(), ws, create_graph=True)
        lengths = grad.float().square().sum(dim=2).mean(dim=1).sqrt()
        (batch_mean,) = mean_across_ranks([lengths.detach().mean()], self.ctx.world_size)
        self.pl_mean = self.pl_mean.lerp(batch_mean, self.options.pl_decay)
        penalty = (lengths - self.pl_mean).square().mean()
        loss = penalty * (self.options.pl_weight * self.options.pl_every)
        return {"loss": loss, "pl_penalty": penalty.detach(), "pl_mean": self.pl_mean.detach()}

    def dmain(self, batch: Batch) -> Stats:
        real, labels = batch["x"], batch.get("y")
        with torch.no_grad():
            fake = self.g.synthesis(self.styles(len(real), labels, update_w_avg=True))
        real_logits, fake_logits = self.critic(real, labels), self.critic(fake, labels)
        self.augment.observe(real_logits)  # ADA's overfitting heuristic r_t = E[sign(D(x))]
        stats = discriminator_terms(self.loss, real_logits, fake_logits)
        stats.update({k: torch.tensor(v) for k, v in self.augment.stats().items()})
        return stats

    def dreg(self, batch: Batch) -> Stats:
        r1 = zero_centered_penalty(self.critic, batch["x"], batch.get("y"))
        return {"loss": r1 * (0.5 * self.options.r1_gamma * self.options.r1_every), "r1": r1.detach()}

    # ------------------------------------------------------------------ checkpointed state
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"pl_mean": self.pl_mean.detach().clone()}
        state.update({f"augment.{k}": v for k, v in self.augment.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "pl_mean" in state:
            self.pl_mean = torch.as_tensor(state["pl_mean"], dtype=torch.float32).to(self.ctx.device)
        augment = prefixed(state, "augment")
        if augment:
            self.augment.load_state_dict(augment)
