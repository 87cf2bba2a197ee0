"""GAIN's encoding of a table (``TableCodec``): fitted on the observed cells, recorded as JSON in every
checkpoint of an imputation run, so a run imputes new rows without its training data.

Mixed columns (our extension of GAIN's all-numeric setting, Yoon et al. 2018): a continuous column
is min-max scaled to [0, 1] from its observed values; a categorical column becomes a one-hot span
whose imputation is the span's argmax; the mask is per *column*. Integer columns (an integer dtype,
or floats that are all whole numbers) are rounded after decoding.

``state_dict()`` is plain JSON. JSON keeps ``str``, ``int``, ``float`` and ``bool`` apart on its own,
so categories of those types come back as they were (an integer-coded category stays an ``int``, so
imputed cells compare equal to observed ones); timestamps and time spans are tagged
(``{"datetime": iso}``); any other category type is refused when the run is recorded.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ganforge.errors import CheckpointError, DataError
from ganforge.utils.optional import lazy_pandas

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_pandas()

CODEC_FORMAT = "ganforge.gain_codec/1"  # the layout of ``state_dict()``


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

    def state(self) -> dict[str, Any]:
        return {
            "name": to_json(self.name, f"the name of column {self.name!r}"),
            "kind": self.kind, "start": self.start, "width": self.width, "low": self.low,
            "scale": self.scale, "integer": self.integer,
            "categories": [to_json(c, f"a category of column '{self.name}'") for c in self.categories],
        }  # fmt: skip

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ColumnCodec:
        return cls(
            from_json(state["name"]), str(state["kind"]), int(state["start"]), int(state["width"]),
            float(state["low"]), float(state["scale"]), bool(state["integer"]),
            [from_json(c) for c in state["categories"]],
        )  # fmt: skip


def to_json(value: Any, what: str) -> Any:
    """A category (or column name) as JSON that ``from_json`` turns back into the same type."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return {"datetime": pd.Timestamp(value).isoformat()}
    if isinstance(value, (pd.Timedelta, np.timedelta64)):
        return {"timedelta": pd.Timedelta(value).isoformat()}
    raise DataError(
        f"{what} is a {type(value).__name__}, which an imputation run cannot record;"
        " use text, numbers, booleans or timestamps"
    )


def from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if "datetime" in value:
            return pd.Timestamp(value["datetime"])
        if "timedelta" in value:
            return pd.Timedelta(value["timedelta"])
        raise CheckpointError(f"unknown category record {value!r} in an imputation run's codec")
    return value


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

    def state_dict(self) -> dict[str, Any]:
        """The fitted codec as plain JSON (the imputation dataset's ``info["codec"]``)."""
        return {"format": CODEC_FORMAT, "columns": [c.state() for c in self.columns]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TableCodec:
        """The codec ``state_dict()`` recorded."""
        if not isinstance(state, dict) or state.get("format") != CODEC_FORMAT:
            raise CheckpointError(f"not a GAIN table codec ({CODEC_FORMAT}): {str(state)[:80]}")
        codec = cls.__new__(cls)
        codec.columns = [ColumnCodec.from_state(c) for c in state["columns"]]
        codec.width = sum(c.width for c in codec.columns)
        return codec

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

    def packed(self, df: pd.DataFrame) -> np.ndarray:
        """``[data | mask]`` side by side, float32: the rows the ``gain`` objective trains on."""
        data, mask = self.encode(df)
        return np.concatenate([data, mask], axis=1)

    def layout(self) -> dict[str, list[Any]]:
        """What the networks need: each encoded dim's column and whether it is continuous."""
        col_of = [j for j, c in enumerate(self.columns) for _ in range(c.width)]
        continuous = [c.kind == "continuous" for c in self.columns for _ in range(c.width)]
        spans = [[c.start, c.start + c.width] for c in self.columns if c.kind == "categorical"]
        return {"col_of": col_of, "continuous": continuous, "spans": spans}

    def fill(self, df: pd.DataFrame, x_hat: np.ndarray, mask: np.ndarray) -> pd.DataFrame:
        """A copy of ``df`` whose holes (``mask`` 0) hold the decoded imputations ``x_hat``; every
        other cell, and every column's dtype, as it was."""
        out = df.copy()
        for j, col in enumerate(self.columns):
            holes = mask[:, j] == 0
            if holes.any():
                values = col.decode(x_hat[holes, col.start : col.start + col.width])
                out[col.name] = filled(df[col.name], holes, values)
        return out


def filled(s: pd.Series, holes: np.ndarray, values: np.ndarray) -> pd.Series:
    """``s`` with ``values`` written at ``holes`` only; the column keeps its dtype (floats stay
    floats, strings strings, categoricals categoricals), so observed cells are untouched bit for bit."""
    out = s.copy()
    out.iloc[np.flatnonzero(holes)] = values if values.dtype != object else list(values)
    return out


__all__ = ["CODEC_FORMAT", "ColumnCodec", "TableCodec"]
