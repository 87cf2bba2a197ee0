"""Task metrics of image-to-image runs (translation, super-resolution, inpainting, attribute editing).

A translation model has no latent to sample: it is scored on the held-out *test split* of its own
dataset, ``n`` pairs in dataset order, as the restoration literature scores models; ``EvalContext``
treats the translations as the "samples" and the test targets as the "real" set, so
FID/KID/precision-recall compare outputs with real held-out images of the output domain, unchanged.

The protocol (test pairs, conditions) is the translation task's: ``tasks/translation.py``.

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

import functools

import numpy as np
import torch

from ganforge.config import Config
from ganforge.errors import EvalError
from ganforge.evaluation.core import EvalContext, Values, register_metric
from ganforge.tasks import task_of
from ganforge.tasks.translation import TranslationSamples, TranslationTask


def _translation(ctx: EvalContext) -> TranslationSamples:
    task = ctx.task
    if ctx.given_samples is not None or not isinstance(task, TranslationTask):
        raise EvalError(
            "this metric scores image-to-image runs on their test split; this run samples a latent"
        )
    return task.samples(ctx)


def _check_translation(cfg: Config) -> None:
    if not isinstance(task_of(cfg), TranslationTask):
        raise EvalError(
            "task metrics (psnr, ssim, identity, cycle, attribute) score image-to-image runs;"
            f" model '{cfg.model.name}' samples a latent: use fid, kid, pr, accuracy"
        )


# What every task metric shares: image-to-image runs only, scored on the first 1000 test pairs
# unless ``--n`` says otherwise.
_task_metric = functools.partial(register_metric, check=_check_translation, default_n=1000)


def _region(t: TranslationSamples) -> torch.Tensor | None:
    return t.pairs.conditions.get("mask")


def _targets(t: TranslationSamples, metric: str) -> torch.Tensor:
    if "attr" in t.pairs.conditions:
        raise EvalError(
            f"metric '{metric}' compares outputs with targets, but an attribute-editing run's outputs"
            " have no ground truth at the requested attribute; use attribute and identity"
        )
    return t.pairs.x


@_task_metric(
    "psnr",
    keys=("psnr",),
    extractor="raw",
    higher_is_better=True,
    description="PSNR (dB) of outputs vs test targets, pooled MSE; inside the hole for inpainting",
)
def psnr_metric(ctx: EvalContext) -> Values:
    from ganforge.metrics.image_quality import mean_psnr

    t = _translation(ctx)
    return {"psnr": mean_psnr(t.outputs, _targets(t, "psnr"), mask=_region(t))}


@_task_metric(
    "ssim",
    keys=("ssim",),
    extractor="raw",
    higher_is_better=True,
    description="mean SSIM (Gaussian window, Wang et al. 2004) of outputs vs test targets; in the hole"
    " for inpainting",
)
def ssim_metric(ctx: EvalContext) -> Values:
    from ganforge.metrics.image_quality import ssim

    t = _translation(ctx)
    return {"ssim": float(ssim(t.outputs, _targets(t, "ssim"), mask=_region(t)).mean())}


@_task_metric(
    "identity",
    keys=("identity_accuracy",),
    higher_is_better=True,
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


@_task_metric(
    "cycle",
    keys=("cycle_l1", "cycle_psnr"),
    extractor="raw",
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


@_task_metric(
    "attribute",
    keys=("attr_corr", "attr_mae"),
    extractor="raw",
    higher_is_better=True,
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
