"""FID: checked against closed forms and an independent eigen-based Fréchet distance."""

import numpy as np
import pytest
import scipy.linalg
import torch

from ganforge.errors import EvalError
from ganforge.metrics import feature_stats, fid, frechet_distance


def random_spd(d: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def eigen_frechet(mu1, s1, mu2, s2) -> float:
    """Tr((S1 S2)^½) = Tr((√S1 S2 √S1)^½), a symmetric PSD matrix, so eigvalsh is exact and real."""
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root1 @ s2 @ root1)
    tr_covmean = np.sqrt(np.clip(inner, 0, None)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def test_diagonal_gaussians_match_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    v1, v2 = rng.uniform(0.1, 3, size=6), rng.uniform(0.1, 3, size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2))
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-10)


def test_non_commuting_covariances_match_eigen_route():
    rng = np.random.default_rng(1)
    s1, s2 = random_spd(8, rng), random_spd(8, rng)
    assert not np.allclose(s1 @ s2, s2 @ s1)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(eigen_frechet(mu1, s1, mu2, s2), rel=1e-9)


def test_feature_stats_are_mean_and_unbiased_covariance():
    x = np.random.default_rng(2).normal(size=(50, 4)).astype(np.float32)
    mu, sigma = feature_stats(x)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False, ddof=1), rtol=1e-10)


def test_samples_from_known_gaussians_approach_the_population_value():
    rng = np.random.default_rng(3)
    real = rng.normal(0.0, 1.0, size=(20000, 3))
    fake = rng.normal(1.0, 2.0, size=(20000, 3))
    # ‖μ1 − μ2‖² + Σ (1 + 4 − 2·2) = 3 + 3
    assert fid(real, fake) == pytest.approx(6.0, rel=0.03)


def test_set_against_itself_is_zero_and_order_does_not_matter():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(200, 16)), rng.normal(0.3, 1.0, size=(150, 16))
    assert fid(x, x) == pytest.approx(0.0, abs=1e-8)
    assert fid(x[rng.permutation(len(x))], y[rng.permutation(len(y))]) == pytest.approx(fid(x, y), rel=1e-10)
    assert fid(x + 5.0, y + 5.0) == pytest.approx(fid(x, y), rel=1e-8)


def test_fewer_samples_than_dims_gives_a_finite_answer():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(20, 64)), rng.normal(0.5, 1.0, size=(25, 64))
    value = fid(x, y)
    assert np.isfinite(value)
    expected = eigen_frechet(*feature_stats(x), *feature_stats(y))
    assert value == pytest.approx(expected, rel=1e-6)


def test_failed_square_root_is_retried_with_a_ridge(monkeypatch):
    real_sqrtm, calls = scipy.linalg.sqrtm, []

    def flaky_sqrtm(a):
        calls.append(a)
        return np.full_like(a, np.nan) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(scipy.linalg, "sqrtm", flaky_sqrtm)
    rng = np.random.default_rng(6)
    s1, s2 = random_spd(4, rng), random_spd(4, rng)
    mu = np.zeros(4)
    value = frechet_distance(mu, s1, mu, s2)
    assert len(calls) == 2
    np.testing.assert_allclose(calls[1], (s1 + 1e-6 * np.eye(4)) @ (s2 + 1e-6 * np.eye(4)))
    assert value == pytest.approx(eigen_frechet(mu, s1, mu, s2), rel=1e-5)


def test_torch_and_numpy_inputs_agree():
    x = np.random.default_rng(7).normal(size=(40, 5))
    y = x[::-1] * 1.5 + 0.2
    assert fid(torch.tensor(x, dtype=torch.float64), torch.tensor(y.copy())) == pytest.approx(fid(x, y))


def test_non_psd_covariance_raises():
    with pytest.raises(EvalError, match="not positive semi-definite"):
        frechet_distance(np.zeros(3), -np.eye(3), np.zeros(3), np.eye(3))


@pytest.mark.parametrize(
    ("real", "fake", "message"),
    [
        (np.zeros(10), np.zeros((10, 2)), "2-D"),
        (np.zeros((10, 3)), np.zeros((10, 2)), "same feature dimension"),
        (np.zeros((1, 2)), np.zeros((10, 2)), "at least 2"),
        (np.full((10, 2), np.nan), np.zeros((10, 2)), "NaN or infinite"),
        (np.array([["a", "b"]]), np.zeros((10, 2)), "numeric"),
    ],
)
def test_bad_input_raises_eval_error(real, fake, message):
    with pytest.raises(EvalError, match=message):
        fid(real, fake)


def test_mismatched_statistics_raise():
    with pytest.raises(EvalError, match="must be"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))
