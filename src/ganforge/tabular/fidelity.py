"""``validation_fidelity``: a fast score in [0, 1] of how alike two tables are, for early stopping.

It works on the per-column numbers of ``TableTransformer.encode_columns``/``decode_columns``
(continuous values and discrete slot indices), never on DataFrames, so scoring a few thousand
generated rows takes milliseconds and can run every few epochs. Two halves, averaged:

* **column shapes**: 1 − KS (two-sample Kolmogorov–Smirnov statistic, missing cells ignored) for
  a continuous column, 1 − TVD (total variation distance of the slot frequencies) for a discrete one;
* **column pairs**: for two continuous columns 1 − |ρ_real − ρ_synthetic| / 2 (Pearson ρ on rows
  where both are present); otherwise 1 − TVD of the joint frequencies, continuous columns cut into
  ``n_bins`` quantile bins of the *real* data (missing = one more bin).

The same ideas as the full evaluation (``ganforge.metrics.tabular``), which reports per-column
detail and ML efficacy on DataFrames; this one is only the stopping signal, so it favours speed.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

MAX_PAIR_LEVELS = 20  # discrete slots beyond this share one level in the pair tables


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """sup_x |F_a(x) − F_b(x)| over the finite values of ``a`` and ``b``."""
    a, b = np.sort(a[np.isfinite(a)]), np.sort(b[np.isfinite(b)])
    if len(a) == 0 or len(b) == 0:
        return 0.0 if len(a) == len(b) else 1.0
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def tvd(a: np.ndarray, b: np.ndarray, levels: int) -> float:
    """Total variation distance of two samples of integer levels in [0, levels)."""
    pa = np.bincount(a, minlength=levels) / max(len(a), 1)
    pb = np.bincount(b, minlength=levels) / max(len(b), 1)
    return float(0.5 * np.abs(pa - pb).sum())


def _levels(
    real: np.ndarray, fake: np.ndarray, discrete: bool, n_bins: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Both columns as small integer levels for contingency tables."""
    if discrete:
        top = MAX_PAIR_LEVELS - 1
        return np.minimum(real, top), np.minimum(fake, top), MAX_PAIR_LEVELS
    present = real[np.isfinite(real)]
    edges = (
        np.unique(np.quantile(present, np.linspace(0, 1, n_bins + 1)[1:-1])) if len(present) else np.array([])
    )

    def cut(x: np.ndarray) -> np.ndarray:
        out = np.searchsorted(edges, np.where(np.isfinite(x), x, 0.0), side="right")
        return np.where(np.isfinite(x), out, len(edges) + 1)

    return cut(real), cut(fake), len(edges) + 2


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def validation_fidelity(
    real: list[np.ndarray], fake: list[np.ndarray], discrete: list[bool], n_bins: int = 10
) -> dict[str, float]:
    """``{"shapes", "pairs", "score"}``; ``score`` = mean of the two (shapes alone for one column)."""
    shapes = []
    for r, f, is_discrete in zip(real, fake, discrete, strict=True):
        if is_discrete:
            levels = int(max(r.max(initial=0), f.max(initial=0))) + 1
            shapes.append(1.0 - tvd(r, f, levels))
        else:
            shapes.append(1.0 - ks_statistic(r, f))
    binned = [_levels(r, f, d, n_bins) for r, f, d in zip(real, fake, discrete, strict=True)]
    pairs = []
    for i, j in combinations(range(len(real)), 2):
        if not discrete[i] and not discrete[j]:
            pairs.append(1.0 - abs(_pearson(real[i], real[j]) - _pearson(fake[i], fake[j])) / 2)
            continue
        (ri, fi, li), (rj, fj, lj) = binned[i], binned[j]
        pairs.append(1.0 - tvd(ri * lj + rj, fi * lj + fj, li * lj))
    shape_score = float(np.mean(shapes))
    pair_score = float(np.mean(pairs)) if pairs else shape_score
    return {"shapes": shape_score, "pairs": pair_score, "score": (shape_score + pair_score) / 2}
