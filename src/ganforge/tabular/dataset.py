"""Dataset ``table``: a CSV/Parquet file (or a table shipped with an installed library) for CTGAN.

What makes a table more than a sample set, and how it rides the one session builder:

- its columns are encoded by a fitted ``TableTransformer`` (mode-specific normalisation, one-hots);
  the encoded rows are the dataset's ``x``, the transformer's fitted state is its ``info`` (recorded
  in every checkpoint: a run samples real-looking rows without its data), and the output layout of
  the generator is its ``model_inputs`` (the ``ctgan`` model's builder reads it);
- batches come from training-by-sampling (``sampler.py``), the dataset's own ``stream``;
- a seeded share of the rows (``validation_fraction``) is held out for early stopping on the
  validation fidelity (``train.patience``); ``validation_rows`` finds the same rows again.

    data: {name: table, path: customers.csv, discrete: [plan, region]}
    data: {name: table, path: penguins}          # a shipped table (data/tables.py)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import numpy as np
import torch

from ganforge.config import Config
from ganforge.data.base import ArrayDataset
from ganforge.data.tables import TABLE_NAMES, load_table
from ganforge.errors import ConfigError, DataError, EvalError
from ganforge.options import AtLeast, Options, PositiveInt
from ganforge.registry import register_dataset
from ganforge.tabular.io import read_table
from ganforge.tabular.sampler import ConditionSampler, TrainingBySampling
from ganforge.tabular.transformer import DiscreteColumn, TableTransformer, is_auto_discrete
from ganforge.utils.optional import lazy_pandas

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_pandas()

TABLE_FORMAT = "ganforge.table/1"  # the layout of ``info["table"]``


@dataclass(frozen=True)
class TableOptions(Options):
    """How a table is encoded and split; the ``table`` dataset's keys (Xu et al. 2019, Sec. 4.2).

    ``max_modes`` / ``mode_weight_threshold``: the variational Gaussian mixture per continuous
    column; ``max_categories``: a discrete column's width (rarer values share an ``other`` slot);
    ``discrete_max_levels``: integer-valued numeric columns with at most this many values count as
    discrete when ``discrete`` is not given; ``validation_fraction``: rows held out for early
    stopping (0: train on all); ``seed``: the mixture fits, the mode draws and the split.
    """

    SECTION: ClassVar[str] = "data"

    discrete: tuple[Any, ...] | None = None
    max_modes: PositiveInt = 10
    mode_weight_threshold: float = 0.005
    max_categories: Annotated[int, AtLeast(2)] = 100  # a value and the "other" slot
    discrete_max_levels: int = 10
    validation_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(f"'validation_fraction' must be in [0, 1), got {self.validation_fraction}")


@dataclass
class TableDataset(ArrayDataset):
    """Encoded training rows plus what evaluation needs: the whole table and the held-out rows (raw),
    and the fitted transformer."""

    frame: pd.DataFrame | None = None
    validation: pd.DataFrame | None = None
    transformer: TableTransformer | None = None


def read_source(path: str) -> pd.DataFrame:
    """A .csv/.parquet file, or a shipped table by name when no such file exists."""
    if not path:
        raise ConfigError(f"'data.path' must name a .csv/.parquet table or one of {', '.join(TABLE_NAMES)}")
    if not Path(path).exists() and path in TABLE_NAMES:
        return load_table(path)[0]
    return read_table(path)


def check_frame(data: Any, discrete: Any, max_levels: int) -> list[Any]:
    """The discrete columns of a checked frame: ``discrete`` as given plus every non-numeric column
    it leaves out, or (None) auto-detected: non-numeric columns and integer-valued numeric ones
    with at most ``max_levels`` values."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"fit expects a pandas DataFrame or a 2-D array, got {type(data).__name__}")
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise DataError(f"the table is empty ({data.shape[0]} rows, {data.shape[1]} columns)")
    if data.columns.duplicated().any():
        raise DataError(
            f"column names must be unique; repeated: {list(data.columns[data.columns.duplicated()])}"
        )
    bad = [c for c in data.columns if not isinstance(c, str | int) or isinstance(c, bool)]
    if bad:
        raise DataError(f"column names must be strings or integers, got {bad[0]!r}")
    empty = [c for c in data.columns if data[c].isna().all()]
    if empty:
        raise DataError(f"column '{empty[0]}' has no values (every cell is missing); drop it first")
    if discrete is None:
        return [c for c in data.columns if is_auto_discrete(data[c], max_levels)]
    discrete = [discrete] if isinstance(discrete, str) else list(discrete)
    unknown = [c for c in discrete if c not in data.columns]
    if unknown:
        raise ConfigError(
            f"discrete column '{unknown[0]}' is not a column of the table; columns: {list(data.columns)}"
        )
    implied = [c for c in data.columns if c not in discrete and is_auto_discrete(data[c], 0)]
    return [*discrete, *implied]


