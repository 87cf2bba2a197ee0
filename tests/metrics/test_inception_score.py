"""Inception Score: its two extremes (K and 1) and an independent probability-space computation."""

import numpy as np
import pytest
import torch

from ganforge.errors import EvalError
from ganforge.metrics import inception_score


def confident_logits(labels: np.ndarray, num_classes: int, scale: float = 50.0) -> np.ndarray:
    return scale * np.eye(num_classes)[labels]


def direct_is(logits: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) ‖ p(y))) straight from the definition, in probability space."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p_y = p.mean(axis=0)
    return float(np.exp(np.mean(np.sum(p * np.log(p / p_y), axis=1))))


def test_confident_and_balanced_predictions_score_k():
    k = 10
    logits = confident_logits(np.arange(1000) % k, k)  # every split sees each class equally often
    mean, std = inception_score(logits, splits=10)
    assert mean == pytest.approx(k, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_extreme_logits_stay_finite():
    mean, _ = inception_score(confident_logits(np.arange(400) % 4, 4, scale=1e4), splits=4)
    assert mean == pytest.approx(4.0, rel=1e-12)


def test_identical_predictions_score_one():
    row = np.random.default_rng(0).normal(size=(1, 7))
    mean, std = inception_score(np.repeat(row, 100, axis=0), splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_confident_predictions_over_half_the_classes_score_half_k():
    mean, _ = inception_score(confident_logits(np.arange(600) % 3, 6), splits=2)
    assert mean == pytest.approx(3.0, rel=1e-9)


def test_splits_match_the_definition_computed_per_part():
    logits = np.random.default_rng(1).normal(0, 3, size=(120, 5))
    parts = [direct_is(logits[i * 30 : (i + 1) * 30]) for i in range(4)]
    mean, std = inception_score(torch.tensor(logits, dtype=torch.float32), splits=4)
    assert mean == pytest.approx(np.mean(parts), rel=1e-5)
    assert std == pytest.approx(np.std(parts), rel=1e-4)
    assert inception_score(logits, splits=1)[0] == pytest.approx(direct_is(logits), rel=1e-12)


def test_adding_a_constant_to_a_row_of_logits_changes_nothing():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(50, 4))
    shifted = logits + rng.normal(0, 100, size=(50, 1))
    assert inception_score(shifted, splits=5) == pytest.approx(inception_score(logits, splits=5), rel=1e-9)


@pytest.mark.parametrize(
    ("logits", "splits", "message"),
    [
        (np.zeros((5, 3)), 10, "at least 10 samples"),
        (np.zeros((5, 3)), 0, "splits"),
        (np.zeros(5), 1, "2-D"),
        (np.full((5, 3), np.nan), 1, "NaN or infinite"),
    ],
)
def test_bad_input_raises_eval_error(logits, splits, message):
    with pytest.raises(EvalError, match=message):
        inception_score(logits, splits=splits)
