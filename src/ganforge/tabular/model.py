"""``TabularGAN``: CTGAN (Xu et al. 2019) as a fit/sample/save/load object over pandas frames.

``fit`` is an ordinary ganforge run: preset ``tabular/ctgan`` with the constructor's parameters,
trained by ``ganforge.train`` through the same session builder as images (run dir, safetensors
checkpoints, ``--resume``, divergence guard, TensorBoard, early stopping on the periodic
``fidelity`` evaluation). The pieces are registered, not wired here: dataset ``table``
(``dataset.py``: transformer, training-by-sampling), model and objective ``ctgan`` (``family.py``,
``objective.py``) and task ``tabular`` (``task.py``: the handle that samples, with conditions).

A scikit-learn estimator (``estimator.py``): ``clone``, ``get_params``/``set_params`` and
``GridSearchCV``-style copies work; ``fit`` takes a DataFrame, a 2-D array (columns ``x0, x1, ...``;
``sample`` then returns an array of its dtype) or a table's path.

A saved model is a directory: ``generator.safetensors`` (the generator's weights) and
``model.json`` (constructor arguments, the transformer's fitted state, the training summary). No
pickle anywhere: loading a model cannot run code.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator

from ganforge.api import train
from ganforge.config import load_config, read_yaml, resolve_config_path
from ganforge.errors import ConfigError
from ganforge.tabular.dataset import TABLE_FORMAT, TableOptions, layout_inputs, table_dataset
from ganforge.tabular.estimator import (
    FittedRun,
    NotFittedError,
    array_columns,
    as_frame,
    record_features,
    save_generator,
)
from ganforge.tabular.networks import TabularGenerator
from ganforge.tabular.task import TabularHandle
from ganforge.tabular.transformer import TableTransformer
from ganforge.tasks import open_run
from ganforge.training.build import build_networks, resolve_device
from ganforge.training.checkpoint import load_module_state
from ganforge.utils.io import read_jsonl
from ganforge.utils.rng import callers_random_state

PRESET = "tabular/ctgan"  # the bundled preset a fit starts from (cadences, optimiser betas)
FORMAT = "ganforge.tabular/1"
CLOCK_KEYS = ("step", "time", "img_per_s")  # log keys a history leaves out (the step becomes the epoch)
META = "model.json"


class TabularGAN(FittedRun, BaseEstimator):
    """CTGAN for pandas frames and 2-D arrays. Defaults follow the paper; see ``docs/tabular.md``.

    ``patience`` (evaluations without improvement; None = no early stopping and no validation
    split) and ``eval_every`` (epochs) control early stopping on ``validation_fraction`` of the rows;
    ``max_categories`` bounds a discrete column's width (rarer values share an ``other`` slot);
    ``discrete_max_levels`` is the auto-detection threshold for integer-valued numeric columns.

    The constructor only stores its arguments (scikit-learn's rule, so ``clone`` and grid searches
    can copy them); ``fit`` checks them. Fitted state: ``handle_`` (the generator with its
    transformer; also ``handle``), ``training_`` (also ``training``), ``device_`` (the resolved
    ``device``), ``array_dtype_`` (the dtype ``sample`` returns arrays in; None after a frame),
    ``n_features_in_`` and ``feature_names_in_`` (string-named frames).
    """

    SAVED_META, SAVED_FORMAT = META, FORMAT

    def __init__(
        self,
        epochs: int = 300,
        batch_size: int = 500,
        pac: int = 10,
        embedding_dim: int = 128,
        generator_dims: tuple[int, ...] = (256, 256),
        discriminator_dims: tuple[int, ...] = (256, 256),
        generator_lr: float = 2e-4,
        discriminator_lr: float = 2e-4,
        weight_decay: float = 1e-6,
        discriminator_steps: int = 1,
        gp_lambda: float = 10.0,
        tau: float = 0.2,
        max_modes: int = 10,
        mode_weight_threshold: float = 0.005,
        max_categories: int = 100,
        discrete_max_levels: int = 10,
        validation_fraction: float = 0.1,
        patience: int | None = 6,
        eval_every: int = 5,
        ema_kimg: float = 10.0,
        device: str = "auto",
        progress: bool = True,
        seed: int = 0,
    ) -> None:
        # scikit-learn's rule: store the arguments unchanged (clone rebuilds from them); fit checks them
        self.epochs = epochs
        self.batch_size = batch_size
        self.pac = pac
        self.embedding_dim = embedding_dim
        self.generator_dims = generator_dims
        self.discriminator_dims = discriminator_dims
        self.generator_lr = generator_lr
        self.discriminator_lr = discriminator_lr
        self.weight_decay = weight_decay
        self.discriminator_steps = discriminator_steps
        self.gp_lambda = gp_lambda
        self.tau = tau
        self.max_modes = max_modes
        self.mode_weight_threshold = mode_weight_threshold
        self.max_categories = max_categories
        self.discrete_max_levels = discrete_max_levels
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.eval_every = eval_every
        self.ema_kimg = ema_kimg
        self.device = device
        self.progress = progress
        self.seed = seed

    @property
    def params(self) -> dict[str, Any]:
        """The constructor's arguments as JSON (the networks' widths as lists): what ``config``
        reads and ``save`` records."""
        p = self.get_params(deep=False)
        return {**p, **{k: list(p[k]) for k in ("generator_dims", "discriminator_dims")}}

    @staticmethod
    def _check_params(p: dict[str, Any]) -> None:
        for key in ("epochs", "batch_size", "pac", "embedding_dim", "discriminator_steps", "max_modes",
                    "eval_every"):  # fmt: skip
            if not isinstance(p[key], int) or p[key] < 1:
                raise ConfigError(f"'{key}' must be a positive integer, got {p[key]!r}")
        if p["max_categories"] < 2:
            raise ConfigError(f"'max_categories' must be at least 2, got {p['max_categories']}")
        if p["batch_size"] % p["pac"]:
            raise ConfigError(f"'batch_size' ({p['batch_size']}) must be divisible by 'pac' ({p['pac']})")
        if not 0.0 <= p["validation_fraction"] < 1.0:
            raise ConfigError(f"'validation_fraction' must be in [0, 1), got {p['validation_fraction']}")
        if p["patience"] is not None and p["patience"] < 1:
            raise ConfigError(f"'patience' must be a positive integer or None, got {p['patience']}")

    # ------------------------------------------------------------------ fitted state
    @property
    def training(self) -> dict[str, Any]:
        """``training_``, or {} before fitting."""
        return getattr(self, "training_", {})

    @property
    def discrete_columns(self) -> list[Any]:
        return [c.name for c in self._fitted().transformer.discrete]

    @property
    def generator(self) -> TabularGenerator | None:
        return None if self.handle is None else self.handle.generator

    @property
    def transformer(self) -> TableTransformer | None:
        return None if self.handle is None else self.handle.transformer

    # ------------------------------------------------------------------ fitting
    def config(self, path: str = "", discrete: list[Any] | None = None) -> dict[str, Any]:
        """The run's config: preset ``tabular/ctgan`` (its cadences: log every epoch, checkpoint and
        evaluate as it says) with these parameters; no early stopping, and so no validation split,
        when ``patience`` is None. The parameters are checked here (``fit`` starts with it)."""
        p = self.params
        self._check_params(p)
        early = p["patience"] is not None
        raw = read_yaml(resolve_config_path(PRESET))
        raw["model"].update(
            {k: p[k] for k in ("pac", "embedding_dim", "generator_dims", "discriminator_dims")}
        )
        raw["data"].update(
            {k: p[k] for k in ("batch_size", "max_modes", "mode_weight_threshold", "max_categories",
                               "discrete_max_levels", "seed")},
            path=path, discrete=discrete, validation_fraction=p["validation_fraction"] if early else 0.0,
        )  # fmt: skip
        raw["objective"].update(gp_lambda=p["gp_lambda"], tau=p["tau"], n_critic=p["discriminator_steps"])
        for net, lr in (("g", p["generator_lr"]), ("d", p["discriminator_lr"])):
            raw["optim"][net].update(lr=lr, weight_decay=p["weight_decay"])
        raw["train"].update(
            steps=p["epochs"], eval_every=p["eval_every"] if early else 0, patience=p["patience"] or 0,
            ema_kimg=p["ema_kimg"], seed=p["seed"], device=p["device"], progress=p["progress"],
        )  # fmt: skip
        return raw

    def fit(
        self,
        data: pd.DataFrame | np.ndarray | str | Path,
        discrete_columns: list[Any] | None = None,
        *,
        run_dir: str | Path | None = None,
        resume: bool = False,
        force: bool = False,
        overrides: list[str] | None = None,
    ) -> TabularGAN:
        """Train on ``data`` (a frame, a 2-D array, or a .csv/.parquet path) through ganforge's run
        machinery.

        ``discrete_columns=None`` auto-detects them (non-numeric dtypes, and integer-valued numeric
        columns with at most ``discrete_max_levels`` values); a given list is used as is, plus any
        non-numeric column it leaves out (for an array: positions or ``x0``-style names).
        ``run_dir`` keeps the run (config, checkpoints, logs, TensorBoard; ``resume=True``
        continues a killed one); None trains in a temporary folder. The model kept is the best
        evaluation's (early stopping), else the last one.
        """
        data, dtype = as_frame(data, type(self).__name__)
        if dtype is not None:
            discrete_columns = array_columns(discrete_columns, data.shape[1])
        in_memory = isinstance(data, pd.DataFrame) or not isinstance(data, str | Path)
        cfg = load_config(self.config("" if in_memory else str(data), discrete_columns), overrides)
        device = resolve_device(self.device)
        with tempfile.TemporaryDirectory() as tmp, callers_random_state(device):
            dataset = None
            if in_memory:  # checked and encoded here, with the run's data keys: a config holds no frame
                keys = {k: v for k, v in cfg.data.params.items() if k != "path"}
                dataset = table_dataset(data, TableOptions(**keys))
            out = Path(run_dir) if run_dir is not None else Path(tmp) / "run"
            run = train(cfg, out=out, resume=resume, force=force, dataset=dataset)
            self._take_run(run.path, run.summary, device, dtype)
        return self

    def _take_run(
        self, run_dir: Path, summary: dict[str, Any], device: torch.device, dtype: np.dtype | None = None
    ) -> None:
        """Keep the run's best (else last) generator and summarise its training in ``training_``."""
        best = run_dir / "checkpoints" / "best.safetensors"
        handle = open_run(run_dir, checkpoint=best if best.is_file() else None, device=str(device))
        self._keep(handle, training_summary(run_dir, summary, handle), None if dtype is None else dtype.name)

    def _keep(self, handle: TabularHandle, training: dict[str, Any], array_dtype: str | None) -> None:
        """The fitted state (``fit``, ``from_run``, ``load``): the handle, its training summary, and
        the dtype ``sample`` gives arrays in (None: frames)."""
        self.handle_, self.training_ = handle, training
        self.device_, self.array_dtype_ = handle.device, array_dtype
        record_features(self, handle.transformer.names, named=array_dtype is None)

    @classmethod
    def from_run(cls, run_dir: str | Path, device: str = "cpu") -> TabularGAN:
        """A trained table run (``ganforge tabular fit``, ``ganforge train tabular/ctgan``), to sample.
        Its ``params`` are the constructor's defaults; what the run trained with is ``handle.config``
        (saved with the model as ``config``)."""
        run_dir = Path(run_dir)
        summary_path = run_dir / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        model = cls(device=device, progress=False)
        model._take_run(run_dir, summary, resolve_device(device))
        return model

    # ------------------------------------------------------------------ sampling
    def _fitted(self) -> TabularHandle:
        if self.handle is None:
            raise NotFittedError("this TabularGAN is not fitted yet: call fit(data) or TabularGAN.load(path)")
        return self.handle

    def sample(
        self, n: int, conditions: dict[Any, Any] | None = None, seed: int | None = None
    ) -> pd.DataFrame | np.ndarray:
        """``n`` synthetic rows with the training frame's column names, order and dtypes (an array
        of the training array's dtype when ``fit`` was given one).

        ``conditions={"column": value, ...}`` (discrete columns only) returns rows that all match:
        the first condition is fed as the conditional vector (Sec. 4.3), then rows that do not match
        every condition are rejected and more are drawn. ``seed=None`` draws a fresh seed.
        """
        rows = self._fitted().sample(n, conditions, seed)
        return rows if self.array_dtype_ is None else rows.to_numpy(dtype=self.array_dtype_)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write ``path/generator.safetensors`` and ``path/model.json`` (each atomically)."""
        handle = self._fitted()
        meta = {
            "format": FORMAT,
            "params": self.params,
            "config": handle.config.to_dict(),  # what the networks were built from (--set included)
            "transformer": handle.transformer.state_dict(),
            "training": self.training,
            "array_dtype": self.array_dtype_,
        }
        return save_generator(path, handle.generator, META, meta)

    @classmethod
    def restore(cls, meta: dict[str, Any], params: dict[str, Any], tensors: dict[str, torch.Tensor],
                weights: Path) -> TabularGAN:  # fmt: skip
        """(``load`` of a table run's folder takes its best evaluation's generator.)"""
        params["generator_dims"] = tuple(params["generator_dims"])
        params["discriminator_dims"] = tuple(params["discriminator_dims"])
        model = cls(**params)
        transformer = TableTransformer.from_state(meta["transformer"])
        cfg = load_config(meta.get("config") or model.config())  # older saves: their params
        g = build_networks(cfg, (transformer.width,), 0, layout_inputs(transformer))["g"]
        load_module_state(g, "g", tensors, weights)
        training = meta.get("training", {})
        info = {"table": {"format": TABLE_FORMAT, "transformer": meta["transformer"], **_rows(training)}}
        dev = resolve_device(params["device"])
        model._keep(TabularHandle(g.to(dev), cfg, weights, dev, info), training, meta.get("array_dtype"))
        return model


def training_summary(run_dir: Path, summary: dict[str, Any], handle: TabularHandle) -> dict[str, Any]:
    """``TabularGAN.training``: epochs run, the best evaluation, why it stopped, and a per-epoch
    history (the logged losses, plus ``fidelity`` on evaluated epochs) from the run's logs."""
    info = handle.info["table"]
    per_epoch = max(1, info["train_rows"] // handle.config.data.batch_size)
    best = summary.get("best")
    key = best["key"] if best else "fidelity"
    evals = {line["step"]: line[key] for line in read_jsonl(run_dir / "logs" / "evals.jsonl") if key in line}
    history = []
    for line in read_jsonl(run_dir / "logs" / "metrics.jsonl"):  # wall-clock keys left out: reproducible
        record = {
            "epoch": line["step"] // per_epoch,
            **{k: v for k, v in line.items() if k not in CLOCK_KEYS},
        }
        history.append({**record, **({key: evals[line["step"]]} if line["step"] in evals else {})})
    return {
        "epochs_run": summary.get("step", 0) // per_epoch,
        "steps": summary.get("step", 0),
        "best_epoch": best["step"] // per_epoch if best else None,
        "best_fidelity": best["value"] if best else None,
        "stopped_early": summary.get("stopped_early"),
        "train_rows": info["train_rows"],
        "validation_rows": info["validation_rows"],
        "history": history,
    }


def _rows(training: dict[str, Any]) -> dict[str, int]:
    return {k: int(training.get(k, 0)) for k in ("train_rows", "validation_rows")}
