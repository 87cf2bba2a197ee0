"""Task metrics of image-to-image runs (translation, super-resolution, inpainting, attribute editing).

A translation model has no latent to sample: it is scored on the held-out *test split* of its own
dataset, ``n`` pairs in dataset order, as the restoration literature scores models. The run's data
config with ``split: test`` (top level, or inside ``base_params`` for wrapper datasets such as
``degraded`` and ``masked``) gives the inputs ``a``, the targets ``x``, their labels ``y`` and any
conditions the translator takes; ``EvalContext`` then treats the translations as the "samples" and
the test targets as the "real" set, so FID/KID/precision-recall compare outputs with real held-out
images of the output domain, unchanged.

Conditions the test split does not carry are made by a documented protocol:

* ``mask`` (inpainting): the centred square hole of side ``objective.hole`` (default 3/8 of the
  side: 12 px at 32 px, issue 8's protocol); PSNR and SSIM are then computed inside the hole only.
* ``attr`` (attribute editing): each test image is asked for one of five evenly spaced values from
  the 5th to the 95th percentile of the test split's own attribute (image i gets level i mod 5), so
  requested and measured attributes can be correlated (metric ``attribute``).

Metrics (``ganforge eval RUN --metrics psnr,ssim,identity,cycle,attribute,fid,kid``):

* ``psnr``: PSNR of the pooled MSE over all test pairs (``metrics.image_quality.mean_psnr``), in dB,
  data range 2 ([-1, 1]), over the full frame (or the hole); ``ssim``: mean Gaussian-window SSIM.
* ``identity``: share of outputs the extractor's classifier assigns to the input's label (digit
  identity preserved); ``--extractor mnist-judge`` scores it with the independent classifier.
* ``cycle`` (CycleGAN): L1 and PSNR of F(G(a)) against a.
* ``attribute``: Pearson correlation and mean absolute error between requested and measured
  attribute (the dataset's ``attribute`` measurement, ``data.attributes.ATTRIBUTES``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ganforge.config import Config
from ganforge.errors import EvalError
from ganforge.evaluation.core import EvalContext, Values, register_metric
from ganforge.registry import DATASETS, MODELS

ATTR_LEVELS = 5


def is_translation(cfg: Config) -> bool:
    """Whether the run's model maps input images (its registry entry says ``task="translation"``)."""
    return cfg.model.name in MODELS and MODELS.get(cfg.model.name).meta.get("task") == "translation"


def held_out_params(cfg: Config) -> dict[str, Any]:
    """The run's dataset parameters with the held-out split selected, or an EvalError saying why not."""
    params = dict(cfg.data.params)
    accepted = DATASETS.get(cfg.data.name).parameters()
    if "split" in params or "split" in accepted:
        params["split"] = "test"
    elif isinstance(params.get("base_params"), dict) and "split" in params["base_params"]:
        params["base_params"] = {**params["base_params"], "split": "test"}
    else:
        raise EvalError(
            f"task metrics score a run on its dataset's held-out split, but data '{cfg.data.name}'"
            " (with these parameters) has none: give it a 'split' (or base_params.split) parameter"
        )
    if cfg.data.resolution is not None and "resolution" in accepted:
        params["resolution"] = cfg.data.resolution
    return params


@dataclass
class HeldOutPairs:
    """The first ``n`` test pairs: inputs ``a``, targets ``x``, labels ``y`` (or None), and the
    conditions the translator takes (``mask``, ``attr``), all on the CPU."""

    a: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor | None
    conditions: dict[str, torch.Tensor] = field(default_factory=dict)
    attribute: str | None = None  # the dataset's attribute measurement, for ``attr`` conditions


def load_held_out_pairs(cfg: Config, n: int, conditions: tuple[str, ...]) -> HeldOutPairs:
    """The first ``n`` test pairs with the conditions the translator takes. A plain image dataset
    (inpainting trains on ``mnist``, ``faces``, ``folder`` as they are) has no inputs ``a``: with a
    ``mask`` condition they are its images with the hole filled with 0, as the objective builds them."""
    ds = DATASETS.build(cfg.data.name, **held_out_params(cfg))
    k = min(n, len(ds.x))
    a = ds.extras.get("a")
    pairs = HeldOutPairs(a=ds.x[:k] if a is None else a[:k], x=ds.x[:k], y=None if ds.y is None else ds.y[:k])
    pairs.attribute = DATASETS.get(cfg.data.name).meta.get("attribute")
    for name in conditions:
        given = ds.extras.get(name)
        pairs.conditions[name] = given[:k] if given is not None else _protocol_condition(name, cfg, pairs)
    if a is None:
        if "mask" not in pairs.conditions:
            raise EvalError(f"the test split of '{cfg.data.name}' holds no input images 'a' to translate")
        from ganforge.data.masked import masked_input

        pairs.a = masked_input(pairs.x, pairs.conditions["mask"])
    return pairs


def _protocol_condition(name: str, cfg: Config, pairs: HeldOutPairs) -> torch.Tensor:
    """A condition the test split does not carry, made as the module docstring documents."""
    side = pairs.a.shape[-1]
    if name == "mask":
        from ganforge.data.masked import default_hole, draw_masks

        hole = int(cfg.objective.params.get("hole", default_hole(side)))
        return draw_masks("center", len(pairs.a), side, hole)
    raise EvalError(f"the test split of '{cfg.data.name}' carries no '{name}' for this translator")


def attr_requests(attr: torch.Tensor) -> torch.Tensor:
    """Five evenly spaced levels from the 5th to the 95th percentile of ``attr`` (N, K), image i asking
    for level i mod 5. Percentiles, not the extremes: a few odd measurements (a "1" read as 15 px
    wide) would otherwise ask for values no training image has."""
    lo, hi = torch.quantile(attr.float(), 0.05, dim=0), torch.quantile(attr.float(), 0.95, dim=0)
    levels = lo + (hi - lo) * torch.linspace(0, 1, ATTR_LEVELS)[:, None]
    return levels[torch.arange(len(attr)) % ATTR_LEVELS]


