"""AC-GAN's objective (Odena et al. 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs").

D has two heads: the usual real/fake score and a class posterior P(C | X). Eq. 2 and 3 of the
paper: D maximises L_S + L_C and G maximises L_C - L_S, where L_S is the adversarial log-likelihood
and L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)]. So, as losses to minimise:

    D phase:  adversarial D loss + aux_weight · (CE(D_cls(x), y) + CE(D_cls(G(z, y)), y))
    G phase:  adversarial G loss + aux_weight · CE(D_cls(G(z, y)), y)

The adversarial part is exactly the ``gan`` objective's, with every stabiliser (n_critic, R1/R2/GP,
lazy regularisation, LeCam, DiffAugment/ADA, instance noise, PacGAN, ...): ``ACGANOptions`` extends
``GANOptions`` by ``aux_weight``, and the objective composes an ``AdversarialObjective`` built with
them, keeping its phase schedule and wrapping its D and G steps. The class logits come
from the very forwards that score real and fake images: the adversarial objective is handed D
behind a ``ClassLogitRecorder``, which calls D's ``adv_and_class`` (one pass through D's features,
both heads), returns the adversarial logits and keeps the class logits with the labels the
objective passed along (after augmentation and PacGAN packing, so they always match). No D or G
step logic is repeated here and ``gan.py`` needs no hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import ConfigError
from ganforge.objectives.base import Batch, Context, Objective, Phase, Stats, WrapsGame
from ganforge.objectives.gan import AdversarialObjective, GANOptions
from ganforge.options import NonNegativeFloat
from ganforge.registry import register_objective


class ClassLogitRecorder(nn.Module):
    """D as the adversarial objective sees it: ``forward(x, y)`` -> adversarial logits (N,).

    Every forward that may be trained on (grad enabled) also records ``(class_logits, y)``. Forwards
    under ``no_grad`` (a relativistic G loss's look at D(x)) are not recorded: nothing learns there.
    """

    def __init__(self, d: nn.Module) -> None:
        super().__init__()
        self.d = d
        self.records: list[tuple[torch.Tensor, torch.Tensor | None]] = []

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        adv, cls = self.d.adv_and_class(x)
        if torch.is_grad_enabled():
            self.records.append((cls, y))
        return adv


def class_loss(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of class ``logits`` against hard labels (N,) or class weights (N, K), and accuracy."""
    logits = logits.float()
    hard = y if y.ndim == 1 else y.argmax(dim=1)
    target = y.long() if y.ndim == 1 else y.float()
    return F.cross_entropy(logits, target), (logits.argmax(dim=1) == hard).float().mean()


@dataclass(frozen=True)
class ACGANOptions(GANOptions):
    """``aux_weight`` scales the class loss; every other key is the ``gan`` objective's."""

    aux_weight: NonNegativeFloat = 1.0


@register_objective("acgan")
class ACGANObjective(WrapsGame, Objective):
    """AC-GAN: gan objective + auxiliary class cross-entropy on real and fake (Odena et al. 2017)

    The ``gan`` objective's phases plus the auxiliary classification loss (module docstring).

    The model's D must offer ``adv_and_class(x)`` (the ``acgan`` family): a D without a class head
    could only be trained as a plain GAN, which ``objective.name: gan`` already does.
    """

    Options = ACGANOptions

    def __init__(self, nets: dict[str, nn.Module], ctx: Context, options: ACGANOptions) -> None:
        d = nets["d"]
        if not callable(getattr(d, "adv_and_class", None)) or getattr(d, "num_classes", 0) < 1:
            raise ConfigError(
                "objective 'acgan' needs a discriminator with a class head and labelled data"
                " (model acgan or acgan_tiny on a dataset with classes)"
            )
        self.recorder = ClassLogitRecorder(d)
        self.game = AdversarialObjective({**nets, "d": self.recorder}, ctx, options)
        self.d, self.aux_weight = d, options.aux_weight

    def networks(self) -> dict[str, nn.Module]:
        return {"g": self.game.g, "d": self.d}  # D itself: checkpoint keys as for any model

    def phases(self) -> list[Phase]:
        # Dreg (lazy R1/R2/GP): the penalties alone, the adversarial objective's own step.
        return self.game.phase_list(self.d_step, self.g_step, self.game.dreg_step)

    def _recorded(self, step: Any, batch: Batch) -> tuple[Stats, list[tuple[torch.Tensor, Any]]]:
        """The adversarial step's output and the class logits D recorded while it ran."""
        if batch.get("y") is None:
            raise ConfigError("objective 'acgan' needs labelled data; this dataset has no labels")
        self.recorder.records.clear()
        out = step(batch)
        records, self.recorder.records = self.recorder.records, []
        return out, records

    def d_step(self, batch: Batch) -> Stats:
        # The D step scores the real batch, then the fakes (made with the same labels); any
        # further forwards (WGAN-GP's interpolates) are penalty terms, not classified.
        out, records = self._recorded(self.game.d_step, batch)
        (real_cls, real_y), (fake_cls, fake_y) = records[0], records[1]
        aux_real, acc_real = class_loss(real_cls, real_y)
        aux_fake, acc_fake = class_loss(fake_cls, fake_y)
        out["loss"] = out["loss"] + self.aux_weight * (aux_real + aux_fake)
        out.update(
            aux_real=aux_real.detach(),
            aux_fake=aux_fake.detach(),
            aux_acc_real=acc_real.detach(),
            aux_acc_fake=acc_fake.detach(),
        )
        return out

    def g_step(self, batch: Batch) -> Stats:
        out, records = self._recorded(self.game.g_step, batch)
        fake_cls, fake_y = records[0]
        aux_g, acc_g = class_loss(fake_cls, fake_y)
        out["loss"] = out["loss"] + self.aux_weight * aux_g
        out.update(aux_g=aux_g.detach(), aux_acc_g=acc_g.detach())
        return out