def split_rows(data: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A seeded (train, validation) split; no validation rows when ``fraction`` gives none."""
    n_valid = round(fraction * len(data))
    if n_valid < 1 or len(data) - n_valid < 1:  # a tiny table: train on every row
        return data, None
    perm = np.random.default_rng(seed).permutation(len(data))
    return data.iloc[perm[n_valid:]], data.iloc[perm[:n_valid]]


def layout_inputs(transformer: TableTransformer) -> dict[str, Any]:
    """The generator's output layout as JSON-able ``model_inputs``: every span (width, activation)
    and, per discrete column, the span its conditional vector names."""
    cond_spans = [
        spans[0]
        for c, spans in zip(transformer.columns, transformer.column_spans, strict=True)
        if isinstance(c, DiscreteColumn)
    ]
    return {"spans": [[s.width, s.activation] for s in transformer.spans], "cond_spans": cond_spans}


def table_dataset(frame: pd.DataFrame, options: TableOptions, name: str = "table") -> TableDataset:
    """Fit the transformer on all rows, hold out the validation rows, encode the training rows."""
    discrete = check_frame(frame, options.discrete, options.discrete_max_levels)
    transformer = TableTransformer.fit(
        frame, discrete, max_modes=options.max_modes, weight_threshold=options.mode_weight_threshold,
        max_categories=options.max_categories, seed=options.seed,
    )  # fmt: skip
    train, valid = split_rows(frame, options.validation_fraction, options.seed)
    encoded = transformer.encode_columns(train)
    matrix = torch.tensor(transformer.transform_encoded(encoded, seed=options.seed), dtype=torch.float32)
    flags = [isinstance(c, DiscreteColumn) for c in transformer.columns]
    codes = np.stack([x for x, f in zip(encoded, flags, strict=True) if f], axis=1) if any(flags) else None
    counts = [c.counts for c in transformer.discrete]

    def stream(_: Any, cfg: Config, device: torch.device, channels_last: bool) -> TrainingBySampling:
        if cfg.data.xflip:
            raise ConfigError("'data.xflip' mirrors images; a table's rows draw their own batches")
        sampler = ConditionSampler(codes, counts, device)
        return TrainingBySampling(matrix.to(device), sampler, cfg.data.batch_size, cfg.train.seed)

    table_info = {
        "format": TABLE_FORMAT,
        "transformer": transformer.state_dict(),
        "train_rows": len(train),
        "validation_rows": 0 if valid is None else len(valid),
    }
    return TableDataset(
        x=matrix, name=name, model_inputs=layout_inputs(transformer), info={"table": table_info},
        stream=stream, frame=frame, validation=valid, transformer=transformer,
    )  # fmt: skip


@register_dataset(
    "table",
    options=TableOptions,
    description="a CSV/Parquet table, or a shipped one (iris, wine, breast_cancer, fair, penguins)",
    default_metrics="fidelity",
    metrics=("fidelity",),
)
def table(path: str = "", options: TableOptions = TableOptions()) -> TableDataset:
    """``path``: the table (see ``read_source``); the other keys are ``TableOptions``."""
    return table_dataset(read_source(path), options, name=Path(path).stem or "table")


def reference_rows(cfg: Config, dataset: Any = None) -> pd.DataFrame:
    """The rows a table run is scored against: those it held out (all of them when it held none).
    From its dataset when the caller has it (training), else read and split again as the ``table``
    builder did (no transformer fit needed)."""
    if isinstance(dataset, TableDataset) and dataset.frame is not None:
        return dataset.validation if dataset.validation is not None else dataset.frame
    params = dict(cfg.data.params)
    path = str(params.pop("path", "") or "")
    if not path:
        raise EvalError(
            "this table run was trained from an in-memory frame, so its held-out rows are nowhere on"
            " disk: score it with `ganforge tabular eval RUN --real TABLE`"
        )
    frame = read_source(path)
    options = TableOptions(**params)
    valid = split_rows(frame, options.validation_fraction, options.seed)[1]
    return valid if valid is not None else frame
