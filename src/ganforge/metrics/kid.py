"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs", Sec. 4 and App. D).

KID is the squared Maximum Mean Discrepancy between real features X and generated features Y under
the polynomial kernel k(x, y) = (γ x·y + c₀)^d (by default γ = 1/D, c₀ = 1, d = 3), estimated
without bias on subsets of m real and m generated samples:

    MMD²_u = 1/(m(m−1)) Σ_{i≠j} [k(x_i, x_j) + k(y_i, y_j)]  −  2/m² Σ_{i,j} k(x_i, y_j)

Unlike FID, the estimator is unbiased, so its expectation does not depend on the sample count and
is exactly 0 when both sets come from one distribution (single estimates can therefore be
negative). We report the mean and the standard deviation (ddof=0) over ``subsets`` random subsets.
"""

from __future__ import annotations

import numpy as np

from ganforge.errors import EvalError
from ganforge.metrics.fid import ArrayLike, as_features, check_same_dim


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int, gamma: float, coef0: float) -> float:
    """One unbiased MMD² estimate for equally sized x, y (m, D): the formula in the module docstring."""
    m = len(x)
    k_xx = (gamma * (x @ x.T) + coef0) ** degree
    k_yy = (gamma * (y @ y.T) + coef0) ** degree
    k_xy = (gamma * (x @ y.T) + coef0) ** degree
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.mean())


def kid(
    real: ArrayLike,
    fake: ArrayLike,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 0,
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD² between real and fake features (N, D) over random subsets.

    Subsets keep the cost at ``subsets · m²·D`` instead of N²·D and give a spread for free. Each
    subset draws ``subset_size`` rows without replacement from each set (clipped to the smaller set,
    since an unbiased estimate needs distinct samples); ``seed`` makes the draw reproducible.
    """
    x = as_features(real, "real")
    y = as_features(fake, "fake")
    check_same_dim(x, y, "real", "fake")
    if subsets < 1:
        raise EvalError(f"subsets must be at least 1, got {subsets}.")
    if int(degree) != degree or degree < 1:
        raise EvalError(f"degree must be a positive integer, got {degree}.")
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise EvalError(
            f"KID needs subsets of at least 2 samples, got {m} "
            f"(subset_size={subset_size}, {len(x)} real, {len(y)} fake)."
        )
    gamma = 1.0 / x.shape[1] if gamma is None else float(gamma)
    if gamma <= 0:
        raise EvalError(f"gamma must be positive, got {gamma}.")
    rng = np.random.default_rng(seed)
    estimates = np.array(
        [
            _mmd2_unbiased(
                x[rng.choice(len(x), m, replace=False)],
                y[rng.choice(len(y), m, replace=False)],
                int(degree),
                gamma,
                coef0,
            )
            for _ in range(subsets)
        ]
    )
    return float(estimates.mean()), float(estimates.std())
