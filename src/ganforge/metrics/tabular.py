"""Synthetic-table evaluation: fidelity (column shapes, column pair trends), utility (ML efficacy) and
privacy (distance to closest record). Definitions follow SDMetrics' quality report and the DCR of
Zhao et al. 2021 ("CTAB-GAN"); the code is ours. Every score lies in [0, 1], 1 = indistinguishable.

**Column shapes** (one score per column, real R vs synthetic S):

- continuous: 1 − KS, with KS = sup_x |F_R(x) − F_S(x)| the two-sample Kolmogorov–Smirnov statistic
  of the empirical CDFs (missing cells ignored; a synthetic column with no values scores 0);
- discrete: 1 − TVD, with TVD = ½ Σ_c |p_R(c) − p_S(c)| over the union of categories (a missing
  cell is a category of its own, so a generator that drops or invents missingness pays for it).

**Column pair trends** (one score per pair of columns):

- two continuous: correlation similarity 1 − |ρ_R − ρ_S| / 2 with ρ the *Pearson* coefficient on
  the rows where both cells are present (ρ of a constant column is undefined and taken as 0);
- two discrete: contingency similarity 1 − ½ Σ_{a,b} |p_R(a, b) − p_S(a, b)|, the TVD of the two
  normalised contingency tables;
- mixed: the continuous column is cut into ``N_BINS`` quantile bins *of the real data* (so each bin
  holds ~1/N_BINS of the real rows; synthetic values beyond the real range fall into the end bins),
  then contingency similarity as above. Quantile bins keep every bin populated for skewed columns.

``quality`` = mean(mean column shape, mean pair trend), as SDMetrics' overall quality score (a
one-column table has no pairs: quality is then its column-shape score).

**ML efficacy** (train on synthetic, test on real; Esteban et al. 2017's TSTR): a seeded random
forest is fit on the synthetic rows and, as the reference, on the real rows; both are scored on the
real holdout. Classification (discrete target) reports F1-macro (the headline) and accuracy;
regression reports R². ``ratio`` = synthetic / real headline score (None when the real score is ≤ 0,
where a ratio means nothing). Features: continuous as floats, discrete as ordinal codes of the
categories seen anywhere; missing cells stay NaN (scikit-learn's forests route them).

**DCR** (distance to closest record): rows are encoded as standardised continuous columns (the real
data's mean/std; missing → 0, the mean) plus one-hot discrete columns, and for every synthetic row
the Euclidean distance to its nearest *real training* row is found; the same for every holdout row
as the baseline a fresh real sample gives. A synthetic set that copies its training rows has DCRs
near 0, below the holdout's. Reported: medians and 5th percentiles, ``share_closer`` = the share of
synthetic rows with DCR ≤ the holdout's 5th percentile, next to ``holdout_share`` (the holdout's own
share at that threshold: 0.05 without ties, more when many holdout rows duplicate training rows, as
in tables of coded columns), and ``flagged`` = share_closer > 2 × holdout_share.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ganforge.errors import DataError
from ganforge.utils.optional import lazy, lazy_pandas

if TYPE_CHECKING:
    import pandas as pd
    import scipy.stats as stats
else:
    pd = lazy_pandas()
    stats = lazy("scipy.stats", "tabular", "the tabular metrics (KS statistic)")

N_BINS = 10  # quantile bins of a continuous column in a mixed pair
MISSING = "<missing>"  # the category a missing discrete cell counts as
FLAG_FACTOR = 2.0  # DCR: flag when synthetic rows sit that much more often than holdout rows near train


# ---------------------------------------------------------------------------- schema
def _numeric(s: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype))


def check_schema(
    real: pd.DataFrame, other: pd.DataFrame, discrete_columns: list[str], what: str = "synthetic"
) -> list[str]:
    """Raise a DataError unless ``other`` can be compared with ``real`` column by column; return the
    continuous columns (those not in ``discrete_columns``), in ``real``'s order."""
    for name, frame in (("real", real), (what, other)):
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"the {name} data must be a pandas DataFrame, got {type(frame).__name__}")
        if frame.shape[0] == 0 or frame.shape[1] == 0:
            raise DataError(f"the {name} data is empty ({frame.shape[0]} rows, {frame.shape[1]} columns)")
        if frame.columns.duplicated().any():
            raise DataError(f"the {name} data has duplicate column names: {list(frame.columns)}")
    missing = [c for c in real.columns if c not in other.columns]
    extra = [c for c in other.columns if c not in real.columns]
    if missing or extra:
        raise DataError(
            f"the {what} data's columns differ from the real data's: missing {missing}, extra {extra}"
        )
    unknown = [c for c in discrete_columns if c not in real.columns]
    if unknown:
        raise DataError(f"discrete_columns names columns the data lacks: {unknown}")
    continuous = [c for c in real.columns if c not in set(discrete_columns)]
    for col in continuous:
        if not _numeric(real[col]):
            raise DataError(
                f"column '{col}' is {real[col].dtype} in the real data, not numeric;"
                " list it in discrete_columns"
            )
        if not _numeric(other[col]):
            raise DataError(
                f"column '{col}' is numeric in the real data but {other[col].dtype} in the {what} data"
            )
        if real[col].notna().sum() == 0:
            raise DataError(f"column '{col}' has no values in the real data")
    for col in discrete_columns:
        if _numeric(real[col]) != _numeric(other[col]) and other[col].notna().any():
            raise DataError(
                f"discrete column '{col}' is {real[col].dtype} in the real data but {other[col].dtype}"
                f" in the {what} data; their categories cannot be compared"
            )
    return continuous


