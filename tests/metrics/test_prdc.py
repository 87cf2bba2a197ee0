"""Precision/recall and density/coverage: brute-force references, known geometries, chunk invariance."""

import numpy as np
import pytest
import torch

from ganforge.errors import EvalError
from ganforge.metrics import density_coverage, precision_recall
from ganforge.metrics.prdc import knn_radii

CORNERS = np.array([[10.0, 10.0], [10.0, -10.0], [-10.0, 10.0], [-10.0, -10.0]])


def brute_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The four definitions on full distance matrices, with the k-th neighbour found by sorting."""

    def dists(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    def radii(a):
        d = dists(a, a)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, axis=1)[:, k - 1]

    r_real, r_fake, d = radii(real), radii(fake), dists(real, fake)  # d[i, j] = |real_i - fake_j|
    inside = d <= r_real[:, None]
    return {
        "precision": inside.any(axis=0).mean(),
        "recall": (d <= r_fake[None, :]).any(axis=1).mean(),
        "density": inside.sum() / (k * len(fake)),
        "coverage": inside.any(axis=1).mean(),
    }


def blobs(centers: np.ndarray, per_center: int, rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([c + rng.normal(size=(per_center, 2)) for c in centers])


def test_matches_brute_force_definitions():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(70, 5)), rng.normal(0.3, 1.2, size=(55, 5))
    for k in (1, 3, 5):
        expected = brute_prdc(real, fake, k)
        got = precision_recall(real, fake, k=k) | density_coverage(real, fake, k=k)
        assert got == pytest.approx(expected, abs=1e-12)


def test_knn_radius_excludes_the_point_itself_even_for_duplicates():
    x = torch.tensor([[0.0], [0.0], [1.0], [3.0]], dtype=torch.float64)
    assert knn_radii(x, k=1).tolist() == [0.0, 0.0, 1.0, 2.0]
    assert knn_radii(x, k=2).tolist() == [1.0, 1.0, 1.0, 3.0]


def test_identical_clouds():
    x = np.random.default_rng(1).normal(size=(300, 8))
    assert precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
    # Each point lies in its own ball and in the balls of the k points that count it as a neighbour.
    k = 5
    assert density_coverage(x, x, k=k) == pytest.approx({"density": (k + 1) / k, "coverage": 1.0})


def test_independent_draws_of_one_distribution():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(2000, 4)), rng.normal(size=(2000, 4))
    pr, dc = precision_recall(real, fake), density_coverage(real, fake, k=5)
    assert pr["precision"] > 0.85 and pr["recall"] > 0.85
    # Naeem et al. 2020: E[density] = 1 and E[coverage] = 1 - 2^-k when the distributions match.
    assert dc["density"] == pytest.approx(1.0, abs=0.05)
    assert dc["coverage"] == pytest.approx(1 - 0.5**5, abs=0.02)


def test_far_away_fakes_score_zero():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(200, 3)), rng.normal(size=(200, 3)) + 100.0
    assert precision_recall(real, fake) == {"precision": 0.0, "recall": 0.0}
    assert density_coverage(real, fake) == {"density": 0.0, "coverage": 0.0}


def test_fakes_on_half_the_modes_keep_precision_and_halve_recall():
    rng = np.random.default_rng(4)
    real, fake = blobs(CORNERS, 250, rng), blobs(CORNERS[:2], 250, rng)
    pr, dc = precision_recall(real, fake), density_coverage(real, fake)
    assert pr["precision"] > 0.95
    assert pr["recall"] == pytest.approx(0.5, abs=0.03)
    assert dc["density"] == pytest.approx(1.0, abs=0.1)
    assert dc["coverage"] == pytest.approx(0.5, abs=0.03)


def test_a_real_outlier_inflates_precision_but_barely_density():
    rng = np.random.default_rng(5)
    cloud = rng.normal(size=(200, 2))
    with_outlier = np.concatenate([cloud, [[0.0, 100.0]]])  # its k-NN ball reaches back to the cloud
    fake = np.concatenate([rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + np.array([0.0, 60.0])])
    assert precision_recall(cloud, fake)["precision"] == pytest.approx(0.5, abs=0.05)
    assert precision_recall(with_outlier, fake)["precision"] > 0.95  # far fakes sit in the outlier's ball
    # Density counts balls, so the 100 far fakes each add one ball: 100 / (k·M) = 0.1, not 0.5.
    change = density_coverage(with_outlier, fake)["density"] - density_coverage(cloud, fake)["density"]
    assert change == pytest.approx(0.1, abs=0.03)


@pytest.mark.parametrize("chunk_size", [1, 7, 64])
def test_chunk_size_does_not_change_the_result(chunk_size):
    rng = np.random.default_rng(6)
    real, fake = blobs(CORNERS, 60, rng), blobs(CORNERS[1:], 70, rng)
    assert precision_recall(real, fake, chunk_size=chunk_size) == precision_recall(real, fake)
    assert density_coverage(real, fake, chunk_size=chunk_size) == density_coverage(real, fake)


def test_torch_float32_input_is_accepted():
    x = np.random.default_rng(7).normal(size=(50, 3))
    result = precision_recall(torch.from_numpy(x).float(), torch.from_numpy(x).float())
    assert result == {"precision": 1.0, "recall": 1.0}


@pytest.mark.parametrize(
    ("real", "fake", "kwargs", "message"),
    [
        (np.zeros((3, 2)), np.zeros((10, 2)), {"k": 3}, "at least 4"),
        (np.zeros((10, 2)), np.zeros((3, 2)), {"k": 3}, "at least 4"),
        (np.zeros((10, 2)), np.zeros((10, 3)), {}, "same feature dimension"),
        (np.zeros((10, 2)), np.full((10, 2), np.nan), {}, "NaN or infinite"),
        (np.zeros((10, 2)), np.zeros((10, 2)), {"k": 0}, "k must"),
        (np.zeros((10, 2)), np.zeros((10, 2)), {"chunk_size": 0}, "chunk_size"),
    ],
)
def test_bad_input_raises_eval_error(real, fake, kwargs, message):
    with pytest.raises(EvalError, match=message):
        precision_recall(real, fake, **kwargs)


def test_density_coverage_needs_only_k_plus_one_reals():
    with pytest.raises(EvalError, match="at least 6"):
        density_coverage(np.zeros((5, 2)), np.zeros((10, 2)), k=5)
    real = np.array([[0.0], [10.0], [11.0], [12.0], [13.0], [14.0]])  # 5-NN radii 14, 10, 11, 12, 13, 14
    # The single fake at -5 is 5 from the first real (radius 14) and outside every other ball.
    assert density_coverage(real, [[-5.0]], k=5) == pytest.approx({"density": 1 / 5, "coverage": 1 / 6})
