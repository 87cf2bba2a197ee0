"""Sample-quality metrics computed in a feature extractor's space: FID, KID, IS, P/R, D/C, accuracy.

Each wraps a pure function of ``ganforge.metrics`` (where the formulas are documented) with the
protocol that makes numbers comparable: the generator's ``n`` samples against the features of the
run's own training data (cached, ``reference.py``), in the extractor named by ``--extractor`` or
the dataset's default (``mnist-cnn`` for digit data). Precision/recall and density/coverage compare
equal numbers of real and generated samples, as their papers do: the real set is subsampled to
``n`` with a fixed seed when it is larger.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ganforge.config import Config
from ganforge.errors import EvalError
from ganforge.evaluation.core import EvalContext, Values, dataset_meta, register_metric
from ganforge.evaluation.reference import seeded_subset
from ganforge.utils.optional import require


def _check_images(cfg: Config) -> None:
    if dataset_meta(cfg).get("default_extractor") == "raw":  # scored in its own coordinates (toy2d)
        raise EvalError(
            "this metric compares image features; for a toy2d mixture use --metrics modes instead"
        )


def _check_scipy(metric: str, module: str) -> Callable[[Config], None]:
    """Image features, and scipy (the ``eval`` extra) for ``metric``: missing, it is said before any
    sampling, and before training starts when ``train.eval_metrics`` asks for it."""

    def check(cfg: Config) -> None:
        _check_images(cfg)
        require(module, "eval", metric)

    return check


@register_metric(
    "fid",
    keys=("fid",),
    check=_check_scipy("FID", "scipy.linalg"),
    description="Fréchet distance of Gaussians fitted to real and generated features (Heusel et al. 2017)",
)
def fid_metric(ctx: EvalContext) -> Values:
    from ganforge.metrics import fid

    return {"fid": fid(ctx.real_features()["features"], ctx.fake_features()["features"])}


@register_metric(
    "kid",
    keys=("kid", "kid_std"),
    check=_check_images,
    description="kernel inception distance: unbiased cubic-kernel MMD² over subsets (Bińkowski et al. 2018)",
)
def kid_metric(ctx: EvalContext) -> Values:
    from ganforge.metrics import kid

    real, fake = ctx.real_features()["features"], ctx.fake_features()["features"]
    mean, std = kid(real, fake, subset_size=min(1000, len(real), len(fake)), seed=ctx.seed)
    return {"kid": mean, "kid_std": std}


@register_metric(
    "is",
    keys=("is", "is_std"),
    check=_check_scipy("the Inception Score", "scipy.special"),
    higher_is_better=True,
    description="inception score exp(E KL(p(y|x) || p(y))) over 10 splits, from the extractor's classifier",
)
def is_metric(ctx: EvalContext) -> Values:
    from ganforge.metrics import inception_score

    fake = ctx.fake_features()
    if "logits" not in fake:
        raise EvalError(f"extractor '{ctx.extractor.name}' has no classifier head; IS needs class logits")
    mean, std = inception_score(fake["logits"], splits=min(10, len(fake["logits"])))
    return {"is": mean, "is_std": std}


def _register_manifold_metric(
    name: str, keys: tuple[str, str], measure: str, k: int, description: str
) -> None:
    """Register a k-nearest-neighbour manifold metric, ``ganforge.metrics.<measure>(real, fake, k)``.

    Both of them (P/R, D/C) compare equal numbers of real and generated samples, as their papers do,
    so the real features are subsampled to the fakes' count with a fixed seed.
    """

    def compute(ctx: EvalContext) -> Values:
        from ganforge import metrics

        fake = ctx.fake_features()["features"]
        return getattr(metrics, measure)(seeded_subset(ctx.real_features()["features"], len(fake)), fake, k=k)

    compute.__name__ = compute.__qualname__ = f"{name}_metric"
    register_metric(name, keys=keys, check=_check_images, higher_is_better=True, description=description)(
        compute
    )


_register_manifold_metric(
    "pr",
    ("precision", "recall"),
    "precision_recall",
    3,
    "improved precision and recall, k = 3 nearest-neighbour manifolds (Kynkäänniemi et al. 2019)",
)
_register_manifold_metric(
    "dc",
    ("density", "coverage"),
    "density_coverage",
    5,
    "density and coverage, k = 5 nearest neighbours (Naeem et al. 2020)",
)


@register_metric(
    "accuracy",
    keys=("label_accuracy",),
    check=_check_images,
    higher_is_better=True,
    description="share of conditional samples (labels 0..K-1 in turn) the extractor classifies as asked",
)
def accuracy_metric(ctx: EvalContext) -> Values:
    from ganforge.metrics import label_accuracy

    handle = ctx.generator()
    if handle.num_classes == 0:
        raise EvalError("metric 'accuracy' needs a class-conditional generator; this run's is unconditional")
    labels = torch.arange(ctx.n) % handle.num_classes
    x = handle.sample(ctx.n, seed=ctx.seed, labels=labels)
    logits = ctx.extractor.extract(x, device=ctx.device).get("logits")
    if logits is None:
        raise EvalError(f"extractor '{ctx.extractor.name}' has no classifier head to check labels with")
    return {"label_accuracy": label_accuracy(logits, labels)}
