"""GAIN imputation for users: ``Imputer().fit_transform(frame)``; the table's encoding (``TableCodec``).

The method (Yoon, Jordon & van der Schaar 2018) and its losses are ``tabular/gain_objective.py``:
the objective ``gain`` that ganforge's one Trainer runs. Mixed columns (our extension of the
paper's all-numeric setting): continuous columns are min-max scaled to [0, 1] from their observed
values; a categorical column becomes a one-hot span whose imputation is the span's argmax; the mask
is per *column*. Integer columns (an integer dtype, or floats that are all whole numbers) are
rounded after decoding.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganforge.config import OptimizerConfig
from ganforge.data.base import ArrayDataset
from ganforge.data.loader import BatchStream
from ganforge.errors import ConfigError, DataError
from ganforge.objectives.base import Context
from ganforge.registry import OBJECTIVES
from ganforge.tabular.gain_objective import GainObjective, GainOptions, gain_networks

DEFAULT_ITERATIONS = 2000
CHUNK_ROWS = 65536  # rows per generator call in transform(): bounded memory on big tables


# ---------------------------------------------------------------------------- encoding
@dataclass
class ColumnCodec:
    """How one column maps to encoded space: a [0, 1] scalar, or a one-hot span of categories."""

    name: Any
    kind: str  # "continuous" | "categorical"
    start: int
    width: int
    low: float = 0.0
    scale: float = 1.0
    integer: bool = False
    categories: list[Any] = field(default_factory=list)

    def encode(self, s: pd.Series, observed: np.ndarray) -> np.ndarray:
        if self.kind == "continuous":
            if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
                raise DataError(
                    f"column '{self.name}' was numeric when the imputer was fitted, now {s.dtype}"
                )
            vals = np.where(observed, s.to_numpy(dtype=float, na_value=np.nan), self.low)
            return ((vals - self.low) / self.scale)[:, None]
        index = {c: i for i, c in enumerate(self.categories)}
        idx = np.array(
            [index.get(v, -1) if o else -1 for v, o in zip(s.astype(object), observed, strict=True)]
        )
        out = np.zeros((len(s), self.width))
        known = idx >= 0  # an observed category unseen at fit time encodes as all zeros
        out[np.flatnonzero(known), idx[known]] = 1.0
        return out

    def decode(self, block: np.ndarray) -> np.ndarray:
        if self.kind == "categorical":
            return np.array(self.categories, dtype=object)[block.argmax(axis=1)]
        vals = np.clip(block[:, 0], 0.0, 1.0) * self.scale + self.low
        return np.round(vals) if self.integer else vals


def _is_categorical(s: pd.Series, declared: bool) -> bool:
    dtype = s.dtype
    return declared or pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype)


class TableCodec:
    """Column layout of a table: fitted on observed cells, encodes to a float matrix plus a mask."""

    def __init__(self, df: pd.DataFrame, discrete_columns: list[Any] | None = None) -> None:
        declared = set(discrete_columns or [])
        unknown = [c for c in declared if c not in df.columns]
        if unknown:
            raise DataError(f"discrete_columns names columns the data lacks: {unknown}")
        self.columns: list[ColumnCodec] = []
        start = 0
        for name in df.columns:
            s = df[name]
            present = s.dropna()
            if len(present) == 0:
                raise DataError(f"column '{name}' has no observed values, so nothing to learn it from")
            if _is_categorical(s, name in declared):
                cats = list(pd.unique(present.astype(object)))
                with contextlib.suppress(TypeError):  # mixed types: keep the order of first appearance
                    cats = sorted(cats)
                col = ColumnCodec(name, "categorical", start, len(cats), categories=cats)
            else:
                vals = present.to_numpy(float)
                low, high = float(vals.min()), float(vals.max())
                integer = pd.api.types.is_integer_dtype(s.dtype) or bool(np.all(vals == np.round(vals)))
                col = ColumnCodec(name, "continuous", start, 1, low, (high - low) or 1.0, integer)
            self.columns.append(col)
            start += col.width
        self.width = start
        self.dtypes = df.dtypes.to_dict()

    def check(self, df: pd.DataFrame) -> None:
        if not isinstance(df, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
        if len(df) == 0:
            raise DataError("the table to impute has no rows")
        names = [c.name for c in self.columns]
        if list(df.columns) != names:
            missing = [c for c in names if c not in df.columns]
            extra = [c for c in df.columns if c not in names]
            raise DataError(
                f"the table's columns differ from those the imputer was fitted on: missing {missing},"
                f" extra {extra} (order must match too)"
            )

    def encode(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(data (N, width) with holes at 0, mask (N, n_columns) with 1 = observed), float32."""
        self.check(df)
        mask = df.notna().to_numpy(dtype=np.float32, copy=True)
        blocks = [c.encode(df[c.name], mask[:, j] > 0) for j, c in enumerate(self.columns)]
        data = np.concatenate(blocks, axis=1).astype(np.float32)
        return np.where(np.repeat(mask, [c.width for c in self.columns], axis=1) > 0, data, 0.0), mask

    def layout(self) -> dict[str, list[Any]]:
        """What the networks need: each encoded dim's column and whether it is continuous."""
        col_of = [j for j, c in enumerate(self.columns) for _ in range(c.width)]
        continuous = [c.kind == "continuous" for c in self.columns for _ in range(c.width)]
        spans = [[c.start, c.start + c.width] for c in self.columns if c.kind == "categorical"]
        return {"col_of": col_of, "continuous": continuous, "spans": spans}