# ---------------------------------------------------------------------------- building blocks
def category_labels(s: pd.Series) -> pd.Series:
    """Values as hashable objects with missing cells as the ``MISSING`` category (1 == 1.0 still)."""
    return s.astype(object).where(s.notna(), MISSING)


def category_frequencies(values: pd.Series) -> dict[Any, float]:
    return values.value_counts(normalize=True, dropna=False).to_dict()


def category_shares(s: pd.Series) -> dict[Any, float]:
    """Each category's share of a column, missing cells counted as a category of their own."""
    return category_frequencies(category_labels(s))


def tvd(p: dict[Any, float], q: dict[Any, float]) -> float:
    """Total variation distance ½ Σ_c |p(c) − q(c)| of two distributions given as {category: prob}."""
    return 0.5 * sum(abs(p.get(c, 0.0) - q.get(c, 0.0)) for c in set(p) | set(q))


def ks_score(real: pd.Series, synthetic: pd.Series) -> float:
    """1 − two-sample KS statistic on the present values."""
    r, s = real.dropna().to_numpy(float), synthetic.dropna().to_numpy(float)
    if len(s) == 0:
        return 0.0
    return 1.0 - float(stats.ks_2samp(r, s).statistic)


def tvd_score(real: pd.Series, synthetic: pd.Series) -> float:
    """1 − TVD of the category frequencies (missing = a category)."""
    return 1.0 - tvd(category_shares(real), category_shares(synthetic))


def pearson(a: pd.Series, b: pd.Series) -> float:
    """Pearson ρ on pairwise-present rows; 0 where undefined (a constant column, < 2 rows)."""
    both = a.notna() & b.notna()
    x, y = a[both].to_numpy(float), b[both].to_numpy(float)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    rho = float(np.corrcoef(x, y)[0, 1])
    return rho if math.isfinite(rho) else 0.0


def contingency_score(real_a: pd.Series, real_b: pd.Series, syn_a: pd.Series, syn_b: pd.Series) -> float:
    """1 − TVD of the normalised contingency tables of (a, b) in real and synthetic data."""

    def joint(a: pd.Series, b: pd.Series) -> dict[Any, float]:
        pairs = pd.Series(list(zip(category_labels(a), category_labels(b), strict=True)), dtype=object)
        return category_frequencies(pairs)

    return 1.0 - tvd(joint(real_a, real_b), joint(syn_a, syn_b))


def quantile_bins(real: pd.Series, n_bins: int = N_BINS) -> np.ndarray:
    """Inner edges of ``n_bins`` quantile bins of the real values (duplicates merged)."""
    edges = np.unique(np.quantile(real.dropna().to_numpy(float), np.linspace(0, 1, n_bins + 1)))
    return edges[1:-1]


def binned(values: pd.Series, inner_edges: np.ndarray) -> pd.Series:
    """Bin index of each value (values past the real range go to the end bins); missing stays missing."""
    idx = np.searchsorted(inner_edges, values.to_numpy(float), side="right").astype(float)
    idx[values.isna().to_numpy()] = np.nan
    return pd.Series(idx, index=values.index)


