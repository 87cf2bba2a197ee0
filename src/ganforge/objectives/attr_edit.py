"""StarGAN (Choi et al. 2018, Eq. 1-4) for a continuous attribute, plus an identity term: phases D, G.

    L_D = L_adv^D + λ_attr·E‖D_attr(x) − c‖²                                (Eq. 5, MSE for Eq. 2)
    L_G = L_adv^G + λ_attr·E‖D_attr(G(x, t)) − t‖² + λ_rec·L_rec + λ_id·L_id  (Eq. 6, MSE for Eq. 3)
    L_rec = E‖G(G(x, t), c) − x‖₁                                             (Eq. 4)
    L_id  = E‖G(x, c) − x‖₁

x is a real image with attribute c (batch keys ``x``, ``attr``), t a target attribute. StarGAN
classifies binary domain labels with cross-entropy; a continuous attribute is regressed with a
squared error instead, by D's second head (``models/attr_edit.py``), trained on real images only
so that G cannot teach it to believe in its fakes.

* L_rec, the cycle through the source attribute, is StarGAN's only content term. On digits, in the
  few thousand steps a CPU affords, it is not enough: G learns to hide the digit in a scribble it
  alone can decode, and edits lose the digit (the ``i2i/thickness_edit`` preset with λ_id = 0:
  mnist-cnn reads 11 % of the edited test digits right, chance; with λ_id = 10: 96 %). L_id, the
  identity loss of CycleGAN (Zhu et al. 2017, Sec. 5.2, after Taigman et al. 2017), asks that
  requesting an image's own attribute changes nothing; with it G learns edits as small
  corrections of its input. λ_id = 10 by default (0 is StarGAN as published).
* L_adv: any registered adversarial loss (``objective.loss``; the preset's ``lsgan``). StarGAN uses
  WGAN-GP with five D steps per G step; LSGAN needs one. An optional R1 penalty (``r1_gamma``,
  Mescheder et al. 2018, Eq. 9, on the adversarial head) is there for harder data.
  λ_attr = 1 (per squared pixel of thickness) and λ_rec = 10 as in StarGAN.
* Targets t: a random permutation of the batch's own attributes (StarGAN's code shuffles the
  labels the same way), so they follow the data's distribution with no range to configure. The
  permutation comes from the objective's own seeded ``torch.Generator``, checkpointed, so a resumed
  run draws the same targets.

Each step generates G(x, t) once: the D phase keeps its graph (``Phase.keep_graph``) and the G phase
back-propagates through it, as in ``objectives/pix2pix.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganforge.errors import DataError
from ganforge.losses import get_loss
from ganforge.models.attr_edit import AttrDiscriminator
from ganforge.models.translation import TranslationGenerator
from ganforge.objectives.base import Batch, Phase, Stats, TwoPlayerObjective
from ganforge.options import NonNegativeFloat, Options
from ganforge.registry import register_objective
from ganforge.regularizers.gradient import mean_squared_gradient

PREVIEW_QUANTILES = (0.05, 0.275, 0.5, 0.725, 0.95)  # thin .. thick, of the preview batch's attributes


def attr_batch(batch: Batch, objective: str = "attr_edit") -> tuple[torch.Tensor, torch.Tensor]:
    """(x, attr) of a batch, or a DataError naming the kind of dataset the objective needs."""
    attr = batch.get("attr")
    if attr is None:
        raise DataError(
            f"objective '{objective}' needs images with attribute values: batches holding 'attr' (N, K)"
            " beside the images 'x' (e.g. data.name: thickness_digits)"
        )
    x = batch["x"]
    if attr.ndim != 2 or len(attr) != len(x):
        raise DataError(f"batch key 'attr' must be (N, K) for {len(x)} images, got shape {tuple(attr.shape)}")
    return x, attr.float()


@dataclass(frozen=True)
class AttrEditOptions(Options):
    """``loss``, weights ``lambda_attr``, ``lambda_rec`` and ``lambda_id`` (0: StarGAN's objective
    as published), optional R1 ``r1_gamma`` on D's adversarial head."""

    loss: str = "lsgan"
    lambda_attr: NonNegativeFloat = 1.0
    lambda_rec: NonNegativeFloat = 10.0
    lambda_id: NonNegativeFloat = 10.0
    r1_gamma: NonNegativeFloat = 0.0


