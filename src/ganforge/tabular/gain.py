"""GAIN imputation for users: ``Imputer().fit_transform(frame)``, and training an imputation run.

The method (Yoon, Jordon & van der Schaar 2018) and its losses are ``tabular/gain_objective.py``;
the table's encoding is ``tabular/gain_codec.py`` (``TableCodec``); the dataset ``incomplete_table``,
the model ``gain`` and the task ``imputation`` are ``tabular/gain_family.py``. Training goes through
the one session builder as every run does (``train_imputation``): a run dir with ``config.yaml``,
safetensors checkpoints, logs and TensorBoard, the divergence guard, ``--resume``. ``ganforge
impute`` keeps that run (``runs/impute-<table>``); ``Imputer`` trains in a temporary one unless
given ``run_dir``, and imputes with the run's handle (``ImputerHandle``). ``Imputer`` is a
scikit-learn transformer (``estimator.py``: clone, pipelines, arrays in and out) and saves as
``generator.safetensors`` + ``imputer.json`` (``save``/``load``; no pickle).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin

from ganforge.config import Config, load_config, read_yaml, resolve_config_path
from ganforge.errors import ConfigError
from ganforge.tabular.estimator import (
    FittedRun,
    NotFittedError,
    array_columns,
    as_frame,
    record_features,
    save_generator,
)
from ganforge.tabular.gain_codec import TableCodec, from_json, to_json
from ganforge.tabular.gain_family import (
    ImputerHandle,
    IncompleteTableOptions,
    check_table,
    incomplete_dataset,
)
from ganforge.tabular.gain_objective import GainObjective, GainOptions
from ganforge.tasks import open_run, task_of
from ganforge.tasks.loading import generator_of
from ganforge.training.build import Session, build_session, resolve_device
from ganforge.training.checkpoint import load_module_state
from ganforge.utils.distributed import shutdown
from ganforge.utils.io import read_jsonl
from ganforge.utils.rng import callers_random_state

DEFAULT_ITERATIONS = 2000
PRESET = "tabular/gain"  # the bundled preset: GAIN's defaults, which Imputer and `ganforge impute` start from
TASK = "imputation"
IMPUTER_FORMAT = "ganforge.imputer/1"  # a saved Imputer: generator.safetensors + IMPUTER_META
IMPUTER_META = "imputer.json"


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


@dataclasses.dataclass(frozen=True)
class ImputerSettings:
    """An ``Imputer``'s arguments checked and converted: what ``fit`` trains with."""

    iterations: int | None
    epochs: int | None
    batch_size: int
    hidden: int | None
    hint_rate: float
    alpha: float
    lr: float
    seed: int
    device: torch.device

    @classmethod
    def of(cls, imputer: Imputer) -> ImputerSettings:
        """Checked as the constructor used to check them (same errors), now that it only stores them."""
        if imputer.iterations is not None and imputer.epochs is not None:
            raise ConfigError("give either iterations or epochs, not both")
        optional = {k: getattr(imputer, k) for k in ("iterations", "epochs", "hidden")}
        GainOptions(hint_rate=imputer.hint_rate, alpha=imputer.alpha)  # the objective's own checks
        if imputer.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {imputer.lr}")
        return cls(
            **{k: None if v is None else _positive_int(k, v) for k, v in optional.items()},
            batch_size=_positive_int("batch_size", imputer.batch_size),
            hint_rate=float(imputer.hint_rate), alpha=float(imputer.alpha), lr=float(imputer.lr),
            seed=int(imputer.seed), device=resolve_device(imputer.device),
        )  # fmt: skip


