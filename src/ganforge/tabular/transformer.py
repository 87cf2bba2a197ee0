"""The table <-> matrix transformer of CTGAN (Xu et al. 2019, Sec. 4.2 "Mode-specific normalization").

A continuous column ``c`` is modelled by a variational Gaussian mixture (a Dirichlet-process prior
lets the mixture switch off modes it does not need; we keep at most ``max_modes`` whose weight
exceeds ``weight_threshold``, the paper's ε = 0.005). A value ``c_ij`` becomes

* ``β_ij``: the one-hot of a mode ``k`` *sampled* from its posterior ρ_k ∝ μ_k N(c_ij; η_k, φ_k);
* ``α_ij = (c_ij − η_k) / (4 φ_k)``: the value within that mode, a scalar mostly in [−1, 1].

So a multi-modal, long-tailed column becomes a bounded scalar (a ``tanh`` output for G) plus a
categorical mode (a ``softmax`` output), which is why CTGAN fits such columns where a min-max scaled
scalar collapses onto the biggest mode. A discrete column becomes one one-hot span.

Beyond the paper, the column types real tables hold:

* integers are rounded back and keep their dtype; floats keep their observed number of decimals;
* datetimes/timedeltas are integers of their coarsest exact unit (days, seconds, ...) after the
  smallest one, so they round-trip exactly;
* every continuous column is clipped to its observed [min, max] on the way back ("bounded");
* a missing continuous cell is one more slot of the mode span ("is missing", α = 0); a missing
  discrete cell is a category of its own;
* a discrete column with more than ``max_categories`` categories keeps its most frequent ones and
  maps the rest to one ``other`` slot; the way back draws a real value from that tail's empirical
  distribution. The network's width is then bounded whatever the cardinality (e.g. row ids).

The fitted state is plain JSON (``state_dict``): GMM means/stds/weights, category lists, dtypes.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ganforge.errors import DataError
from ganforge.tabular.networks import SOFTMAX, TANH, Span
from ganforge.utils.optional import lazy_pandas

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_pandas()

_UNITS_NS = (86_400 * 10**9, 3_600 * 10**9, 60 * 10**9, 10**9, 10**6, 10**3, 1)  # day ... ns
_MAX_DECIMALS = 9
GMM_MAX_ROWS = 20_000  # the mixture is fitted on at most this many rows (a seeded subsample)


@dataclass
class ContinuousColumn:
    name: Any
    kind: str  # "float" | "int" | "datetime" | "timedelta"
    dtype: str
    means: list[float]  # η_k of the kept modes, in the standardised numeric space of the column
    stds: list[float]  # φ_k
    weights: list[float]  # μ_k, renormalised over the kept modes
    low: float
    high: float
    has_missing: bool = False
    decimals: int | None = None  # floats: round to this many decimals on the way back
    unit_ns: int = 1  # datetimes: numeric value = (ns - offset_ns) / unit_ns, an exact integer
    offset_ns: int = 0
    tz: str | None = None

    @property
    def n_modes(self) -> int:
        return len(self.means)

    @property
    def spans(self) -> list[Span]:
        return [Span(1, TANH), Span(self.n_modes + int(self.has_missing), SOFTMAX)]


@dataclass
class DiscreteColumn:
    name: Any
    dtype: str
    categories: list[Any]  # kept values by falling frequency, then None (missing) if any
    counts: list[int]  # rows per slot, the ``other`` slot last
    has_other: bool = False
    tail_values: list[Any] = field(default_factory=list)  # the values the ``other`` slot stands for
    tail_counts: list[int] = field(default_factory=list)
    pandas_categories: list[Any] | None = None  # a ``category`` dtype's own category list
    as_text: bool = False  # values were stored as text (datetimes, other non-JSON types)

    @property
    def width(self) -> int:
        return len(self.categories) + int(self.has_other)

    @property
    def spans(self) -> list[Span]:
        return [Span(self.width, SOFTMAX)]


Column = ContinuousColumn | DiscreteColumn


# ---------------------------------------------------------------------------- value helpers
def json_value(value: Any) -> Any:
    """A category as a JSON value: numpy scalars unwrapped, missing as None, the rest as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _is_datetime(s: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(s.dtype) or pd.api.types.is_timedelta64_dtype(s.dtype)


def is_auto_discrete(s: pd.Series, max_levels: int = 10) -> bool:
    """The auto-detection rule: a column is discrete when its dtype is not numeric or temporal
    (object, string, category, bool), or when it is numeric, integer-valued and has at most
    ``max_levels`` distinct values (codes such as ratings 1-5 or 0/1 flags)."""
    if pd.api.types.is_bool_dtype(s.dtype) or isinstance(s.dtype, pd.CategoricalDtype):
        return True
    if _is_datetime(s):
        return False
    if not pd.api.types.is_numeric_dtype(s.dtype):
        return True
    values = s.dropna().to_numpy(dtype="float64")
    if len(values) == 0:
        return False
    return bool(np.all(values == np.round(values))) and len(np.unique(values)) <= max_levels


def _decimals(x: np.ndarray) -> int | None:
    """The fewest decimals that reproduce every value exactly, or None (e.g. measured floats)."""
    for d in range(_MAX_DECIMALS + 1):
        if np.array_equal(np.round(x, d), x):
            return d
    return None


def _temporal_ns(s: pd.Series) -> tuple[np.ndarray, str | None]:
    """int64 nanoseconds (UTC for tz-aware datetimes) and the time zone, for a datetime/timedelta series."""
    tz = None
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        tz = str(s.dt.tz) if s.dt.tz is not None else None
        if tz is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        ns = s.to_numpy(dtype="datetime64[ns]").view("int64")
    else:
        ns = s.to_numpy(dtype="timedelta64[ns]").view("int64")
    return ns, tz


# ---------------------------------------------------------------------------- fitting
def _fit_gmm(x: np.ndarray, max_modes: int, threshold: float, seed: int) -> tuple[list, list, list]:
    """Means, stds and weights of the kept modes of a Bayesian GMM fitted to ``x`` (1-D, finite).

    The column is standardised first, so the mixture's priors and ``reg_covar`` mean the same for
    a column of ages and one of timestamps; the parameters are mapped back afterwards.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture

    centre, scale = float(np.mean(x)), float(np.std(x))
    if len(np.unique(x)) < 2 or scale == 0:  # constant: one mode, nothing to learn
        return [centre], [max(abs(centre) * 1e-6, 1e-6)], [1.0]
    rng = np.random.default_rng(seed)
    fit_x = x if len(x) <= GMM_MAX_ROWS else rng.choice(x, GMM_MAX_ROWS, replace=False)
    z = ((fit_x - centre) / scale).reshape(-1, 1)
    gmm = BayesianGaussianMixture(
        n_components=min(max_modes, len(np.unique(fit_x))),
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=1e-3,  # a sparse prior: unneeded modes get ~0 weight
        n_init=1,
        max_iter=100,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm.fit(z)
    keep = gmm.weights_ > threshold
    if not keep.any():
        keep = gmm.weights_ == gmm.weights_.max()
    weights = gmm.weights_[keep] / gmm.weights_[keep].sum()
    means = gmm.means_.reshape(-1)[keep] * scale + centre
    stds = np.sqrt(gmm.covariances_.reshape(-1)[keep]) * scale
    stds = np.maximum(stds, 1e-6 * scale)
    return means.tolist(), stds.tolist(), weights.tolist()


def _fit_continuous(
    s: pd.Series, max_modes: int, threshold: float, seed: int
) -> tuple[ContinuousColumn, np.ndarray]:
    missing = s.isna().to_numpy()
    col = ContinuousColumn(name=s.name, kind="float", dtype=str(s.dtype), means=[], stds=[], weights=[],
                           low=0.0, high=0.0, has_missing=bool(missing.any()))  # fmt: skip
    if _is_datetime(s):
        ns, col.tz = _temporal_ns(s)
        col.kind = "datetime" if pd.api.types.is_datetime64_any_dtype(s.dtype) else "timedelta"
        col.offset_ns = int(ns[~missing].min())
        rel = ns[~missing] - col.offset_ns
        col.unit_ns = next(u for u in _UNITS_NS if not np.any(rel % u))
        x = np.full(len(s), np.nan)
        x[~missing] = rel // col.unit_ns
    else:
        x = s.to_numpy(dtype="float64", na_value=np.nan)
        if pd.api.types.is_integer_dtype(s.dtype):
            col.kind = "int"
        else:
            col.decimals = _decimals(x[~missing])
    present = x[~missing]
    col.low, col.high = float(present.min()), float(present.max())
    col.means, col.stds, col.weights = _fit_gmm(present, max_modes, threshold, seed)
    return col, x


def _fit_discrete(s: pd.Series, max_categories: int) -> DiscreteColumn:
    as_text = _is_datetime(s)
    values = _discrete_values(s, as_text)
    missing = int(values.isna().sum())
    freq = values.dropna().value_counts(sort=True)
    room = max_categories - int(missing > 0)
    has_other = len(freq) > room
    kept = freq.iloc[: room - 1] if has_other else freq
    tail = freq.iloc[room - 1 :] if has_other else freq.iloc[:0]
    categories = [json_value(v) for v in kept.index]
    counts = [int(c) for c in kept.to_numpy()]
    if missing:
        categories.append(None)
        counts.append(missing)
    if has_other:
        counts.append(int(tail.sum()))
    return DiscreteColumn(
        name=s.name,
        dtype=str(s.dtype),
        categories=categories,
        counts=counts,
        has_other=has_other,
        tail_values=[json_value(v) for v in tail.index],
        tail_counts=[int(c) for c in tail.to_numpy()],
        pandas_categories=(
            [json_value(v) for v in s.cat.categories] if isinstance(s.dtype, pd.CategoricalDtype) else None
        ),
        as_text=as_text,
    )


def _discrete_values(s: pd.Series, as_text: bool) -> pd.Series:
    """The values categories are matched on: an object series (datetimes as ISO text)."""
    if as_text:
        return s.astype(object).where(s.notna(), None).map(lambda v: None if v is None else str(v))
    return s.astype(object)


# ---------------------------------------------------------------------------- the transformer
class TableTransformer:
    """Fit on a frame, then ``transform`` rows to the matrix G imitates and ``inverse_transform`` back.

    ``columns`` (one spec per input column, in order) is the whole fitted state; ``spans`` lists the
    matrix's output blocks in order (continuous: tanh scalar, then modes; discrete: one-hot).
    """

    def __init__(self, columns: list[Column]) -> None:
        self.columns = columns
        self.spans = [span for c in columns for span in c.spans]
        self.width = sum(span.width for span in self.spans)
        starts = np.cumsum([0, *(c.width for c in self.spans)])
        self.span_starts = [int(v) for v in starts[:-1]]
        self.column_spans: list[list[int]] = []  # each column's span indices
        i = 0
        for c in columns:
            self.column_spans.append(list(range(i, i + len(c.spans))))
            i += len(c.spans)

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        discrete_columns: list[Any],
        *,
        max_modes: int = 10,
        weight_threshold: float = 0.005,
        max_categories: int = 100,
        seed: int = 0,
    ) -> TableTransformer:
        """Fit every column. The caller checked the frame (non-empty, known columns, no all-NaN column)."""
        discrete = set(discrete_columns)
        columns: list[Column] = []
        for i, name in enumerate(frame.columns):
            s = frame[name]
            if name in discrete:
                columns.append(_fit_discrete(s, max_categories))
            else:
                columns.append(_fit_continuous(s, max_modes, weight_threshold, seed + i)[0])
        return cls(columns)

    @property
    def discrete(self) -> list[DiscreteColumn]:
        return [c for c in self.columns if isinstance(c, DiscreteColumn)]

    @property
    def names(self) -> list[Any]:
        return [c.name for c in self.columns]

    def check_columns(self, frame: pd.DataFrame, what: str = "data") -> None:
        """The frame must hold exactly the fitted columns (any order)."""
        missing = [c for c in self.names if c not in frame.columns]
        extra = [c for c in frame.columns if c not in set(self.names)]
        if missing or extra:
            parts = ([f"lacks column(s) {missing}"] if missing else []) + (
                [f"has unknown column(s) {extra}"] if extra else []
            )
            raise DataError(f"the {what} does not match the model's schema: it {' and '.join(parts)}")

    # ------------------------------------------------------------------ per-column values
    def encode_columns(self, frame: pd.DataFrame) -> list[np.ndarray]:
        """Each column as numbers: continuous -> float64 in the column's numeric space (NaN missing),
        discrete -> int64 slot index. The common currency of ``transform`` and the fidelity score."""
        self.check_columns(frame)
        out = []
        for c in self.columns:
            s = frame[c.name]
            out.append(
                self._encode_continuous(c, s) if isinstance(c, ContinuousColumn) else self._codes(c, s)
            )
        return out

    def _encode_continuous(self, c: ContinuousColumn, s: pd.Series) -> np.ndarray:
        if c.kind in ("datetime", "timedelta"):
            if not _is_datetime(s):
                raise DataError(f"column '{c.name}' must hold {c.kind}s, like the data the model was fit on")
            ns, _ = _temporal_ns(s)
            x = ((ns - c.offset_ns) / c.unit_ns).astype("float64")
            x[s.isna().to_numpy()] = np.nan
            return x
        try:
            return s.to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError):
            raise DataError(
                f"column '{c.name}' must be numeric, like the data the model was fit on"
            ) from None

    def _codes(self, c: DiscreteColumn, s: pd.Series) -> np.ndarray:
        values = _discrete_values(s, c.as_text)
        missing = values.isna().to_numpy()
        kept = [v for v in c.categories if v is not None]
        codes = np.asarray(pd.Index(kept, dtype=object).get_indexer(values), dtype=np.int64)
        if missing.any():
            if None not in c.categories:
                raise DataError(f"column '{c.name}' has missing values, which the model never saw there")
            codes[missing] = c.categories.index(None)
        unknown = (codes < 0) & ~missing
        if unknown.any():
            if not c.has_other:
                value = values[unknown].iloc[0]
                raise DataError(f"column '{c.name}' holds value {value!r}, which the model never saw there")
            codes[unknown] = len(c.categories)
        return codes

    # ------------------------------------------------------------------ forward
    def transform(self, frame: pd.DataFrame, seed: int = 0) -> np.ndarray:
        """Rows -> the (n, width) float64 matrix; each continuous value's mode is drawn from its
        posterior with a generator seeded by ``seed`` (Sec. 4.2: "sample a mode", not the argmax)."""
        return self.transform_encoded(self.encode_columns(frame), seed)

    def transform_encoded(self, encoded: list[np.ndarray], seed: int = 0) -> np.ndarray:
        """``transform`` of what ``encode_columns`` returned (callers that need both encode once)."""
        rng = np.random.default_rng(seed)
        n = len(encoded[0]) if encoded else 0
        out = np.zeros((n, self.width))
        for c, spans, x in zip(self.columns, self.column_spans, encoded, strict=True):
            if isinstance(c, DiscreteColumn):
                out[np.arange(n), self.span_starts[spans[0]] + x] = 1.0
                continue
            alpha, mode = self.normalise(c, x, rng)
            out[:, self.span_starts[spans[0]]] = alpha
            out[np.arange(n), self.span_starts[spans[1]] + mode] = 1.0
        return out

    @staticmethod
    def normalise(
        c: ContinuousColumn, x: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """(α, mode) per value; a missing value gets the extra last mode slot and α = 0."""
        missing = np.isnan(x)
        v = np.where(missing, c.means[0], x)[:, None]
        means, stds = np.asarray(c.means), np.asarray(c.stds)
        log_post = np.log(np.asarray(c.weights)) - np.log(stds) - 0.5 * ((v - means) / stds) ** 2
        gumbel = -np.log(-np.log(rng.uniform(1e-12, 1.0, size=log_post.shape)))
        mode = np.argmax(log_post + gumbel, axis=1)  # Gumbel-max: a draw from the posterior
        alpha = (v[:, 0] - means[mode]) / (4 * stds[mode])
        alpha[missing] = 0.0
        mode[missing] = c.n_modes
        return alpha, mode

    # ------------------------------------------------------------------ backward
    def decode_columns(self, matrix: np.ndarray) -> list[np.ndarray]:
        """The matrix (G's output or ``transform``'s) -> per-column numbers as ``encode_columns``
        gives them: every one-hot read by its argmax, α mapped back through its mode, then the
        column's bounds and rounding applied."""
        out = []
        for c, spans in zip(self.columns, self.column_spans, strict=True):
            starts = [self.span_starts[s] for s in spans]
            if isinstance(c, DiscreteColumn):
                out.append(np.argmax(matrix[:, starts[0] : starts[0] + c.width], axis=1))
                continue
            alpha = matrix[:, starts[0]]
            width = c.n_modes + int(c.has_missing)
            mode = np.argmax(matrix[:, starts[1] : starts[1] + width], axis=1)
            real_mode = np.minimum(mode, c.n_modes - 1)
            x = 4 * np.asarray(c.stds)[real_mode] * alpha + np.asarray(c.means)[real_mode]
            x = np.clip(x, c.low, c.high)
            if c.kind != "float":
                x = np.rint(x)
            elif c.decimals is not None:
                x = np.round(x, c.decimals)
            x[mode == c.n_modes] = np.nan
            out.append(x)
        return out

    def to_frame(self, columns: list[np.ndarray], rng: np.random.Generator | None = None) -> pd.DataFrame:
        """Per-column numbers -> a frame with the fitted column names, order and dtypes. ``other``
        slots become tail values drawn by their frequency with ``rng``."""
        rng = rng or np.random.default_rng(0)
        data = {}
        for c, x in zip(self.columns, columns, strict=True):
            if isinstance(c, ContinuousColumn):
                data[c.name] = self._continuous_series(c, x)
            else:
                data[c.name] = self._discrete_series(c, x, rng)
        return pd.DataFrame(data, columns=self.names)

    def inverse_transform(self, matrix: np.ndarray, seed: int = 0) -> pd.DataFrame:
        return self.to_frame(self.decode_columns(np.asarray(matrix)), np.random.default_rng(seed))

    @staticmethod
    def _continuous_series(c: ContinuousColumn, x: np.ndarray) -> pd.Series:
        missing = np.isnan(x)
        if c.kind in ("datetime", "timedelta"):
            ns = np.where(missing, 0, x).astype(np.int64) * c.unit_ns + c.offset_ns
            if c.kind == "datetime":
                values = pd.Series(ns.view("datetime64[ns]")).where(~missing, pd.NaT)
                if c.tz is not None:
                    values = values.dt.tz_localize("UTC").dt.tz_convert(c.tz)
            else:
                values = pd.Series(ns.view("timedelta64[ns]")).where(~missing, pd.NaT)
            return values.astype(c.dtype)
        if c.kind == "int" and missing.any() and c.dtype.startswith("int"):
            return pd.Series(x).astype("Int64")  # a numpy int column cannot hold a generated NaN
        if c.kind == "int" and not missing.any():
            return pd.Series(x.astype(np.int64)).astype(c.dtype)
        return pd.Series(x).astype(c.dtype)

    @staticmethod
    def _discrete_series(c: DiscreteColumn, codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
        lookup = np.empty(c.width, dtype=object)
        lookup[: len(c.categories)] = c.categories
        values = lookup[codes]
        if c.has_other:
            other = codes == len(c.categories)
            if other.any():
                p = np.asarray(c.tail_counts, dtype="float64")
                tail = np.empty(len(c.tail_values), dtype=object)
                tail[:] = c.tail_values
                values[other] = tail[rng.choice(len(tail), size=int(other.sum()), p=p / p.sum())]
        s = pd.Series(values, dtype=object)
        if c.pandas_categories is not None:
            return pd.Series(pd.Categorical(s, categories=c.pandas_categories))
        if c.dtype == "object":
            return s.where(s.notna(), np.nan) if None in c.categories else s
        try:
            return s.astype(c.dtype)
        except (TypeError, ValueError):  # e.g. an int column that now holds a missing value
            return s.astype("Float64") if c.dtype.startswith(("int", "Int", "float")) else s

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Plain JSON: one object per column, tagged with its type."""
        return {
            "columns": [
                {"type": "continuous" if isinstance(c, ContinuousColumn) else "discrete", **asdict(c)}
                for c in self.columns
            ]
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TableTransformer:
        columns: list[Column] = []
        for spec in state["columns"]:
            spec = dict(spec)
            kind = spec.pop("type")
            columns.append(ContinuousColumn(**spec) if kind == "continuous" else DiscreteColumn(**spec))
        return cls(columns)
