"""Inpainting: fill the holes of any image dataset, L1 + adversarial, phases D then G.

    L_G = λ_l1 · (‖(G − x)·m‖₁ / ‖m‖₁ + w_valid · ‖(G − x)·(1 − m)‖₁ / ‖1 − m‖₁) + λ_adv · L_adv(D(x̂, m))

* The L1 term is Yu et al. 2019's pixel-wise reconstruction loss ("Free-Form Image Inpainting with
  Gated Convolution", Sec. 3.4) on the generator's raw output G (before compositing), split by
  region: the hole is what matters, a small weight ``valid_weight`` on the known pixels keeps the
  whole output an image (which also trains the gates and the early layers on every pixel).
* L_adv is any registered adversarial loss (``objective.loss``; the presets use ``hinge``, the
  SN-PatchGAN loss of Yu et al. Sec. 3.3) on the composited image x̂ = x·(1 − m) + G·m, scored by
  the global + local discriminator of Iizuka et al. 2017 (``models/inpaint.py``), which gets the
  mask too. ``lambda_adv: 0`` is the L1-only ablation: the D phase is then skipped entirely.

Masks (``objective.masks``): ``center`` (a centred ``hole``×``hole`` square, default 3/8 of the side:
12 px at 32), ``free_form`` (brush strokes, ``data.degrade.free_form_masks``, seeded per step),
``mixed`` (each sample one or the other with probability ½) or ``data`` (the batch's ``mask`` key,
e.g. from the ``masked`` dataset). The first three are drawn every step from the objective's own
``torch.Generator``, seeded from the run's seed and checkpointed, so a resumed run draws the masks
the uninterrupted one would. The generator's input ``a`` = x with the hole filled with 0 (mid grey
in [-1, 1]) is built here from ``x`` and the mask, so any image dataset (``mnist``, ``faces``,
``folder``) is inpainting data as it is; a batch's own ``a`` is ignored.

Two opt-in aids for small datasets (the digits preset uses both: a 4,000-digit train split is
otherwise memorised): ``augment_rotate``/``augment_scale`` warp each training image about its centre
before its mask is cut (drawn from the same checkpointed stream as the masks), and ``lambda_class``
adds the cross-entropy of G's class head (``model.class_head``) on the batch labels, so G decides
which class the hole hides rather than drawing a blend of the candidates.

Each step generates once, as pix2pix: the D phase makes x̂ with G's graph (``Phase.keep_graph``),
trains D on it detached, and the G phase back-propagates through the same output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.data.degrade import random_affine
from ganforge.data.masked import MASK_MODES, default_hole, draw_masks, masked_input
from ganforge.errors import ConfigError, DataError
from ganforge.losses import get_loss
from ganforge.models.inpaint import GatedInpaintGenerator, GlobalLocalDiscriminator
from ganforge.models.translation import TranslationGenerator
from ganforge.objectives.base import Batch, Phase, Stats, TwoPlayerObjective, discriminator_terms
from ganforge.objectives.translation import PerceptualOptions, add_perceptual
from ganforge.options import NonNegativeFloat
from ganforge.registry import register_objective

PREVIEW_SEED = 0  # free-form masks of the preview grid: fixed, and drawn without touching the RNG


class Completion(NamedTuple):
    """One generator forward on a batch: the (possibly warped) target ``x``, G's input ``a``, the
    ``mask``, G's ``raw`` output (with its graph), the composited ``out`` and the class ``logits``
    (None without a class head)."""

    x: torch.Tensor
    a: torch.Tensor
    mask: torch.Tensor
    raw: torch.Tensor
    out: torch.Tensor
    logits: torch.Tensor | None


@dataclass(frozen=True)
class InpaintOptions(PerceptualOptions):
    """``loss`` · ``lambda_adv`` + ``lambda_l1`` · (hole L1 + ``valid_weight`` · known-pixel L1);
    ``masks``: center, free_form, mixed or data; ``hole``: the centred square's side (default 3/8 of
    the image side); ``perceptual``: an extractor name for a feature loss on the completion (weight
    ``lambda_perceptual``), ``none`` by default; ``lambda_class``: cross-entropy of G's class head
    (``model.class_head``) on the labels; ``augment_rotate`` (degrees) / ``augment_scale``
    (fraction): a random warp of each training image about its centre before the mask is cut (0 = off)."""

    loss: str = "hinge"
    lambda_l1: NonNegativeFloat = 10.0
    lambda_adv: NonNegativeFloat = 1.0
    valid_weight: NonNegativeFloat = 0.1
    masks: str = "mixed"
    hole: int | None = None
    lambda_class: NonNegativeFloat = 0.0
    augment_rotate: NonNegativeFloat = 0.0
    augment_scale: NonNegativeFloat = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.masks not in MASK_MODES:
            raise ConfigError(f"'objective.masks' must be one of {', '.join(MASK_MODES)}, got {self.masks!r}")
        if self.augment_scale >= 1:
            raise ConfigError(f"'objective.augment_scale' must be < 1 (a fraction), got {self.augment_scale}")


@register_objective("inpaint")
class InpaintObjective(TwoPlayerObjective):
    """inpainting: λ·hole-weighted L1 + adversarial loss on a global/local D; masks drawn per step

    Inpainting of any image dataset (module docstring) on an ``inpaint`` model.
    """

    Options = InpaintOptions
    g: TranslationGenerator
    d: GlobalLocalDiscriminator

    def setup(self, options: InpaintOptions) -> None:
        net: GatedInpaintGenerator = self.g.ab  # type: ignore[assignment]
        if options.lambda_class > 0 and net.classifier is None:
            raise ConfigError(
                "'objective.lambda_class' trains G's class head: set model.class_head to aux or condition"
            )
        self.side = int(self.g.in_shape[-1])
        hole = default_hole(self.side) if options.hole is None else options.hole
        if isinstance(hole, bool) or not isinstance(hole, int) or not 0 < hole <= self.side:
            raise ConfigError(
                f"'objective.hole' must be between 1 and the image side {self.side}, got {hole!r}"
            )
        self.net = net
        self.loss = get_loss(options.loss)
        self.hole = hole
        self.perceptual = options.feature_loss(self.g.out_shape, self.ctx.device)
        # Seeded from the run's seed (set just before the objective is built); one stream per rank.
        rank = self.ctx.rank
        self.gen = torch.Generator().manual_seed((torch.initial_seed() + 7_919 * (rank + 1)) % 2**63)
        self._pending: Completion | None = None  # the D phase's forward, reused by the G phase

    def phases(self) -> list[Phase]:
        if self.options.lambda_adv == 0:  # L1 only: nothing reads D, so do not train it
            return [Phase("G", trains="g", step=self.g_step)]
        return [
            Phase("D", trains="d", step=self.d_step, keep_graph=("g",)),
            Phase("G", trains="g", step=self.g_step, fresh_batch=False),
        ]

    # ------------------------------------------------------------------ masks and generation
    def batch_masks(self, batch: Batch) -> torch.Tensor:
        """This step's masks for ``batch``: the batch's own (``data``) or freshly drawn ones."""
        x = batch["x"]
        if x.ndim != 4 or x.shape[-1] != self.side or x.shape[-2] != self.side:
            raise DataError(f"inpainting needs (N, C, {self.side}, {self.side}) images, got {tuple(x.shape)}")
        if self.options.masks == "data":
            if "mask" not in batch:
                raise DataError(
                    "objective.masks: data needs batches with a 'mask' key (data.name: masked);"
                    " or let the objective draw masks (masks: center, free_form or mixed)"
                )
            mask = batch["mask"]
            if mask.shape != (len(x), 1, *x.shape[-2:]):
                raise DataError(f"batch masks must be (N, 1, H, W) like x, got {tuple(mask.shape)}")
            return (mask > 0.5).to(x.dtype)
        return draw_masks(self.options.masks, len(x), self.side, self.hole, gen=self.gen).to(
            x.device, x.dtype
        )

    def _generate(self, batch: Batch) -> Completion:
        mask = self.batch_masks(batch)
        x = batch["x"]
        if self.options.augment_rotate > 0 or self.options.augment_scale > 0:
            x = random_affine(
                x, self.gen, self.options.augment_rotate, self.options.augment_scale, background=None
            )
        a = masked_input(x, mask)
        raw, logits = self.net.predict_with_logits(a, mask)
        return Completion(x, a, mask, raw, self.net.complete(a, mask, raw), logits)

    # ------------------------------------------------------------------ phases
    def d_step(self, batch: Batch) -> Stats:
        self._pending = done = self._generate(batch)
        real_logits = self.d(done.x, done.mask).float()
        fake_logits = self.d(done.out.detach(), done.mask).float()
        return discriminator_terms(self.loss, real_logits, fake_logits)

    def g_step(self, batch: Batch) -> Stats:
        pending, self._pending = self._pending, None
        if pending is None or not pending.raw.requires_grad:
            pending = self._generate(batch)
        x, _, mask, raw, fake, logits = pending
        err = (raw.float() - x.float()).abs()
        m = mask.float().expand_as(err)
        l1_hole = (err * m).sum() / m.sum().clamp_min(1.0)
        l1_valid = (err * (1 - m)).sum() / (1 - m).sum().clamp_min(1.0)
        loss = self.options.lambda_l1 * (l1_hole + self.options.valid_weight * l1_valid)
        stats = {"l1_hole": l1_hole.detach(), "l1_valid": l1_valid.detach()}
        loss = add_perceptual(self.perceptual, loss, stats, fake, x)
        if self.options.lambda_class > 0:
            loss = loss + self.options.lambda_class * self._class_term(batch, logits, stats)
        if self.options.lambda_adv > 0:
            real_logits = None
            if self.loss.needs_real_in_g:
                with torch.no_grad():
                    real_logits = self.d(x, mask).float()
            adversarial = self.loss.g_loss(self.d(fake, mask).float(), real_logits)
            loss = loss + self.options.lambda_adv * adversarial
            stats["loss_g"] = adversarial.detach()
        return {"loss": loss, **stats}

    def _class_term(self, batch: Batch, logits: torch.Tensor, stats: dict[str, torch.Tensor]) -> torch.Tensor:
        """Cross-entropy of G's class head against the batch's labels (logged: ``class_ce``,
        ``class_acc``): the multi-task signal that makes G decide which digit the hole hides."""
        if batch.get("y") is None:
            raise DataError("'objective.lambda_class' needs labelled batches ('y'), e.g. data.name: mnist")
        y = batch["y"].long()
        ce = F.cross_entropy(logits.float(), y)
        stats["class_ce"] = ce.detach()
        stats["class_acc"] = (logits.argmax(dim=1) == y).float().mean()
        return ce

    @torch.no_grad()
    def preview(self, g: nn.Module, batch: Batch) -> torch.Tensor:
        """masked input | output | target per sample: (N, 3, C, H, W), with fixed masks (the batch's
        own for ``data``, else ``masks`` drawn from a fixed seed) so grids are comparable."""
        x = batch["x"].float()
        if self.options.masks == "data" and "mask" in batch:
            mask = (batch["mask"] > 0.5).float()
        else:
            mode = "center" if self.options.masks == "data" else self.options.masks
            mask = draw_masks(mode, len(x), self.side, self.hole, seed=PREVIEW_SEED).to(x.device)
        a = masked_input(x, mask)
        return torch.stack([a, g(a, mask=mask).float(), x], dim=1)

    # The mask stream is training state.
    def state_dict(self) -> dict[str, Any]:
        return {"mask_rng": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "mask_rng" in state:
            self.gen.set_state(state["mask_rng"].cpu())
