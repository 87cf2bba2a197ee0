"""GAIN imputation for users: ``Imputer().fit_transform(frame)``, and training an imputation run.

The method (Yoon, Jordon & van der Schaar 2018) and its losses are ``tabular/gain_objective.py``;
the table's encoding is ``tabular/gain_codec.py`` (``TableCodec``); the dataset ``incomplete_table``,
the model ``gain`` and the task ``imputation`` are ``tabular/gain_family.py``. Training goes through
the one session builder as every run does (``train_imputation``): a run dir with ``config.yaml``,
safetensors checkpoints, logs and TensorBoard, the divergence guard, ``--resume``. ``ganforge
impute`` keeps that run (``runs/impute-<table>``); ``Imputer`` trains in a temporary one unless
given ``run_dir``, and imputes with the run's handle (``ImputerHandle``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ganforge.config import Config, load_config, read_yaml, resolve_config_path
from ganforge.errors import ConfigError
from ganforge.tabular.gain_codec import TableCodec
from ganforge.tabular.gain_family import (
    ImputerHandle,
    IncompleteTableOptions,
    check_table,
    incomplete_dataset,
)
from ganforge.tabular.gain_objective import GainObjective, GainOptions
from ganforge.tasks import open_run, task_of
from ganforge.training.build import Session, build_session, resolve_device
from ganforge.utils.distributed import shutdown
from ganforge.utils.optional import lazy_pandas
from ganforge.utils.rng import callers_random_state

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_pandas()

DEFAULT_ITERATIONS = 2000
PRESET = "tabular/gain"  # the bundled preset: GAIN's defaults, which Imputer and `ganforge impute` start from
TASK = "imputation"


# ---------------------------------------------------------------------------- an imputation run
def imputation_config(cfg: Config, n_rows: int) -> Config:
    """``cfg`` checked to be an imputation run (its model's task), with ``data.batch_size`` at most
    the table's rows (a small table trains on all of it at once, as GAIN's code does)."""
    if task_of(cfg).name != TASK:
        raise ConfigError(f"model '{cfg.model.name}' does not impute tables (try model.name=gain)")
    batch = min(cfg.data.batch_size, n_rows)
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, batch_size=batch))


def train_imputation(
    cfg: Config, run_dir: Path, frame: pd.DataFrame, *, resume: bool = False, force: bool = False
) -> tuple[Session, ImputerHandle]:
    """Train (or, with ``resume``, continue) the imputation run ``cfg`` on ``frame`` in ``run_dir``;
    the session and the run's handle on its final checkpoint.

    The table is the caller's frame (read once, by the caller), encoded by the ``incomplete_table``
    dataset's own function with the config's ``data.*`` keys; ``data.path`` only records where it
    came from. So a resumed run re-encodes the same frame the same way.
    """
    cfg = imputation_config(cfg, len(frame))
    params = dict(cfg.data.params)
    name = Path(str(params.pop("path", "") or "table")).stem
    dataset = incomplete_dataset(frame, IncompleteTableOptions(**params), name=name)
    session = build_session(cfg, run_dir, resume=resume, force=force, dataset=dataset)
    try:
        session.trainer.fit()
    finally:
        shutdown(session.dist)
    return session, open_run(run_dir, device=cfg.train.device, expect=TASK)


def training_steps(epochs: int | None, iterations: int | None, n_rows: int, batch: int) -> int:
    """GAIN's run length: ``iterations`` steps, or ``epochs`` passes over the rows rounded up to
    whole steps (GAIN's code samples batches with replacement, so a pass is rows / batch steps)."""
    if epochs is not None:
        return max(1, math.ceil(epochs * n_rows / batch))
    return iterations or DEFAULT_ITERATIONS


# ---------------------------------------------------------------------------- the user-facing imputer
def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class Imputer:
    """Fill the missing cells of a DataFrame with GAIN; observed cells come back unchanged.

    >>> Imputer(iterations=2000, seed=0).fit_transform(df, discrete_columns=["sex"])  # doctest: +SKIP

    Train length: ``iterations`` (generator steps) or ``epochs`` (passes over the rows, rounded up
    to whole steps); at most one of them, default ``DEFAULT_ITERATIONS``. Columns that are not
    numeric (strings, categoricals, booleans) are categorical automatically; ``discrete_columns``
    adds integer-coded ones. ``device``: ``cpu`` (default; the networks are tiny), ``cuda``, ``auto``.
    ``run_dir``: keep the training run there (a new folder; ``Imputer.from_run`` reopens it);
    by default it lives in a temporary folder while ``fit`` runs.
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
        run_dir: str | Path | None = None,
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
        self.device = resolve_device(device)
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.handle: ImputerHandle | None = None
        self.codec: TableCodec | None = None
        self.objective: GainObjective | None = None
        self.history: list[dict[str, float]] = []

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str = "cpu") -> Imputer:
        """A fitted imputer from an imputation run (``ganforge impute``'s ``--run``, or ``run_dir=``)."""
        handle = open_run(run_dir, device=device, expect=TASK)
        imputer = cls(seed=handle.config.train.seed, device=device, run_dir=run_dir)
        imputer.handle, imputer.codec = handle, handle.codec
        return imputer

    def _steps(self, n_rows: int, batch: int) -> int:
        return training_steps(self.epochs, self.iterations, n_rows, batch)

    def config(self, n_rows: int, discrete_columns: list[Any] | None = None) -> Config:
        """The run config ``fit`` trains with: the bundled preset with this imputer's settings, quiet
        (no progress bar or diagnostics; the history logs 20 windows), one checkpoint at the end."""
        batch = min(self.batch_size, n_rows)
        steps = self._steps(n_rows, batch)
        raw = read_yaml(resolve_config_path(PRESET))  # its betas, EMA and guard; these keys are ours
        raw["model"]["hidden"] = self.hidden
        raw["data"].update(path="", batch_size=batch, discrete=list(discrete_columns or []) or None)
        raw["objective"].update(hint_rate=self.hint_rate, alpha=self.alpha)
        for net in ("g", "d"):
            raw["optim"][net]["lr"] = self.lr
        raw["train"].update(
            steps=steps, seed=self.seed, device=str(self.device), progress=False, diagnostics=False,
            log_every=max(1, steps // 20), ckpt_every=steps, sample_every=steps,
        )  # fmt: skip
        return load_config(raw)

    def fit(self, df: pd.DataFrame, discrete_columns: list[Any] | None = None) -> Imputer:
        check_table(df)
        cfg = self.config(len(df), discrete_columns)
        with callers_random_state(self.device), contextlib.ExitStack() as stack:
            run_dir = self.run_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gain-")))
            session, self.handle = train_imputation(cfg, run_dir, df)
            log = (run_dir / "logs" / "metrics.jsonl").read_text().splitlines()
        self.history = [json.loads(line) for line in log if line.strip()]  # the logged windows
        self.codec, self.objective = self.handle.codec, session.trainer.objective
        for net in self.objective.networks().values():
            net.eval()
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``df`` with every missing cell imputed (same columns, dtypes kept where possible)."""
        if self.handle is None:
            raise ConfigError("call fit() before transform()")
        return self.handle.impute(df, seed=self.seed + 1)

    def fit_transform(self, df: pd.DataFrame, discrete_columns: list[Any] | None = None) -> pd.DataFrame:
        return self.fit(df, discrete_columns).transform(df)


__all__ = ["Imputer", "TableCodec", "imputation_config", "train_imputation"]
