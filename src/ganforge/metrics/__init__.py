"""Evaluation metrics, each a small module with its formula documented."""

from ganforge.metrics.classifier import class_histogram_kl, label_accuracy
from ganforge.metrics.fid import feature_stats, fid, frechet_distance
from ganforge.metrics.inception_score import inception_score
from ganforge.metrics.kid import kid
from ganforge.metrics.modes import mode_coverage
from ganforge.metrics.prdc import density_coverage, precision_recall

__all__ = [
    "class_histogram_kl",
    "density_coverage",
    "feature_stats",
    "fid",
    "frechet_distance",
    "inception_score",
    "kid",
    "label_accuracy",
    "mode_coverage",
    "precision_recall",
]
