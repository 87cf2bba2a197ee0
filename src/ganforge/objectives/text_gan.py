"""The matching-aware text-to-image objective: GAN-INT-CLS (Reed et al. 2016, "Generative Adversarial
Text to Image Synthesis", Alg. 1) on the ``gan`` objective's game.

D must tell not only real from fake but matching from mismatched text. Alg. 1 scores three pairs:
s_r = D(x, t) (real image, right text), s_w = D(x, t̂) (real image, wrong text) and s_f = D(G(z, t), t),
and D minimises -log s_r - ½ (log(1 - s_w) + log(1 - s_f)). As losses on logits:

    D phase:  ℓ_D(s_r, s_f) + mismatch_weight · ℓ_D(s_r, s_w)       (the gan objective's D loss twice)
    G phase:  the gan objective's G loss on D(G(z, t), t)

With the default ``mismatch_weight: 1`` and a loss that splits into a real and a fake part (ns,
hinge, lsgan) this is twice Alg. 1's loss (Adam does not see the factor); relativistic losses rank
a real image with its own caption above the same image with another one. The wrong caption of
sample i is sample i-1's (the batch rolled by one): an independent draw of the data, which matches
in all four attributes about once in 600 pairs.

Every stabiliser, augmentation and schedule of the ``gan`` objective applies (``MatchingOptions``
extends ``GANOptions``): the objective is the ``gan`` objective with its D seen through a
``ScoreRecorder``, so the real scores of its D step are reused for the mismatch term (no extra
forward), and its steps wrapped to hand the game the caption embeddings as the conditioning ``y``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.models.text_gan import MatchingDiscriminator, TextGenerator
from ganforge.objectives.base import Batch, Phase, Stats
from ganforge.objectives.gan import AdversarialObjective, GANOptions
from ganforge.options import NonNegativeFloat
from ganforge.registry import register_objective

PREVIEW_SEED = 0


class ScoreRecorder(nn.Module):
    """D as the adversarial objective sees it; every forward that may be trained on (grad enabled)
    also keeps its scores, in order (the D step's real scores first)."""

    def __init__(self, d: nn.Module) -> None:
        super().__init__()
        self.d = d
        self.scores: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.d(x, y)
        if torch.is_grad_enabled():
            self.scores.append(out)
        return out


@dataclass(frozen=True)
class MatchingOptions(GANOptions):
    """``mismatch_weight`` scales the real-image/wrong-text negatives (0: a plain conditional GAN on
    text); every other key is the ``gan`` objective's."""

    mismatch_weight: NonNegativeFloat = 1.0


def conditioned(batch: Batch) -> Batch:
    """The batch as the adversarial game takes it: the caption embeddings as the conditioning ``y``."""
    if "text" not in batch:
        raise ConfigError("objective 'text_gan' needs captioned data (dataset captioned_digits)")
    return {"x": batch["x"], "y": batch["text"]}


@register_objective("text_gan")
class TextGANObjective(AdversarialObjective):
    """text-to-image: gan objective + matching-aware D (GAN-INT-CLS, Reed et al. 2016)

    The ``gan`` objective's phases on (image, caption embedding) pairs, with real images under
    mismatched captions as extra negatives for D (module docstring). Its model is the ``text_gan``
    family (``fits`` reads the annotations below).
    """

    Options = MatchingOptions
    g: TextGenerator
    d: MatchingDiscriminator

    def setup(self, options: MatchingOptions) -> None:
        super().setup(options)
        self.recorder = ScoreRecorder(self.d)
        self.d = self.recorder  # type: ignore[assignment]  (the game sees D through the recorder)

    def networks(self) -> dict[str, nn.Module]:
        return {"g": self.g, "d": self.recorder.d}  # D itself: checkpoint keys as for any model

    def phases(self) -> list[Phase]:
        return self.phase_list(self.matching_d_step, self.text_g_step, self.text_dreg_step)

    def matching_d_step(self, batch: Batch) -> Stats:
        b = conditioned(batch)
        self.recorder.scores.clear()
        out = self.d_step(b)
        real, self.recorder.scores = self.recorder.scores[0].float(), []
        if self.options.mismatch_weight > 0:
            wrong = self.critic(b["x"], b["y"].roll(1, dims=0))
            mismatch = self.loss.d_loss(real, wrong)
            out["loss"] = out["loss"] + self.options.mismatch_weight * mismatch
            out.update(
                loss_mismatch=mismatch.detach(),
                d_wrong=wrong.detach().mean(),
                match_acc=(real > wrong).float().mean().detach(),
            )
        self.recorder.scores = []
        return out

    def text_g_step(self, batch: Batch) -> Stats:
        return self.g_step(conditioned(batch))

    def text_dreg_step(self, batch: Batch) -> Stats:
        return self.dreg_step(conditioned(batch))

    def preview(self, g: nn.Module, batch: Batch) -> torch.Tensor | None:
        """Panels (real scene | sample from its caption) of the fixed batch, fixed-seed latents."""
        x, text = batch["x"], batch["text"]
        z = g.sample_z(len(x), generator=torch.Generator().manual_seed(PREVIEW_SEED)).to(x.device)
        return torch.stack([x.float(), g(z, text).float()], dim=1)
