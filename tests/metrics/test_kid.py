"""KID: the vectorised estimator against a naive double loop, and its unbiasedness."""

import numpy as np
import pytest
import torch

from ganforge.errors import EvalError
from ganforge.metrics import kid


def naive_mmd2(x: np.ndarray, y: np.ndarray, degree=3, gamma=None, coef0=1.0) -> float:
    m, d = x.shape
    gamma = 1.0 / d if gamma is None else gamma

    def k(a, b):
        return (gamma * sum(ai * bi for ai, bi in zip(a, b, strict=True)) + coef0) ** degree

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def biased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The V-statistic (diagonal kept), which overestimates MMD² by O(1/m)."""
    g = 1.0 / x.shape[1]
    return float(
        ((g * x @ x.T + 1) ** 3).mean()
        + ((g * y @ y.T + 1) ** 3).mean()
        - 2 * ((g * x @ y.T + 1) ** 3).mean()
    )


def test_vectorised_estimate_equals_naive_double_loop():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(9, 3)), rng.normal(0.5, 1.2, size=(9, 3))
    # One subset holding every row: the estimate is permutation invariant, so it is the full one.
    mean, std = kid(x, y, subsets=1, subset_size=9)
    assert mean == pytest.approx(naive_mmd2(x, y), rel=1e-12)
    assert std == 0.0
    mean, _ = kid(x, y, subsets=1, subset_size=9, degree=2, gamma=0.7, coef0=0.5)
    assert mean == pytest.approx(naive_mmd2(x, y, degree=2, gamma=0.7, coef0=0.5), rel=1e-12)


def test_same_distribution_is_near_zero_and_shift_makes_it_grow():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(600, 16))
    values = [
        kid(real, rng.normal(size=(600, 16)) + s, subsets=20, subset_size=300)[0] for s in (0, 0.25, 0.5, 1)
    ]
    assert abs(values[0]) < 0.1 * values[1]
    assert values == sorted(values)
    assert values[3] > 10 * values[1]


def test_estimator_is_unbiased_where_the_v_statistic_is_not():
    rng = np.random.default_rng(2)
    ours, biased = [], []
    for _ in range(300):
        x, y = rng.normal(size=(20, 4)), rng.normal(size=(20, 4))
        ours.append(kid(x, y, subsets=1, subset_size=20)[0])
        biased.append(biased_mmd2(x, y))
    ours, biased = np.array(ours), np.array(biased)
    standard_error = ours.std() / np.sqrt(len(ours))
    assert abs(ours.mean()) < 3 * standard_error
    assert (ours < 0).mean() > 0.2  # single unbiased estimates go negative
    assert biased.mean() > 10 * standard_error and (biased >= 0).all()


def test_subset_size_is_clipped_to_the_smaller_set():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 5)), rng.normal(size=(25, 5))
    assert kid(x, y, subsets=5, subset_size=10**6) == kid(x, y, subsets=5, subset_size=25)


def test_seed_makes_the_subsets_reproducible():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(100, 5)), rng.normal(size=(100, 5))
    assert kid(x, y, subsets=10, subset_size=50, seed=7) == kid(x, y, subsets=10, subset_size=50, seed=7)
    assert kid(x, y, subsets=10, subset_size=50, seed=7) != kid(x, y, subsets=10, subset_size=50, seed=8)


def test_default_gamma_is_one_over_dim_and_torch_input_agrees():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(40, 8)), rng.normal(size=(40, 8))
    expected = kid(x, y, subsets=3, subset_size=20, gamma=1 / 8)
    assert kid(torch.from_numpy(x).float(), torch.from_numpy(y), subsets=3, subset_size=20) == pytest.approx(
        expected, rel=1e-5
    )


@pytest.mark.parametrize(
    ("real", "fake", "kwargs", "message"),
    [
        (np.zeros((1, 2)), np.zeros((10, 2)), {}, "at least 2 samples"),
        (np.zeros((10, 2)), np.zeros((10, 2)), {"subset_size": 1}, "at least 2 samples"),
        (np.zeros((10, 2)), np.zeros((10, 3)), {}, "same feature dimension"),
        (np.zeros((10, 2)), np.full((10, 2), np.inf), {}, "NaN or infinite"),
        (np.zeros((10, 2)), np.zeros((10, 2)), {"subsets": 0}, "subsets"),
        (np.zeros((10, 2)), np.zeros((10, 2)), {"degree": 1.5}, "degree"),
        (np.zeros((10, 2)), np.zeros((10, 2)), {"gamma": -1.0}, "gamma"),
    ],
)
def test_bad_input_raises_eval_error(real, fake, kwargs, message):
    with pytest.raises(EvalError, match=message):
        kid(real, fake, **kwargs)
