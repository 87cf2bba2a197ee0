"""Metrics read off a pretrained classifier's predictions on generated samples.

- ``label_accuracy``: for a class-conditional generator, the fraction of samples G(z, c) that the
  classifier assigns to c (the "classification accuracy" of Odena et al. 2017, AC-GAN, and of
  conditional-GAN evaluations since): does the generator obey its label?
- ``class_histogram_kl``: KL(q ‖ uniform) = Σ_c q_c log(K q_c), where q is the histogram of predicted
  classes over K classes. It is 0 when the classes are used evenly and log K when every sample falls
  in one class; with StackedMNIST's 1,000 digit triples it is the "reverse KL" reported beside the
  mode count (Metz et al. 2017, Unrolled GANs; Srivastava et al. 2017, VEEGAN).
"""

from __future__ import annotations

import numpy as np

from ganforge.errors import EvalError
from ganforge.metrics.fid import ArrayLike, as_features, to_numpy


def _as_labels(x: ArrayLike, name: str, num_classes: int) -> np.ndarray:
    """Validate a 1-D array of class indices in [0, num_classes) and return it as int64."""
    arr = to_numpy(x, name)
    if arr.ndim != 1 or len(arr) == 0:
        raise EvalError(f"{name} must be a non-empty 1-D array of class indices, got shape {arr.shape}.")
    if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
        raise EvalError(f"{name} must hold integer class indices.")
    if arr.min() < 0 or arr.max() >= num_classes:
        raise EvalError(
            f"{name} must lie in [0, {num_classes}), got values from {arr.min():g} to {arr.max():g}."
        )
    return arr.astype(np.int64)


def label_accuracy(logits: ArrayLike, labels: ArrayLike) -> float:
    """Fraction of samples whose arg-max class in ``logits`` (N, C) equals the requested ``labels`` (N,).

    Logits, probabilities and log-probabilities all share an arg-max, so any of them may be passed.
    """
    z = as_features(logits, "logits")
    y = _as_labels(labels, "labels", z.shape[1])
    if len(y) != len(z):
        raise EvalError(f"logits has {len(z)} rows but labels has {len(y)} entries.")
    return float((z.argmax(axis=1) == y).mean())


def class_histogram_kl(predicted: ArrayLike, num_classes: int) -> float:
    """KL divergence of the histogram of ``predicted`` class indices (N,) to uniform over ``num_classes``.

    Uses the natural log; empty classes contribute 0 (q log q → 0), which is what makes a collapsed
    generator score log K rather than infinity.
    """
    if int(num_classes) != num_classes or num_classes < 1:
        raise EvalError(f"num_classes must be a positive integer, got {num_classes}.")
    q = np.bincount(_as_labels(predicted, "predicted", int(num_classes)), minlength=int(num_classes))
    q = q / q.sum()
    nz = q > 0
    return float((q[nz] * np.log(q[nz] * num_classes)).sum())