class TranslationSamples:
    """What ``EvalContext`` needs of a translation run: its handle, test pairs and outputs."""

    def __init__(self, ctx: EvalContext) -> None:
        self.handle = ctx.generator()
        conditions = tuple(self.handle.conditions)
        self.pairs = load_held_out_pairs(ctx.config, ctx.n, conditions)
        if "attr" in self.pairs.conditions:
            self.pairs.conditions["attr"] = attr_requests(self.pairs.conditions["attr"])
        self.outputs = self.handle.translate(self.pairs.a, **self.pairs.conditions)


def _translation(ctx: EvalContext) -> TranslationSamples:
    if not ctx.is_translation:
        raise EvalError(
            "this metric scores image-to-image runs on their test split; this run samples a latent"
        )
    return ctx.translation()


def _check_translation(cfg: Config) -> None:
    if not is_translation(cfg):
        raise EvalError(
            "task metrics (psnr, ssim, identity, cycle, attribute) score image-to-image runs;"
            f" model '{cfg.model.name}' samples a latent: use fid, kid, pr, accuracy"
        )


def _region(t: TranslationSamples) -> torch.Tensor | None:
    return t.pairs.conditions.get("mask")


def _targets(t: TranslationSamples, metric: str) -> torch.Tensor:
    if "attr" in t.pairs.conditions:
        raise EvalError(
            f"metric '{metric}' compares outputs with targets, but an attribute-editing run's outputs"
            " have no ground truth at the requested attribute; use attribute and identity"
        )
    return t.pairs.x


@register_metric(
    "psnr",
    keys=("psnr",),
    extractor="raw",
    check=_check_translation,
    higher_is_better=True,
    default_n=1000,
    description="PSNR (dB) of outputs vs test targets, pooled MSE; inside the hole for inpainting",
)
def psnr_metric(ctx: EvalContext) -> Values:
    from ganforge.metrics.image_quality import mean_psnr

    t = _translation(ctx)
    return {"psnr": mean_psnr(t.outputs, _targets(t, "psnr"), mask=_region(t))}


@register_metric(
    "ssim",
    keys=("ssim",),
    extractor="raw",
    check=_check_translation,
    higher_is_better=True,
    default_n=1000,
    description="mean SSIM (Gaussian window, Wang et al. 2004) of outputs vs test targets; in the hole"
    " for inpainting",
)
def ssim_metric(ctx: EvalContext) -> Values:
    from ganforge.metrics.image_quality import ssim

    t = _translation(ctx)
    return {"ssim": float(ssim(t.outputs, _targets(t, "ssim"), mask=_region(t)).mean())}


@register_metric(
    "identity",
    keys=("identity_accuracy",),
    check=_check_translation,
    higher_is_better=True,
    default_n=1000,
    description="share of outputs the extractor's classifier assigns to the input's label (identity kept)",
)
def identity_metric(ctx: EvalContext) -> Values:
    from ganforge.metrics import label_accuracy

    t = _translation(ctx)
    if t.pairs.y is None:
        raise EvalError(f"the test split of '{ctx.config.data.name}' has no labels to check identity against")
    logits = ctx.fake_features().get("logits")
    if logits is None:
        raise EvalError(f"extractor '{ctx.extractor.name}' has no classifier head to check identity with")
    return {"identity_accuracy": label_accuracy(logits, t.pairs.y)}


@register_metric(
    "cycle",
    keys=("cycle_l1", "cycle_psnr"),
    extractor="raw",
    check=_check_translation,
    default_n=1000,
    description="CycleGAN's cycle-reconstruction error: L1 and PSNR of F(G(a)) vs a on the test inputs",
)
def cycle_metric(ctx: EvalContext) -> Values:
    from ganforge.metrics.image_quality import mean_psnr

    t = _translation(ctx)
    if "BtoA" not in t.handle.directions:
        raise EvalError("metric 'cycle' needs a model that translates both ways (CycleGAN)")
    back = t.handle.translate(t.outputs, direction="BtoA")
    return {
        "cycle_l1": float((back - t.pairs.a).abs().mean()),
        "cycle_psnr": mean_psnr(back, t.pairs.a),
    }


def attribute_scores(outputs: torch.Tensor, requested: torch.Tensor, attribute: str) -> Values:
    """Pearson correlation and mean absolute error of the measured (``data.attributes.ATTRIBUTES``)
    against the requested attribute, first attribute column."""
    from ganforge.data.attributes import ATTRIBUTES

    measured = ATTRIBUTES[attribute](outputs).float().reshape(len(outputs), -1)[:, 0]
    want = requested.float().reshape(len(outputs), -1)[:, 0]
    corr = float(np.corrcoef(want.numpy(), measured.numpy())[0, 1])
    return {"attr_corr": corr, "attr_mae": float((measured - want).abs().mean())}


@register_metric(
    "attribute",
    keys=("attr_corr", "attr_mae"),
    extractor="raw",
    check=_check_translation,
    higher_is_better=True,
    default_n=1000,
    description="attribute editing: Pearson correlation and MAE of measured vs requested attribute",
)
def attribute_metric(ctx: EvalContext) -> Values:
    t = _translation(ctx)
    requested = t.pairs.conditions.get("attr")
    if requested is None or t.pairs.attribute is None:
        raise EvalError(
            "metric 'attribute' needs an attribute-editing run on a dataset that names its attribute"
        )
    return attribute_scores(t.outputs, requested, t.pairs.attribute)