@register_objective("attr_edit")
class AttrEditObjective(TwoPlayerObjective):
    """StarGAN for a continuous attribute: adversarial + λ·attribute regression + λ·cycle L1

    Choi et al. 2018 with attribute regression, on an ``attr_edit`` model.
    """

    Options = AttrEditOptions
    g: TranslationGenerator
    d: AttrDiscriminator

    def setup(self, options: AttrEditOptions) -> None:
        self.loss = get_loss(options.loss)
        # Seeded from the run's seed (set just before the objective is built); one stream per rank.
        self.gen = torch.Generator().manual_seed((torch.initial_seed() + 7919 * self.ctx.rank + 17) % 2**63)
        self._pending: tuple[torch.Tensor, torch.Tensor] | None = None  # the D phase's (G(x, t), t)

    def phases(self) -> list[Phase]:
        return [
            Phase("D", trains="d", step=self.d_step, keep_graph=("g",)),
            Phase("G", trains="g", step=self.g_step, fresh_batch=False),
        ]

    def targets(self, attr: torch.Tensor) -> torch.Tensor:
        """Target attributes for a batch: its own attributes in a random order (StarGAN)."""
        return attr[torch.randperm(len(attr), generator=self.gen).to(attr.device)]

    def d_step(self, batch: Batch) -> Stats:
        x, attr = attr_batch(batch)
        t = self.targets(attr)
        fake = self.g(x, attr=t)
        self._pending = (fake, t)
        real = x.detach().requires_grad_(self.options.r1_gamma > 0)
        real_logits, real_attr = self.d(real)
        fake_logits, _ = self.d(fake.detach())
        adversarial = self.loss.d_loss(real_logits.float(), fake_logits.float())
        attr_error = (real_attr.float() - attr).square().mean()
        loss = adversarial + self.options.lambda_attr * attr_error
        stats = {}
        if self.options.r1_gamma > 0:
            r1 = mean_squared_gradient(real_logits, real)  # reuses D(x): no second forward
            loss = loss + 0.5 * self.options.r1_gamma * r1
            stats["r1"] = r1.detach()
        accuracy = 0.5 * ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean())
        return {
            "loss": loss,
            "loss_d": adversarial.detach(),
            "d_real": real_logits.detach().float().mean(),
            "d_fake": fake_logits.detach().float().mean(),
            "d_acc": accuracy.detach(),
            "attr_real": attr_error.detach(),
            **stats,
        }

    def g_step(self, batch: Batch) -> Stats:
        x, attr = attr_batch(batch)
        pending, self._pending = self._pending, None
        if pending is None or not pending[0].requires_grad:  # no D phase before (never by default)
            t = self.targets(attr)
            pending = (self.g(x, attr=t), t)
        fake, t = pending
        real_logits = None
        if self.loss.needs_real_in_g:
            with torch.no_grad():
                real_logits = self.d(x)[0].float()
        fake_logits, fake_attr = self.d(fake)
        adversarial = self.loss.g_loss(fake_logits.float(), real_logits)
        attr_error = (fake_attr.float() - t).square().mean()
        rec = (self.g(fake, attr=attr).float() - x.float()).abs().mean()
        loss = adversarial + self.options.lambda_attr * attr_error + self.options.lambda_rec * rec
        stats = {"loss_g": adversarial.detach(), "attr_fake": attr_error.detach(), "rec": rec.detach()}
        if self.options.lambda_id > 0:
            identity = (self.g(x, attr=attr).float() - x.float()).abs().mean()
            loss = loss + self.options.lambda_id * identity
            stats["identity"] = identity.detach()
        return {"loss": loss, **stats}

    @torch.no_grad()
    def preview(self, g: nn.Module, batch: Batch) -> torch.Tensor:
        """input | G(input, t) for 5 targets t, thin to thick (the 5, 27.5, 50, 72.5 and 95th
        percentiles of the batch's attributes, the same targets for every sample): (N, 6, C, H, W)."""
        x, attr = attr_batch(batch)
        levels = torch.quantile(attr, torch.tensor(PREVIEW_QUANTILES, device=attr.device), dim=0)
        panels = [x.float()]
        for level in levels:
            panels.append(g(x, attr=level[None].expand(len(x), -1)).float())
        return torch.stack(panels, dim=1)

    # The target-drawing RNG is training state.
    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "rng" in state:
            self.gen.set_state(state["rng"].cpu())
