"""Scoring generators the same way everywhere: ``evaluate(run, "fid,kid")``, ``ganforge eval``.

``core`` holds the metric table and the evaluation record; the other modules register metrics:
``mixture`` (2-D mode coverage), ``image`` (FID/KID/IS/P&R/D&C/label accuracy in a feature
extractor's space), ``stacked`` (StackedMNIST's 1,000 modes). ``reference`` caches real features.
"""

from ganforge.evaluation import image, mixture, stacked, translation  # noqa: F401  (they register metrics)
from ganforge.evaluation.core import (
    METRICS,
    EvalContext,
    EvalResult,
    Metric,
    compute,
    dataset_meta,
    default_n,
    evaluate,
    get_metric,
    metrics_help,
    parse_metric_names,
    prepare,
    register_metric,
    resolve_extractor,
    score_samples,
)
from ganforge.evaluation.mixture import mixture_params

__all__ = [
    "METRICS",
    "EvalContext",
    "EvalResult",
    "Metric",
    "compute",
    "dataset_meta",
    "default_n",
    "evaluate",
    "get_metric",
    "metrics_help",
    "mixture_params",
    "parse_metric_names",
    "prepare",
    "register_metric",
    "resolve_extractor",
    "score_samples",
]
