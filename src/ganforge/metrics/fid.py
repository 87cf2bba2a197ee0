"""Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule
Converge to a Local Nash Equilibrium").

Both feature sets are summarised by a Gaussian, N(μ_r, Σ_r) and N(μ_g, Σ_g), and FID is the squared
2-Wasserstein (Fréchet) distance between the two Gaussians:

    FID = ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^{1/2})

The statistics are the sample mean and the unbiased (ddof=1) covariance, as in the reference
TensorFlow code and its PyTorch ports, so that our numbers are comparable with published ones.

This module also holds :func:`as_features`, the input check that every metric in this package shares.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ganforge.errors import EvalError
from ganforge.utils.optional import require

ArrayLike = np.ndarray | torch.Tensor

SQRTM_EPS = 1e-6
"""Ridge added to both covariances when Σ_r Σ_g is too singular for a clean square root."""

MAX_IMAG = 1e-3
"""Largest imaginary part (on the diagonal of the square root) we accept as rounding noise."""


def to_numpy(x: ArrayLike | list, name: str) -> np.ndarray:
    """``x`` as a float64 numpy array; torch tensors are detached and moved to the CPU first."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EvalError(f"{name} must be a numeric array, got {type(x).__name__}.") from exc


def as_features(x: ArrayLike, name: str, min_rows: int = 1) -> np.ndarray:
    """Validate a feature matrix (N, D) and return it as float64.

    Every metric funnels its input through here so that a wrong shape or a NaN from a diverged
    generator surfaces as one clear :class:`EvalError` instead of a silent NaN score or a cryptic
    linear-algebra failure deep inside scipy.
    """
    arr = to_numpy(x, name)
    if arr.ndim != 2:
        raise EvalError(f"{name} must be a 2-D array (N, D), got shape {tuple(arr.shape)}.")
    if arr.shape[1] == 0:
        raise EvalError(f"{name} has no feature columns (shape {tuple(arr.shape)}).")
    if arr.shape[0] < min_rows:
        raise EvalError(f"{name} has {arr.shape[0]} rows but this metric needs at least {min_rows}.")
    if not np.isfinite(arr).all():
        raise EvalError(f"{name} contains NaN or infinite values.")
    return arr


def check_same_dim(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise unless both feature matrices have the same number of columns."""
    if a.shape[1] != b.shape[1]:
        raise EvalError(
            f"{name_a} and {name_b} must have the same feature dimension, got {a.shape[1]} and {b.shape[1]}."
        )


def feature_stats(feats: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64.

    float64 because the covariance of 2048-d Inception features accumulated in float32 loses enough
    precision to move FID in the first decimal; ddof=1 to match the reference implementations.
    """
    x = as_features(feats, "feats", min_rows=2)
    mu = x.mean(axis=0)
    centred = x - mu
    sigma = centred.T @ centred / (len(x) - 1)
    return mu, sigma


def _sqrtm_trace(product: np.ndarray) -> tuple[float, float]:
    """(Tr of the principal square root of ``product``, largest |imaginary part| on its diagonal).

    scipy (the ``eval`` extra) is imported here, not with the module: KID, precision/recall and the
    other metrics sharing this module's helpers need only numpy."""
    linalg = require("scipy.linalg", "eval", "FID")
    with warnings.catch_warnings():  # singular products are expected (dead ReLU features, n < D)
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(product)
    if not np.isfinite(root).all():
        return float("nan"), float("inf")
    diag = np.diagonal(root)
    imag = float(np.abs(diag.imag).max()) if np.iscomplexobj(diag) else 0.0
    return float(diag.real.sum()), imag


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    The square root is scipy's Schur-based ``sqrtm`` of Σ1 Σ2, the route of the reference FID code:
    an eigendecomposition of the symmetric √Σ1 Σ2 √Σ1 would be as exact, but reusing the reference
    algorithm keeps our scores comparable with published numbers to the last digits. Σ1 Σ2 is
    singular whenever there are fewer samples than feature dimensions; when its root comes back
    non-finite, ``SQRTM_EPS·I`` is added to both covariances and the root retried, as in the
    reference. We also retry when the imaginary part is large (the reference raises at once), since
    the ridge cures that too when it comes from near-singularity. Rounding leaves tiny imaginary
    parts, which are dropped; one still large after the retry means the covariances are not
    positive semi-definite, and raises :class:`EvalError`.
    """
    m1, m2 = to_numpy(mu1, "mu1"), to_numpy(mu2, "mu2")
    s1, s2 = to_numpy(sigma1, "sigma1"), to_numpy(sigma2, "sigma2")
    if m1.ndim != 1 or m1.shape != m2.shape:
        raise EvalError(f"mu1 and mu2 must be vectors of one length, got {m1.shape} and {m2.shape}.")
    d = m1.shape[0]
    if s1.shape != (d, d) or s2.shape != (d, d):
        raise EvalError(f"sigma1 and sigma2 must be ({d}, {d}), got {s1.shape} and {s2.shape}.")
    if not all(np.isfinite(a).all() for a in (m1, m2, s1, s2)):
        raise EvalError("The Gaussian statistics contain NaN or infinite values.")

    tr_covmean, imag = _sqrtm_trace(s1 @ s2)
    if not np.isfinite(tr_covmean) or imag > MAX_IMAG:
        ridge = SQRTM_EPS * np.eye(d)
        tr_covmean, imag = _sqrtm_trace((s1 + ridge) @ (s2 + ridge))
    if not np.isfinite(tr_covmean) or imag > MAX_IMAG:
        raise EvalError(
            f"The matrix square root in FID is not real (imaginary part {imag:.3g}); "
            "the covariances are probably not positive semi-definite."
        )
    diff = m1 - m2
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    # The distance is a square, so only rounding can take it below zero (e.g. a set against itself).
    return max(value, 0.0)


def fid(real_feats: ArrayLike, fake_feats: ArrayLike) -> float:
    """FID between real and generated features, each (N, D) from the same extractor."""
    real = as_features(real_feats, "real_feats", min_rows=2)
    fake = as_features(fake_feats, "fake_feats", min_rows=2)
    check_same_dim(real, fake, "real_feats", "fake_feats")
    return frechet_distance(*feature_stats(real), *feature_stats(fake))