def times_as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Datetime/timedelta columns as float seconds (since the epoch): the metrics compare numbers,
    and a monotone map leaves KS, quantile bins and rank structure as they were."""
    out = frame.copy()
    for name in out.columns:
        s = out[name]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            if s.dt.tz is not None:
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
            out[name] = (s - pd.Timestamp(0)).dt.total_seconds()
        elif pd.api.types.is_timedelta64_dtype(s.dtype):
            out[name] = s.dt.total_seconds()
    return out


# ---------------------------------------------------------------------------- fidelity
def column_shapes(real: pd.DataFrame, synthetic: pd.DataFrame, continuous: list[str]) -> dict[str, Any]:
    cols: dict[str, Any] = {}
    for col in real.columns:
        if col in continuous:
            cols[str(col)] = {"metric": "ks", "score": ks_score(real[col], synthetic[col])}
        else:
            cols[str(col)] = {"metric": "tvd", "score": tvd_score(real[col], synthetic[col])}
    return {"score": float(np.mean([c["score"] for c in cols.values()])), "columns": cols}


def column_pair_trends(
    real: pd.DataFrame, synthetic: pd.DataFrame, continuous: list[str], n_bins: int = N_BINS
) -> dict[str, Any]:
    edges = {c: quantile_bins(real[c], n_bins) for c in continuous}

    def view(frame: pd.DataFrame, col: Any) -> pd.Series:
        return binned(frame[col], edges[col]) if col in edges else frame[col]

    pairs = []
    for a, b in itertools.combinations(real.columns, 2):
        entry: dict[str, Any] = {"columns": [str(a), str(b)]}
        if a in edges and b in edges:
            rho_r, rho_s = pearson(real[a], real[b]), pearson(synthetic[a], synthetic[b])
            entry.update(metric="correlation", real=rho_r, synthetic=rho_s, score=1 - abs(rho_r - rho_s) / 2)
        else:
            score = contingency_score(view(real, a), view(real, b), view(synthetic, a), view(synthetic, b))
            entry.update(metric="contingency", score=score)
        pairs.append(entry)
    score = float(np.mean([p["score"] for p in pairs])) if pairs else None
    return {"score": score, "n_bins": n_bins, "pairs": pairs}


# ---------------------------------------------------------------------------- utility
def _codes(frames: list[pd.DataFrame], col: Any) -> dict[Any, int]:
    """One ordinal code per category seen in any of the frames (in order of first appearance)."""
    seen: dict[Any, int] = {}
    for frame in frames:
        for value in frame[col].dropna().astype(object).unique():
            seen.setdefault(value, len(seen))
    return seen


def _features(frame: pd.DataFrame, features: list[Any], codes: dict[Any, dict[Any, int]]) -> np.ndarray:
    out = np.empty((len(frame), len(features)))
    for j, col in enumerate(features):
        if col in codes:
            out[:, j] = frame[col].astype(object).map(codes[col]).to_numpy(float)
        else:
            out[:, j] = frame[col].to_numpy(float)
    return out


def ml_efficacy(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    discrete_columns: list[str],
    target: Any,
    seed: int = 0,
) -> dict[str, Any]:
    """Train-synthetic-test-real vs train-real-test-real with a seeded random forest (module docstring)."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.metrics import accuracy_score, f1_score, r2_score

    if target not in real.columns:
        raise DataError(f"target column '{target}' is not in the data; columns: {list(real.columns)}")
    classify = target in set(discrete_columns)
    frames = [real, synthetic, holdout]
    codes = {c: _codes(frames, c) for c in real.columns if c in set(discrete_columns)}
    features = [c for c in real.columns if c != target]
    if not features:
        raise DataError("ML efficacy needs at least one feature column besides the target")

    def xy(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        frame = frame[frame[target].notna()]
        y = frame[target].astype(object).map(codes[target]).to_numpy(int) if classify else frame[target]
        return _features(frame, features, codes), np.asarray(y, dtype=int if classify else float)

    x_test, y_test = xy(holdout)
    if len(y_test) == 0:
        raise DataError(f"the holdout has no rows with a value in target column '{target}'")
    scores: dict[str, dict[str, float] | None] = {}
    for name, frame in (("real", real), ("synthetic", synthetic)):
        x, y = xy(frame)
        if len(y) == 0:
            scores[name] = None
            continue
        if classify:
            model: Any = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
            pred = model.fit(x, y).predict(x_test)
            scores[name] = {
                "f1_macro": float(f1_score(y_test, pred, average="macro")),
                "accuracy": float(accuracy_score(y_test, pred)),
            }
        else:
            model = RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1)
            scores[name] = {"r2": float(r2_score(y_test, model.fit(x, y).predict(x_test)))}
    metric = "f1_macro" if classify else "r2"
    real_score = scores["real"][metric] if scores["real"] else None
    syn_score = scores["synthetic"][metric] if scores["synthetic"] else 0.0
    ratio = syn_score / real_score if real_score is not None and real_score > 0 else None
    return {
        "task": "classification" if classify else "regression",
        "target": str(target),
        "metric": metric,
        "model": "RandomForestClassifier" if classify else "RandomForestRegressor",
        "real": scores["real"],
        "synthetic": scores["synthetic"],
        "ratio": ratio,
        "n_test": len(y_test),
    }