# ---------------------------------------------------------------------------- the user-facing imputer
class _History:
    """Trainer callback: mean losses every ``every`` steps, kept for inspection (``Imputer.history``)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.records: list[dict[str, float]] = []

    def on_step_end(self, trainer: Any) -> None:
        step = trainer.state.step
        if step % self.every == 0 or step == trainer.steps:
            self.records.append({"step": step, **trainer.pop_window()})


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class Imputer:
    """Fill the missing cells of a DataFrame with GAIN; observed cells come back unchanged.

    >>> Imputer(iterations=2000, seed=0).fit_transform(df, discrete_columns=["sex"])  # doctest: +SKIP

    Train length: ``iterations`` (generator steps) or ``epochs`` (passes over the rows); at most one
    of them, default ``DEFAULT_ITERATIONS``. Columns that are not numeric (strings, categoricals,
    booleans) are categorical automatically; ``discrete_columns`` adds integer-coded ones.
    ``device``: ``cpu`` (default; the networks are tiny), ``cuda``, ``auto``.
    """

    def __init__(
        self,
        *,
        iterations: int | None = None,
        epochs: int | None = None,
        hint_rate: float = GainOptions.hint_rate,
        alpha: float = GainOptions.alpha,
        batch_size: int = 128,
        hidden: int | None = None,
        lr: float = 1e-3,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        if iterations is not None and epochs is not None:
            raise ConfigError("give either iterations or epochs, not both")
        self.iterations = None if iterations is None else _positive_int("iterations", iterations)
        self.epochs = None if epochs is None else _positive_int("epochs", epochs)
        self.batch_size = _positive_int("batch_size", batch_size)
        self.hidden = None if hidden is None else _positive_int("hidden", hidden)
        GainOptions(hint_rate=hint_rate, alpha=alpha)  # the objective's own checks, now, not at fit
        if lr <= 0:
            raise ConfigError(f"lr must be > 0, got {lr}")
        self.hint_rate, self.alpha, self.lr, self.seed = float(hint_rate), float(alpha), float(lr), int(seed)
        from ganforge.training.build import resolve_device

        self.device = resolve_device(device)
        self.codec: TableCodec | None = None
        self.objective: GainObjective | None = None
        self.history: list[dict[str, float]] = []

    def _steps(self, n_rows: int, batch: int) -> int:
        if self.epochs is not None:
            return max(1, math.ceil(self.epochs * n_rows / batch))
        return self.iterations or DEFAULT_ITERATIONS

    def _rng(self) -> Any:
        devices = [self.device] if self.device.type == "cuda" else []
        return torch.random.fork_rng(devices=devices)  # seeded work that leaves the caller's RNG as it was

    def fit(self, df: pd.DataFrame, discrete_columns: list[Any] | None = None) -> Imputer:
        from ganforge.training.trainer import Trainer

        if not isinstance(df, pd.DataFrame) or df.shape[0] == 0 or df.shape[1] == 0:
            raise DataError("the table to impute must be a DataFrame with at least one row and column")
        self.codec = TableCodec(df, discrete_columns)
        data, mask = self.codec.encode(df)
        packed = torch.from_numpy(np.concatenate([data, mask], axis=1))
        batch = min(self.batch_size, len(df))
        steps = self._steps(len(df), batch)
        with self._rng():
            torch.manual_seed(self.seed)
            nets = {k: v.to(self.device) for k, v in gain_networks(self.codec.layout(), self.hidden).items()}
            ctx = Context(device=self.device, randn=lambda n, *s: torch.randn(n, *s, device=self.device))
            self.objective = OBJECTIVES.build("gain", nets, ctx, hint_rate=self.hint_rate, alpha=self.alpha)
            stream = BatchStream(
                ArrayDataset(packed, name="table"), batch, seed=self.seed, device=self.device
            )
            opt = OptimizerConfig(lr=self.lr, betas=(0.9, 0.999))
            history = _History(max(1, steps // 20))
            trainer = Trainer(
                self.objective, stream, {"g": opt, "d": opt}, steps=steps, batch_size=batch,
                device=self.device, ema_kimg=0.0, measure_every=steps, callbacks=[history],
            )  # fmt: skip
            trainer.fit()
        self.history = history.records
        for net in nets.values():
            net.eval()
        return self

    @torch.no_grad()
    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``df`` with every missing cell imputed (same columns, dtypes kept where possible)."""
        if self.codec is None or self.objective is None:
            raise ConfigError("call fit() before transform()")
        data, mask = self.codec.encode(df)
        out = df.copy()
        if mask.all():
            return out
        x = torch.from_numpy(data).to(self.device)
        m = torch.from_numpy(mask).to(self.device)
        with self._rng():
            torch.manual_seed(self.seed + 1)
            chunks = zip(x.split(CHUNK_ROWS), m.split(CHUNK_ROWS), strict=True)
            x_hat = torch.cat([self.objective.impute(xc, mc)[1] for xc, mc in chunks])
        x_hat = x_hat.cpu().numpy().astype(np.float64)
        for j, col in enumerate(self.codec.columns):
            holes = mask[:, j] == 0
            if not holes.any():
                continue
            values = col.decode(x_hat[holes, col.start : col.start + col.width])
            out[col.name] = _filled(df[col.name], holes, values)
        return out

    def fit_transform(self, df: pd.DataFrame, discrete_columns: list[Any] | None = None) -> pd.DataFrame:
        return self.fit(df, discrete_columns).transform(df)


def _filled(s: pd.Series, holes: np.ndarray, values: np.ndarray) -> pd.Series:
    """``s`` with ``values`` written at ``holes`` only; the column keeps its dtype (floats stay
    floats, strings strings, categoricals categoricals), so observed cells are untouched bit for bit."""
    filled = s.copy()
    filled.iloc[np.flatnonzero(holes)] = values if values.dtype != object else list(values)
    return filled


__all__ = ["Imputer", "TableCodec"]
