"""Mode-coverage metric: checked on samples whose answer is known by construction."""

import math

import numpy as np
import pytest

from ganforge.data import mixture_spec
from ganforge.metrics import mode_coverage


def draw(centers: np.ndarray, std: float, per_mode: list[int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    parts = [c + rng.normal(0, std, size=(m, 2)) for c, m in zip(centers, per_mode, strict=True)]
    return np.concatenate(parts)


def test_perfect_samples_cover_every_mode_with_zero_kl():
    centers, std = mixture_spec("grid", None, None, 1.0)
    result = mode_coverage(draw(centers, std, [100] * 25), centers, std)
    assert result["modes_covered"] == 25 and result["modes_total"] == 25
    # In 2-D, P(|x - mu| <= 3 std) = 1 - exp(-4.5) = 0.989.
    assert result["hq_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    assert result["reverse_kl"] < 0.005


def test_collapse_to_one_mode_gives_log_k():
    centers, std = mixture_spec("ring", None, None, 1.0)
    result = mode_coverage(draw(centers, std, [2500, 0, 0, 0, 0, 0, 0, 0]), centers, std)
    assert result["modes_covered"] == 1
    assert result["reverse_kl"] == pytest.approx(math.log(8))


def test_mode_below_twenty_percent_of_its_share_is_not_covered():
    centers, std = mixture_spec("ring", None, None, 1.0)
    share = 2500 / 8
    per_mode = [int(0.19 * share), *[int((2500 - int(0.19 * share)) / 7)] * 7]
    result = mode_coverage(draw(centers, std, per_mode), centers, std)
    assert result["modes_covered"] == 7


def test_off_mode_samples_lower_quality_but_not_coverage():
    centers, std = mixture_spec("grid", None, None, 1.0)
    good = draw(centers, std, [80] * 25)
    junk = np.full((500, 2), 1.0)  # exactly between modes: 1 away from the nearest, far beyond 3 std
    result = mode_coverage(np.concatenate([good, junk]), centers, std)
    assert result["modes_covered"] == 25
    assert result["hq_fraction"] == pytest.approx(2000 / 2500, abs=0.01)


def test_nan_samples_count_as_low_quality():
    centers, std = mixture_spec("ring", None, None, 1.0)
    x = draw(centers, std, [300] * 8)
    x[:100] = np.nan
    result = mode_coverage(x, centers, std)
    assert result["hq_fraction"] == pytest.approx((2400 - 100) / 2400, abs=0.01)
