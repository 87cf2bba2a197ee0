"""Classifier-based metrics: label accuracy and the KL of the class histogram to uniform."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from ganforge.errors import EvalError
from ganforge.metrics import class_histogram_kl, label_accuracy


def test_label_accuracy_counts_argmax_hits():
    labels = np.arange(10) % 4
    predicted = labels.copy()
    predicted[[1, 4, 7]] = (predicted[[1, 4, 7]] + 1) % 4
    logits = 5.0 * np.eye(4)[predicted] + np.random.default_rng(0).normal(0, 0.1, size=(10, 4))
    assert label_accuracy(logits, labels) == pytest.approx(0.7)
    # Probabilities share the arg-max, and torch tensors are accepted.
    probs = torch.softmax(torch.from_numpy(logits), dim=1)
    assert label_accuracy(probs, torch.from_numpy(labels)) == pytest.approx(0.7)


def test_kl_is_zero_for_balanced_and_log_k_for_collapsed_predictions():
    assert class_histogram_kl(np.arange(1000) % 10, 10) == pytest.approx(0.0, abs=1e-12)
    assert class_histogram_kl(np.full(50, 3), 10) == pytest.approx(math.log(10))


def test_kl_matches_scipy_on_an_uneven_histogram():
    predicted = np.random.default_rng(1).choice(6, size=500, p=[0.4, 0.3, 0.2, 0.1, 0.0, 0.0])
    q = np.bincount(predicted, minlength=8) / 500
    expected = entropy(q, np.full(8, 1 / 8))
    assert class_histogram_kl(torch.from_numpy(predicted), 8) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("logits", "labels", "message"),
    [
        (np.zeros((4, 3)), np.array([0, 1, 2, 3]), r"\[0, 3\)"),
        (np.zeros((4, 3)), np.array([0, 1, 2]), "4 rows but labels has 3"),
        (np.zeros((4, 3)), np.array([0, 1, 0.5, 2]), "integer"),
        (np.zeros((4, 3)), np.zeros((4, 1)), "1-D"),
        (np.zeros(4), np.zeros(4), "2-D"),
    ],
)
def test_label_accuracy_rejects_bad_input(logits, labels, message):
    with pytest.raises(EvalError, match=message):
        label_accuracy(logits, labels)


@pytest.mark.parametrize(
    ("predicted", "num_classes", "message"),
    [
        (np.array([], dtype=np.int64), 4, "non-empty"),
        (np.array([0, 4]), 4, r"\[0, 4\)"),
        (np.array([-1, 0]), 4, r"\[0, 4\)"),
        (np.array([0, 1]), 0, "num_classes"),
        (np.array([0.0, np.nan]), 4, "integer"),
    ],
)
def test_class_histogram_kl_rejects_bad_input(predicted, num_classes, message):
    with pytest.raises(EvalError, match=message):
        class_histogram_kl(predicted, num_classes)
