"""GAIN as a family on the session builder: dataset ``incomplete_table``, model ``gain``, task ``imputation``.

An imputation run is an ordinary ganforge run (``ganforge impute``, ``Imputer.fit``, or
``ganforge train tabular/gain``): run dir, safetensors checkpoints, ``--resume``, ``--set``, the
divergence guard, TensorBoard. What makes a table with holes more than a sample set:

- the dataset's ``x`` packs the encoded rows and their per-column mask, ``[data | mask]`` (the
  ``gain`` objective unpacks it), batched by the ordinary ``BatchStream``;
- the networks depend on the table's layout, which the dataset hands the ``gain`` model as its
  ``model_inputs`` (recorded in every checkpoint, so a run's generator is rebuilt without the data);
- the fitted ``TableCodec`` is the dataset's ``info["codec"]``, so ``open_run(run)`` returns an
  ``ImputerHandle`` that imputes new frames without the training table.

    data: {name: incomplete_table, path: survey.csv, discrete: [rating]}
    data: {name: incomplete_table, path: penguins}      # a shipped table (data/tables.py)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganforge.data.base import ArrayDataset
from ganforge.errors import CheckpointError, ConfigError, DataError
from ganforge.models.base import ModelOptions, Networks, register_data_model
from ganforge.options import PositiveInt
from ganforge.registry import register_dataset, register_task, register_variant
from ganforge.tabular.dataset import read_source
from ganforge.tabular.gain_codec import TableCodec
from ganforge.tabular.gain_objective import GainGenerator, gain_networks, impute_rows
from ganforge.tasks.base import Handle, Task
from ganforge.utils.optional import lazy_pandas

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_pandas()

CHUNK_ROWS = 65536  # rows per generator call when imputing: bounded memory on big tables
NO_SAMPLE_METRIC = (
    "imputation runs have no sample metric: score them on punched holes (benchmarks/imputation.py)"
)


# ---------------------------------------------------------------------------- dataset
@dataclass(frozen=True)
class IncompleteTableOptions:
    """``discrete``: integer-coded categorical columns (text, categorical and boolean columns are
    categorical anyway; every other numeric column is continuous)."""

    discrete: tuple[Any, ...] | None = None


def check_table(frame: Any) -> None:
    if not isinstance(frame, pd.DataFrame) or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError("the table to impute must be a DataFrame with at least one row and column")


def incomplete_dataset(
    frame: pd.DataFrame, options: IncompleteTableOptions = IncompleteTableOptions(), name: str = "table"
) -> ArrayDataset:
    """The dataset of an in-memory table: the codec fitted on its observed cells, its packed rows."""
    check_table(frame)
    discrete = [options.discrete] if isinstance(options.discrete, str) else list(options.discrete or [])
    codec = TableCodec(frame, discrete)
    state = codec.state_dict()  # checked now: a category a run cannot record fails before training
    return ArrayDataset(
        x=torch.from_numpy(codec.packed(frame)), name=name,
        model_inputs={"layout": codec.layout()}, info={"codec": state},
    )  # fmt: skip


@register_dataset(
    "incomplete_table",
    options=IncompleteTableOptions,
    description="a CSV/Parquet table with missing cells, or a shipped one (penguins, ...), for GAIN",
)
def incomplete_table(
    path: str = "", options: IncompleteTableOptions = IncompleteTableOptions()
) -> ArrayDataset:
    """``path``: a .csv/.parquet file, or a shipped table's name (``read_source``)."""
    return incomplete_dataset(read_source(path), options, name=Path(path).stem or "table")


# ---------------------------------------------------------------------------- model
@dataclass(frozen=True)
class GainModelOptions(ModelOptions):
    """``hidden``: the width of both three-layer MLPs; None = the encoded data width (the paper's
    code), at least 8."""

    hidden: PositiveInt | None = None


@register_data_model(
    "gain",
    GainModelOptions,
    "GAIN (Yoon et al. 2018): G fills a row's holes, D guesses which cells were observed",
    task="imputation",
    inputs=("table",),
)
def gain(shape: tuple[int, ...], num_classes: int, options: GainModelOptions, model_inputs: dict) -> Networks:
    if "layout" not in model_inputs:
        raise ConfigError(
            "model 'gain' imputes tables: use it with data.name=incomplete_table (it needs their layout)"
        )
    return gain_networks(model_inputs["layout"], options.hidden)


register_variant("gain_tiny", base="gain", description="gain with 8-unit networks, for tests", hidden=8)


# ---------------------------------------------------------------------------- task
class ImputerHandle(Handle):
    """A trained GAIN generator with its table codec: ``impute(frame) -> frame``.

    ``open_run("runs/impute-survey", expect="imputation").impute(frame)``: observed cells come back
    bit for bit, every column keeps its dtype, categories stay valid.
    """

    generator: GainGenerator

    def load_info(self, checkpoint: Any) -> None:
        if "codec" not in self.info:
            raise CheckpointError(f"checkpoint '{checkpoint}' records no table codec to impute with")
        self.codec = TableCodec.from_state(self.info["codec"])

    @torch.no_grad()
    def impute(self, frame: pd.DataFrame, seed: int | None = None) -> pd.DataFrame:
        """A copy of ``frame`` with every missing cell imputed. The noise in the holes comes from a
        private RNG seeded with ``seed`` (default: the run's ``train.seed + 1``), chunked by
        ``CHUNK_ROWS`` rows; the global RNG is untouched."""
        data, mask = self.codec.encode(frame)
        if mask.all():
            return frame.copy()
        seed = int(self.config.train.seed) + 1 if seed is None else int(seed)
        gen = torch.Generator(device=self.device).manual_seed(seed)
        x, m = torch.from_numpy(data).to(self.device), torch.from_numpy(mask).to(self.device)
        chunks = zip(x.split(CHUNK_ROWS), m.split(CHUNK_ROWS), strict=True)
        x_hat = torch.cat([impute_rows(self.generator, xc, mc, gen)[1] for xc, mc in chunks])
        return self.codec.fill(frame, x_hat.cpu().numpy().astype(np.float64), mask)


@register_task("imputation", description="a table with holes in, the same table filled: GAIN")
class ImputationTask(Task):
    """Missing-data imputation: the handle fills a frame's holes. Runs are scored by
    ``benchmarks/imputation.py`` (RMSE / accuracy on punched holes), not by a sample metric."""

    handle_class = ImputerHandle
    report_title = "Imputation"
    loader = "ganforge.tabular.Imputer.from_run (or `ganforge impute --run RUN --resume`)"
    network = GainGenerator
    no_sample_metric = NO_SAMPLE_METRIC


__all__ = [
    "GainModelOptions",
    "ImputationTask",
    "ImputerHandle",
    "IncompleteTableOptions",
    "incomplete_dataset",
    "incomplete_table",
]
