"""SRGAN training (Ledig et al. 2017, Sec. 2.2 and 3.2; ESRGAN, Wang et al. 2018, Sec. 3.2-3.3) in
two stages on the one Trainer.

Stage 1, phase ``Gpre`` (steps < ``pretrain_steps``): SRResNet alone on the content loss, L1 or
MSE to the high-resolution target. Ledig et al. initialise SRGAN's generator with the
MSE-trained SRResNet "to avoid undesired local optima"; ESRGAN pre-trains with L1. The
pixel-optimal output is the conditional mean, blurry where the input is ambiguous, which is exactly
what the adversarial stage then sharpens.

Stage 2, phases ``D`` then ``G`` (steps ≥ ``pretrain_steps``), as ``objectives/pix2pix.py``: one
generator forward per step, made in the D phase with G's graph (``Phase.keep_graph``) and reused by
the G phase. G minimises

    L_G = lambda_content · L_content + lambda_adv · L_adv (+ lambda_perceptual · L_perceptual)

(ESRGAN Eq. 3 with its L1 weight η = 1e-2 and adversarial weight λ = 5e-3 as defaults). L_adv is
any registered loss (``objective.loss``): SRGAN's is the non-saturating ``ns``; ESRGAN's
relativistic average one is ``ragan``, whose G loss also reads D's scores of the real batch
(``needs_real_in_g``; those are computed without a graph, D is not trained in the G phase).
``perceptual``: an optional feature-matching loss in a registered extractor's feature space
(SRGAN's VGG loss, Sec. 2.2.1; ``objectives.translation.FeatureLoss``), MSE between features of
output and target; off by default (no offline extractor for photos ships with ganforge).

The pre-training loss is weighted by ``lambda_content`` as well (1 when that is 0). Both stages
share G's Adam, whose second-moment estimate remembers gradient sizes for ~1/(1 − β2) = 1,000
steps: a content loss 100× larger in stage 1 than in stage 2 would shrink G's first adversarial
steps a hundredfold. The same weight in both keeps the step sizes continuous.

Both stages are bounded by ``Phase.start`` / ``Phase.stop``, which are step numbers, so a run
resumed anywhere continues in the right stage. ``lambda_adv: 0`` is the L1-only ablation: the
content stage then lasts the whole run and D is never trained.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import ConfigError
from ganforge.losses import get_loss
from ganforge.models.srgan import SRDiscriminator
from ganforge.models.translation import TranslationGenerator
from ganforge.objectives.base import Batch, Phase, Stats, TwoPlayerObjective, discriminator_terms
from ganforge.objectives.translation import PerceptualOptions, add_perceptual, inputs_of
from ganforge.options import NonNegativeFloat, NonNegativeInt
from ganforge.registry import register_objective

CONTENT = ("l1", "mse")


def content_loss(kind: str, fake: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    diff = fake.float() - target.float()
    return diff.abs().mean() if kind == "l1" else diff.square().mean()


def upsample_nearest(a: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Inputs shown at the output size, one low-resolution pixel as a block (no smoothing to hide it)."""
    return F.interpolate(a.float(), size=size, mode="nearest")


@dataclass(frozen=True)
class SRGANOptions(PerceptualOptions):
    """``content`` (l1 or mse) loss alone for ``pretrain_steps`` steps, then ``lambda_content`` ·
    content + ``lambda_adv`` · ``loss`` (+ the perceptual term); ``lambda_adv: 0`` is the
    content-only ablation."""

    loss: str = "ns"
    content: str = "l1"
    pretrain_steps: NonNegativeInt = 1000
    lambda_content: NonNegativeFloat = 1e-2
    lambda_adv: NonNegativeFloat = 5e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.content not in CONTENT:
            raise ConfigError(
                f"'objective.content' must be one of {', '.join(CONTENT)}, got {self.content!r}"
            )
        if self.lambda_content == 0 and self.lambda_adv == 0:
            raise ConfigError("'objective.lambda_content' and 'objective.lambda_adv' cannot both be 0")


@register_objective("srgan")
class SRGANObjective(TwoPlayerObjective):
    """SRGAN/ESRGAN: content (L1/MSE) pre-training, then content + adversarial (ragan: ESRGAN)

    Ledig et al. 2017 / Wang et al. 2018, on an ``srgan`` model (model.name: srgan or srgan_tiny).
    """

    Options = SRGANOptions
    g: TranslationGenerator
    d: SRDiscriminator

    def setup(self, options: SRGANOptions) -> None:
        self.loss = get_loss(options.loss)
        self.perceptual = options.feature_loss(self.g.out_shape, self.ctx.device)
        self._pending: torch.Tensor | None = None  # the D phase's G(a), with G's graph

    def phases(self) -> list[Phase]:
        pretrain = Phase("Gpre", trains="g", step=self.pretrain_step)
        if self.options.lambda_adv == 0:  # the L1/MSE-only ablation: SRResNet for the whole run
            return [pretrain]
        start = self.options.pretrain_steps
        return [
            dataclasses.replace(pretrain, stop=start),
            Phase("D", trains="d", step=self.d_step, keep_graph=("g",), start=start),
            Phase("G", trains="g", step=self.g_step, fresh_batch=False, start=start),
        ]

    def pretrain_step(self, batch: Batch) -> Stats:
        a, b = inputs_of(batch, "srgan")
        fake = self.g(a)
        content = content_loss(self.options.content, fake, b)
        out = {"content": content.detach()}
        loss = add_perceptual(self.perceptual, (self.options.lambda_content or 1.0) * content, out, fake, b)
        return {"loss": loss, **out}

    def d_step(self, batch: Batch) -> Stats:
        a, b = inputs_of(batch, "srgan")
        fake = self._pending = self.g(a)
        real_logits = self.d(b).float()
        fake_logits = self.d(fake.detach()).float()
        return discriminator_terms(self.loss, real_logits, fake_logits, versus_mean=True)

    def g_step(self, batch: Batch) -> Stats:
        a, b = inputs_of(batch, "srgan")
        fake, self._pending = self._pending, None
        if fake is None or not fake.requires_grad:
            fake = self.g(a)
        real_logits = None
        if self.loss.needs_real_in_g:
            with torch.no_grad():
                real_logits = self.d(b).float()
        adversarial = self.loss.g_loss(self.d(fake).float(), real_logits)
        content = content_loss(self.options.content, fake, b)
        loss = self.options.lambda_content * content + self.options.lambda_adv * adversarial
        out = {"loss_g": adversarial.detach(), "content": content.detach()}
        loss = add_perceptual(self.perceptual, loss, out, fake, b)
        return {"loss": loss, **out}

    @torch.no_grad()
    def preview(self, g: nn.Module, batch: Batch) -> torch.Tensor:
        """input (nearest-upsampled) | output | target per sample: (N, 3, C, H, W)."""
        a, b = inputs_of(batch, "srgan")
        size = (b.shape[-2], b.shape[-1])
        return torch.stack([upsample_nearest(a, size), g(a).float(), b.float()], dim=1)