class Imputer(FittedRun, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Fill the missing cells of a DataFrame or a 2-D array with GAIN; observed cells come back unchanged.

    >>> Imputer(iterations=2000, seed=0).fit_transform(df, discrete_columns=["sex"])  # doctest: +SKIP

    Train length: ``iterations`` (generator steps) or ``epochs`` (passes over the rows, rounded up
    to whole steps); at most one of them, default ``DEFAULT_ITERATIONS``. Columns that are not
    numeric (strings, categoricals, booleans) are categorical automatically; ``discrete_columns``
    adds integer-coded ones (for an array: positions or ``x0``-style names). ``device``: ``cpu``
    (default; the networks are tiny), ``cuda``, ``auto``. ``run_dir``: keep the training run there
    (a new folder; ``Imputer.from_run`` reopens it); by default it lives in a temporary folder
    while ``fit`` runs.

    A scikit-learn transformer: the constructor only stores its arguments (so ``clone``,
    ``Pipeline`` and ``GridSearchCV`` can copy them) and ``fit`` checks them. Fitted state:
    ``handle_`` (the generator with its codec), ``codec_``, ``objective_`` (after ``fit`` only),
    ``history_``, ``device_``, ``n_features_in_`` and ``feature_names_in_`` (string-named
    frames); ``handle``, ``codec``, ``objective`` and ``history`` are the same, under the names
    they had before, and None (``[]``) before fitting.
    """

    SAVED_META, SAVED_FORMAT = IMPUTER_META, IMPUTER_FORMAT

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
        discrete_columns: list[Any] | None = None,
    ) -> None:
        # scikit-learn's rule: store the arguments unchanged (clone rebuilds from them); fit checks them
        self.iterations = iterations
        self.epochs = epochs
        self.hint_rate = hint_rate
        self.alpha = alpha
        self.batch_size = batch_size
        self.hidden = hidden
        self.lr = lr
        self.seed = seed
        self.device = device
        self.run_dir = run_dir
        self.discrete_columns = discrete_columns

    def __sklearn_tags__(self) -> Any:
        """Holes are the point (NaN allowed); text and categorical columns are taken as they are."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags

    # ------------------------------------------------------------------ the older attribute names
    @property
    def codec(self) -> TableCodec | None:
        return getattr(self, "codec_", None)

    @property
    def objective(self) -> GainObjective | None:
        return getattr(self, "objective_", None)

    @property
    def history(self) -> list[dict[str, float]]:
        return getattr(self, "history_", [])

    # ------------------------------------------------------------------ fitting
    def _keep(self, handle: ImputerHandle, history: list[dict[str, Any]], named: bool) -> None:
        """The fitted state (``fit``, ``from_run``, ``load``): ``handle`` and what follows from it;
        ``named``: fitted on a frame, whose column names scikit-learn should see."""
        self.handle_, self.codec_, self.history_, self.device_ = handle, handle.codec, history, handle.device
        record_features(self, [c.name for c in handle.codec.columns], named)

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str = "cpu") -> Imputer:
        """A fitted imputer from an imputation run (``ganforge impute``'s ``--run``, or ``run_dir=``)."""
        handle = open_run(run_dir, device=device, expect=TASK)
        imputer = cls(seed=handle.config.train.seed, device=device, run_dir=run_dir)
        imputer._keep(handle, read_jsonl(Path(run_dir) / "logs" / "metrics.jsonl"), named=True)
        return imputer

    def config(self, n_rows: int, discrete_columns: list[Any] | None = None) -> Config:
        """The run config ``fit`` trains with: the bundled preset with this imputer's settings, quiet
        (no progress bar or diagnostics; the history logs 20 windows), one checkpoint at the end."""
        s = ImputerSettings.of(self)
        batch = min(s.batch_size, n_rows)
        steps = training_steps(s.epochs, s.iterations, n_rows, batch)
        raw = read_yaml(resolve_config_path(PRESET))  # its betas, EMA and guard; these keys are ours
        raw["model"]["hidden"] = s.hidden
        raw["data"].update(path="", batch_size=batch, discrete=list(discrete_columns or []) or None)
        raw["objective"].update(hint_rate=s.hint_rate, alpha=s.alpha)
        for net in ("g", "d"):
            raw["optim"][net]["lr"] = s.lr
        raw["train"].update(
            steps=steps, seed=s.seed, device=str(s.device), progress=False, diagnostics=False,
            log_every=max(1, steps // 20), ckpt_every=steps, sample_every=steps,
        )  # fmt: skip
        return load_config(raw)

    def fit(self, X: Any, y: Any = None, *, discrete_columns: list[Any] | None = None) -> Imputer:
        """Train GAIN on ``X`` (a DataFrame, or a 2-D array or list of rows with NaN/None for
        missing cells; ``y`` is ignored, as by every scikit-learn transformer).
        ``discrete_columns`` given here wins over the constructor's, for this fit."""
        device = ImputerSettings.of(self).device
        frame, dtype = as_frame(X, type(self).__name__, lists=True)
        check_table(frame)
        discrete = self.discrete_columns if discrete_columns is None else discrete_columns
        if dtype is not None:
            discrete = array_columns(discrete, frame.shape[1])
        cfg = self.config(len(frame), discrete)
        with callers_random_state(device), contextlib.ExitStack() as stack:
            run_dir = Path(
                self.run_dir if self.run_dir is not None
                else stack.enter_context(tempfile.TemporaryDirectory(prefix="gain-"))
            )  # fmt: skip
            session, handle = train_imputation(cfg, run_dir, frame)
            history = read_jsonl(run_dir / "logs" / "metrics.jsonl")  # the logged windows
        self.objective_ = session.trainer.objective
        for net in self.objective_.networks().values():
            net.eval()
        self._keep(handle, history, named=dtype is None)
        return self

    def _fitted(self) -> ImputerHandle:
        if self.handle is None:
            raise NotFittedError("this Imputer is not fitted yet: call fit() before transform() or save()")
        return self.handle

    def transform(self, X: Any) -> Any:
        """A copy of ``X`` with every missing cell imputed: a frame keeps its columns and dtypes
        (where possible); an array (or list of rows) comes back as an array of its dtype, its
        columns taken in the order the imputer was fitted on."""
        handle = self._fitted()
        names = [c.name for c in handle.codec.columns]
        frame, dtype = as_frame(X, type(self).__name__, names=names, lists=True)
        out = handle.impute(frame)  # the noise is seeded with the run's seed + 1
        return out if dtype is None else out.to_numpy(dtype=dtype)

    def fit_transform(self, X: Any, y: Any = None, *, discrete_columns: list[Any] | None = None) -> Any:
        return self.fit(X, y, discrete_columns=discrete_columns).transform(X)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write ``path/generator.safetensors`` (G's weights) and ``path/imputer.json`` (arguments,
        the run's config, the table's codec and layout, the history), each atomically. No pickle."""
        handle = self._fitted()
        meta = {
            "format": IMPUTER_FORMAT,
            "params": self._json_params(),
            "config": handle.config.to_dict(),
            "info": handle.info,  # the data's shape, the networks' layout and the fitted codec
            "history": self.history_,
            "named": hasattr(self, "feature_names_in_"),  # fitted on a frame (scikit-learn's names)
        }
        return save_generator(path, handle.generator, IMPUTER_META, meta)

    def _json_params(self) -> dict[str, Any]:
        """The constructor's arguments as JSON: paths and devices as text, column names tagged as
        the codec tags them (``to_json``), so an integer-named column stays an integer."""
        params = self.get_params(deep=False)
        discrete = params["discrete_columns"]
        if discrete is not None:
            given = [discrete] if isinstance(discrete, str) else list(discrete)
            params["discrete_columns"] = [to_json(c, f"discrete column {c!r}") for c in given]
        params["run_dir"] = None if self.run_dir is None else str(self.run_dir)
        return {**params, "device": str(params["device"])}

    @classmethod
    def restore(cls, meta: dict[str, Any], params: dict[str, Any], tensors: dict[str, torch.Tensor],
                weights: Path) -> Imputer:  # fmt: skip
        if params["discrete_columns"] is not None:
            params["discrete_columns"] = [from_json(c) for c in params["discrete_columns"]]
        imputer = cls(**params)
        cfg, info = load_config(meta["config"]), meta["info"]
        g = generator_of(cfg, info, weights)
        load_module_state(g, "g", tensors, weights)
        dev = resolve_device(params["device"])
        imputer._keep(
            ImputerHandle(g.to(dev), cfg, weights, dev, info), meta["history"], named=bool(meta["named"])
        )
        return imputer


__all__ = ["Imputer", "TableCodec", "imputation_config", "train_imputation"]
