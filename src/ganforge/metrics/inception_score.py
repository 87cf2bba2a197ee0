"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs", Sec. 4).

For class posteriors p(y|x) of generated images under a classifier (Inception-v3 by convention):

    IS = exp( E_x KL( p(y|x) ‖ p(y) ) ),   p(y) = E_x p(y|x)

It is high when each image is classified confidently (low-entropy p(y|x)) and the classes are used
evenly (high-entropy p(y)); it ranges from 1 (every image gets the same posterior) to K, the number
of classes (confident and perfectly balanced). Following the original protocol the samples are cut
into ``splits`` consecutive parts, the score is computed on each, and the mean and std (ddof=0)
over parts are reported.
"""

from __future__ import annotations

import numpy as np

from ganforge.errors import EvalError
from ganforge.metrics.fid import ArrayLike, as_features
from ganforge.utils.optional import require

FEATURE = "the Inception Score"


def _score(log_p_yx: np.ndarray) -> float:
    """exp(mean KL(p(y|x) ‖ p(y))) for one split of log-posteriors (n, K)."""
    log_p_y = require("scipy.special", "eval", FEATURE).logsumexp(log_p_yx, axis=0) - np.log(len(log_p_yx))
    kl = (np.exp(log_p_yx) * (log_p_yx - log_p_y)).sum(axis=1)
    return float(np.exp(kl.mean()))


def inception_score(logits: ArrayLike, splits: int = 10) -> tuple[float, float]:
    """(mean, std) of the Inception Score of classifier logits (N, K) over ``splits`` parts.

    Takes logits rather than probabilities so the log-posteriors come from ``log_softmax`` in
    float64: computing ``log(softmax(·))`` instead gives ``log 0 = -inf`` (and NaN scores) for the
    very confident predictions a good generator produces.
    """
    if int(splits) != splits or splits < 1:
        raise EvalError(f"splits must be a positive integer, got {splits}.")
    z = as_features(logits, "logits")
    if len(z) < splits:
        raise EvalError(f"Inception Score needs at least {splits} samples for {splits} splits, got {len(z)}.")
    log_p = require("scipy.special", "eval", FEATURE).log_softmax(z, axis=1)
    scores = np.array([_score(part) for part in np.array_split(log_p, int(splits))])
    return float(scores.mean()), float(scores.std())
