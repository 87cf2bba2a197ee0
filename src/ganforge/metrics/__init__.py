"""Evaluation metrics, each a small module with its formula documented."""

from ganforge.metrics.modes import mode_coverage

__all__ = ["mode_coverage"]