# ---------------------------------------------------------------------------- privacy
def dcr_encode(real: pd.DataFrame, frames: list[pd.DataFrame], continuous: list[str]) -> list[np.ndarray]:
    """Standardised continuous (real mean/std, missing → 0) + one-hot discrete (real categories)."""
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for col in real.columns:
        if col in continuous:
            mean, std = float(real[col].mean()), float(real[col].std(ddof=0))
            std = std if std > 0 and math.isfinite(std) else 1.0
            for out, frame in zip(blocks, frames, strict=True):
                out.append(np.nan_to_num((frame[col].to_numpy(float) - mean) / std, nan=0.0)[:, None])
        else:
            cats = {c: i for i, c in enumerate(category_labels(real[col]).unique())}
            for out, frame in zip(blocks, frames, strict=True):
                idx = category_labels(frame[col]).map(cats).to_numpy(float)
                onehot = np.zeros((len(frame), len(cats)))
                known = ~np.isnan(idx)
                onehot[np.flatnonzero(known), idx[known].astype(int)] = 1.0
                out.append(onehot)
    return [np.concatenate(b, axis=1) for b in blocks]


def dcr(
    real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame, continuous: list[str]
) -> dict[str, Any]:
    """Distances to the closest real training record, synthetic vs holdout (module docstring)."""
    from sklearn.neighbors import NearestNeighbors

    train, syn, hold = dcr_encode(real, [real, synthetic, holdout], continuous)
    nn = NearestNeighbors(n_neighbors=1).fit(train)

    def closest(rows: np.ndarray) -> np.ndarray:
        # The search may use ‖a‖² + ‖b‖² − 2a·b, which leaves ~1e-8 where a == b; recompute the
        # distance to the neighbour it found by direct differences, so a copied row reads exactly 0.
        idx = nn.kneighbors(rows, return_distance=False)[:, 0]
        return np.sqrt(((rows - train[idx]) ** 2).sum(axis=1))

    d_syn, d_hold = closest(syn), closest(hold)
    threshold = float(np.percentile(d_hold, 5))
    share = float(np.mean(d_syn <= threshold))
    baseline = float(np.mean(d_hold <= threshold))

    def summary(d: np.ndarray) -> dict[str, float]:
        return {
            "median": float(np.median(d)),
            "p5": float(np.percentile(d, 5)),
            "exact": float(np.mean(d == 0)),
        }

    return {
        "synthetic_to_train": summary(d_syn),
        "holdout_to_train": summary(d_hold),
        "threshold": threshold,
        "share_closer": share,
        "holdout_share": baseline,
        "flagged": bool(share > FLAG_FACTOR * baseline),
        "n_train": len(train),
        "n_synthetic": len(syn),
        "n_holdout": len(hold),
    }


# ---------------------------------------------------------------------------- the one door
def evaluate_tabular(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    discrete_columns: list[str],
    *,
    holdout: pd.DataFrame | None = None,
    target: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Score a synthetic table against the real one it imitates; a JSON-able dict with keys
    ``quality``, ``column_shapes``, ``column_pair_trends``, ``ml_efficacy``, ``dcr``.

    ``real`` is the data the generator was trained on; ``holdout`` real rows it never saw, needed
    for ML efficacy and DCR (both None without it). ``target`` defaults to the last column.
    """
    discrete_columns = list(discrete_columns)
    continuous = check_schema(real, synthetic, discrete_columns)
    synthetic = synthetic[list(real.columns)]
    shapes = column_shapes(real, synthetic, continuous)
    trends = column_pair_trends(real, synthetic, continuous)
    quality = shapes["score"] if trends["score"] is None else (shapes["score"] + trends["score"]) / 2
    efficacy, privacy = None, None
    if holdout is not None:
        check_schema(real, holdout, discrete_columns, what="holdout")
        holdout = holdout[list(real.columns)]
        target = real.columns[-1] if target is None else target
        efficacy = ml_efficacy(real, synthetic, holdout, discrete_columns, target, seed=seed)
        privacy = dcr(real, synthetic, holdout, continuous)
    elif target is not None and target not in real.columns:
        raise DataError(f"target column '{target}' is not in the data; columns: {list(real.columns)}")
    return {
        "quality": float(quality),
        "column_shapes": shapes,
        "column_pair_trends": trends,
        "ml_efficacy": efficacy,
        "dcr": privacy,
    }


__all__ = [
    "check_schema",
    "column_pair_trends",
    "column_shapes",
    "dcr",
    "evaluate_tabular",
    "ml_efficacy",
    "tvd",
]
