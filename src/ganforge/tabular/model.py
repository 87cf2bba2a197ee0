"""``TabularGAN``: CTGAN (Xu et al. 2019) as a fit/sample/save/load object over pandas frames.

``fit`` wires the pieces to ganforge's one ``Trainer``: the transformer (Sec. 4.2) turns the frame
into a matrix, ``TrainingBySampling`` (Sec. 4.3) is the data stream, the registered objective
``ctgan`` (Sec. 4.4) is the game, and ``EpochMonitor`` adds early stopping on a validation fidelity
score and a progress bar as a callback. ``sample`` draws rows from the generator in eval mode, and
for ``conditions`` feeds the matching conditional vector and keeps only rows that match exactly.

A saved model is a directory: ``generator.safetensors`` (the generator's weights) and
``model.json`` (constructor arguments, the transformer's fitted state, the training summary). No
pickle anywhere: loading a model cannot run code.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import ganforge.tabular.objective  # noqa: F401  (registers objective "ctgan")
from ganforge.config import OptimizerConfig
from ganforge.errors import CheckpointError, ConfigError, DataError
from ganforge.objectives.base import Context
from ganforge.registry import OBJECTIVES
from ganforge.tabular.fidelity import validation_fidelity
from ganforge.tabular.monitor import EpochMonitor
from ganforge.tabular.networks import PacDiscriminator, SpanLayout, TabularGenerator
from ganforge.tabular.sampler import ConditionSampler, TrainingBySampling
from ganforge.tabular.transformer import ContinuousColumn, DiscreteColumn, TableTransformer, is_auto_discrete
from ganforge.training.build import make_randn, resolve_device
from ganforge.training.checkpoint import load_module_state
from ganforge.training.trainer import Trainer
from ganforge.utils.distributed import DistInfo
from ganforge.utils.io import atomic_write, atomic_write_json

FORMAT = "ganforge.tabular/1"
WEIGHTS, META = "generator.safetensors", "model.json"
SAMPLE_CHUNK = 50_000  # rows generated per forward pass when sampling
MAX_REJECTION_ROUNDS = 50  # conditional sampling gives up after this many batches without enough matches


class TabularGAN:
    """CTGAN for pandas frames. Defaults follow the paper; see ``docs/tabular.md``.

    ``patience`` (evaluations without improvement; None = no early stopping and no validation
    split) and ``eval_every`` (epochs) control early stopping on ``validation_fraction`` of the rows;
    ``max_categories`` bounds a discrete column's width (rarer values share an ``other`` slot);
    ``discrete_max_levels`` is the auto-detection threshold for integer-valued numeric columns.
    """

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
        self.params: dict[str, Any] = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self.params["generator_dims"] = list(generator_dims)
        self.params["discriminator_dims"] = list(discriminator_dims)
        self._check_params()
        self.device = resolve_device(device)
        self.transformer: TableTransformer | None = None
        self.generator: TabularGenerator | None = None
        self.sampler: ConditionSampler | None = None
        self.training: dict[str, Any] = {}

    def _check_params(self) -> None:
        p = self.params
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

    # ------------------------------------------------------------------ fitting
    @property
    def discrete_columns(self) -> list[Any]:
        self._require_fitted()
        assert self.transformer is not None
        return [c.name for c in self.transformer.discrete]

    def fit(self, data: pd.DataFrame, discrete_columns: list[Any] | None = None) -> TabularGAN:
        """Fit the transformer and train. ``discrete_columns=None`` auto-detects them (non-numeric
        dtypes, and integer-valued numeric columns with at most ``discrete_max_levels`` values);
        a given list is used as is, plus any non-numeric column it leaves out."""
        p = self.params
        discrete = self._check_frame(data, discrete_columns)
        transformer = TableTransformer.fit(
            data, discrete, max_modes=p["max_modes"], weight_threshold=p["mode_weight_threshold"],
            max_categories=p["max_categories"], seed=p["seed"],
        )  # fmt: skip
        train, valid = self._split(data)
        encoded = transformer.encode_columns(train)
        matrix = torch.tensor(transformer.transform_encoded(encoded, seed=p["seed"]), dtype=torch.float32)
        flags = [isinstance(c, DiscreteColumn) for c in transformer.columns]
        codes = (
            np.stack([x for x, f in zip(encoded, flags, strict=True) if f], axis=1) if any(flags) else None
        )
        self.transformer = transformer
        self.sampler = ConditionSampler(codes, [c.counts for c in transformer.discrete], self.device)
        layout = self._layout(transformer)
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # deterministic per seed; the caller's RNG untouched
            torch.manual_seed(p["seed"])  # before the networks: their initial weights come from it too
            g = TabularGenerator(p["embedding_dim"], layout, tuple(p["generator_dims"]))
            d = PacDiscriminator(
                transformer.width + layout.cond_dim, p["pac"], tuple(p["discriminator_dims"])
            )
            self.generator = g.to(self.device)
            trainer, monitor = self._trainer(matrix.to(self.device), d.to(self.device), len(train), valid)
            trainer.fit()
        if monitor.best_state is not None:  # early stopping keeps the best validated weights
            self.generator.load_state_dict(monitor.best_state)
        self.generator.eval()
        self.training = {
            "epochs_run": trainer.state.step // monitor.steps_per_epoch,
            "steps": trainer.state.step,
            "best_epoch": monitor.best_epoch if monitor.best_state is not None else None,
            "best_fidelity": monitor.best_score if monitor.best_state is not None else None,
            "stopped_early": trainer.stop_reason,
            "train_rows": len(train),
            "validation_rows": 0 if valid is None else len(valid),
            "history": monitor.history,
        }
        return self

    def _check_frame(self, data: Any, discrete_columns: list[Any] | None) -> list[Any]:
        if not isinstance(data, pd.DataFrame):
            raise DataError(f"fit expects a pandas DataFrame, got {type(data).__name__}")
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
        if discrete_columns is None:
            return [c for c in data.columns if is_auto_discrete(data[c], self.params["discrete_max_levels"])]
        if isinstance(discrete_columns, str):
            discrete_columns = [discrete_columns]
        unknown = [c for c in discrete_columns if c not in data.columns]
        if unknown:
            raise ConfigError(
                f"discrete column '{unknown[0]}' is not a column of the table; columns: {list(data.columns)}"
            )
        implied = [c for c in data.columns if c not in discrete_columns and is_auto_discrete(data[c], 0)]
        return [*discrete_columns, *implied]

    def _split(self, data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """A seeded validation split, only when early stopping needs one."""
        frac = self.params["validation_fraction"]
        n_valid = round(frac * len(data)) if self.params["patience"] is not None else 0
        if n_valid < 1 or len(data) - n_valid < 1:
            return data, None
        perm = np.random.default_rng(self.params["seed"]).permutation(len(data))
        return data.iloc[perm[n_valid:]], data.iloc[perm[:n_valid]]

    def _layout(self, transformer: TableTransformer) -> SpanLayout:
        cond_spans = [
            spans[0]
            for c, spans in zip(transformer.columns, transformer.column_spans, strict=True)
            if isinstance(c, DiscreteColumn)
        ]
        return SpanLayout(transformer.spans, cond_spans)

    def _trainer(
        self, matrix: torch.Tensor, d: PacDiscriminator, n_train: int, valid: pd.DataFrame | None
    ) -> tuple[Trainer, EpochMonitor]:
        p = self.params
        assert self.generator is not None and self.sampler is not None and self.transformer is not None
        ctx = Context(device=self.device, randn=make_randn(self.device, DistInfo()))
        objective = OBJECTIVES.build(
            "ctgan", {"g": self.generator, "d": d}, ctx,
            pac=p["pac"], gp_lambda=p["gp_lambda"], tau=p["tau"], n_critic=p["discriminator_steps"],
        )  # fmt: skip
        stream = TrainingBySampling(matrix, self.sampler, p["batch_size"], seed=p["seed"])
        steps_per_epoch = max(1, n_train // p["batch_size"])
        score = None
        if valid is not None:
            real = self.transformer.encode_columns(valid)
            flags = [isinstance(c, DiscreteColumn) for c in self.transformer.columns]
            n_eval = max(len(valid), 2000)

            def score(epoch: int) -> float:  # a fixed seed: epochs differ by the weights only
                fake = self.transformer.decode_columns(self._generate(n_eval, p["seed"] + 7919))
                return validation_fidelity(real, fake, flags)["score"]

        optim = {
            "g": OptimizerConfig(lr=p["generator_lr"], betas=(0.5, 0.9), weight_decay=p["weight_decay"]),
            "d": OptimizerConfig(lr=p["discriminator_lr"], betas=(0.5, 0.9), weight_decay=p["weight_decay"]),
        }
        trainer = Trainer(
            objective, stream, optim, steps=p["epochs"] * steps_per_epoch, batch_size=p["batch_size"],
            device=self.device, ema_kimg=p["ema_kimg"], measure_every=steps_per_epoch,
        )  # fmt: skip
        self.generator = trainer.sampling_generator  # type: ignore[assignment]  # the EMA copy, if any
        monitor = EpochMonitor(
            steps_per_epoch, self.generator, score, eval_every=p["eval_every"], patience=p["patience"],
            progress=p["progress"],
        )  # fmt: skip
        trainer.callbacks.append(monitor)
        return trainer, monitor

    # ------------------------------------------------------------------ sampling
    def _require_fitted(self) -> None:
        if self.generator is None or self.transformer is None:
            raise ConfigError("this TabularGAN is not fitted yet: call fit(data) or TabularGAN.load(path)")

    @torch.no_grad()
    def _generate(self, n: int, seed: int, cond_fixed: tuple[int, int] | None = None) -> np.ndarray:
        """``n`` rows as a hard matrix (tanh α + exact one-hots), G in eval mode, private RNG.
        Generated in chunks, so a million rows need no more device memory than ``SAMPLE_CHUNK``."""
        g, sampler = self.generator, self.sampler
        assert g is not None and sampler is not None
        gen = torch.Generator(device=self.device).manual_seed(seed)
        was_training = g.training
        g.eval()
        chunks = [np.zeros((0, g.layout.width))]
        try:
            for start in range(0, n, SAMPLE_CHUNK):
                m = min(SAMPLE_CHUNK, n - start)
                z = torch.randn(m, g.z_dim, device=self.device, generator=gen)
                cond = (
                    sampler.fixed_condition(m, *cond_fixed)
                    if cond_fixed
                    else sampler.sampling_condition(m, gen)
                )
                chunks.append(g.layout.harden(g(z, cond), gen).cpu().double().numpy())
        finally:
            g.train(was_training)
        return np.concatenate(chunks)

    def sample(
        self, n: int, conditions: dict[Any, Any] | None = None, seed: int | None = None
    ) -> pd.DataFrame:
        """``n`` synthetic rows with the training frame's column names, order and dtypes.

        ``conditions={"column": value, ...}`` (discrete columns only) returns rows that all match:
        the first condition is fed as the conditional vector (Sec. 4.3), then rows that do not match
        every condition are rejected and more are drawn. ``seed=None`` draws a fresh seed.
        """
        self._require_fitted()
        assert self.transformer is not None
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ConfigError(f"n must be a non-negative number of rows, got {n!r}")
        seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)
        targets = self._resolve_conditions(conditions or {})
        if not targets:
            columns = self.transformer.decode_columns(self._generate(int(n), seed))
            return self.transformer.to_frame(columns, np.random.default_rng(seed))
        kept: list[list[np.ndarray]] = []
        have, batch = 0, max(int(n), 500)
        for round_ in range(MAX_REJECTION_ROUNDS):
            if have >= n:
                break
            fixed = (targets[0][1], targets[0][2])
            cols = self.transformer.decode_columns(self._generate(batch, seed + round_, fixed))
            ok = np.ones(batch, dtype=bool)
            for index, _, slot, _ in targets:
                ok &= cols[index] == slot
            kept.append([c[ok] for c in cols])
            have += int(ok.sum())
        if have < n:
            wanted = ", ".join(f"{name}={value!r}" for name, value in (conditions or {}).items())
            raise DataError(
                f"only {have} of {n} rows matched {wanted} after {MAX_REJECTION_ROUNDS * batch} draws; the"
                " model rarely generates that combination (train longer or relax the conditions)"
            )
        columns = [np.concatenate(parts)[:n] for parts in zip(*kept, strict=True)]
        frame = self.transformer.to_frame(columns, np.random.default_rng(seed))
        for index, _, _, tail_value in targets:
            if tail_value is not None:  # a rare value of the ``other`` slot: it is the value asked for
                name = self.transformer.columns[index].name
                frame[name] = pd.Series([tail_value[0]] * len(frame), dtype=object).astype(frame[name].dtype)
        return frame

    def _resolve_conditions(self, conditions: dict[Any, Any]) -> list[tuple[int, int, int, tuple | None]]:
        """(column index, discrete column number, slot, (tail value,) or None) per condition."""
        assert self.transformer is not None
        if not isinstance(conditions, dict):
            raise ConfigError(
                f"conditions must be a dict of column -> value, got {type(conditions).__name__}"
            )
        names = self.transformer.names
        discrete = [i for i, c in enumerate(self.transformer.columns) if isinstance(c, DiscreteColumn)]
        out = []
        for name, value in conditions.items():
            if name not in names:
                raise DataError(
                    f"condition on '{name}', which is not a column of the model; columns: {names}"
                )
            index = names.index(name)
            col = self.transformer.columns[index]
            if isinstance(col, ContinuousColumn):
                raise ConfigError(f"conditions apply to discrete columns; '{name}' is continuous")
            slot, tail = find_slot(col, value)
            out.append((index, discrete.index(index), slot, tail))
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write ``path/generator.safetensors`` and ``path/model.json`` (each atomically)."""
        self._require_fitted()
        assert self.generator is not None and self.transformer is not None
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tensors = {f"g.{k}": v.detach().contiguous().cpu() for k, v in self.generator.state_dict().items()}
        atomic_write(path / WEIGHTS, lambda tmp: save_file(tensors, str(tmp)))
        from ganforge import __version__

        meta = {
            "format": FORMAT,
            "ganforge_version": __version__,
            "params": self.params,
            "transformer": self.transformer.state_dict(),
            "training": self.training,
        }
        atomic_write_json(path / META, meta)
        return path

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> TabularGAN:
        """A saved model, ready to sample (on ``device``); damage is one CheckpointError."""
        path = Path(path)
        meta_path, weights_path = path / META, path / WEIGHTS
        if not meta_path.is_file() or not weights_path.is_file():
            raise CheckpointError(f"'{path}' is not a saved TabularGAN (it needs {META} and {WEIGHTS})")
        try:
            meta = json.loads(meta_path.read_text())
            tensors = load_file(str(weights_path))
        except (json.JSONDecodeError, SafetensorError, OSError, ValueError) as err:
            raise CheckpointError(f"saved model '{path}' is corrupt or unreadable ({err})") from None
        if meta.get("format") != FORMAT:
            raise CheckpointError(f"'{meta_path}' is not a {FORMAT} model (format {meta.get('format')!r})")
        params = {**meta["params"], "device": device, "progress": False}
        params["generator_dims"] = tuple(params["generator_dims"])
        params["discriminator_dims"] = tuple(params["discriminator_dims"])
        model = cls(**params)
        model.params["progress"] = meta["params"].get("progress", True)
        model.transformer = transformer = TableTransformer.from_state(meta["transformer"])
        model.sampler = ConditionSampler(None, [c.counts for c in transformer.discrete], model.device)
        g = TabularGenerator(params["embedding_dim"], model._layout(transformer), params["generator_dims"])
        load_module_state(g, "g", tensors, weights_path)
        model.generator = g.to(model.device).eval()
        model.training = meta.get("training", {})
        return model


def find_slot(col: DiscreteColumn, value: Any) -> tuple[int, tuple | None]:
    """The slot of ``value`` in a discrete column, and ``(value,)`` when it lives in ``other``.
    Numbers compare by value (3 matches 3.0); a missing value (None/NaN) matches the missing slot."""
    missing = value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
    if missing:
        if None in col.categories:
            return col.categories.index(None), None
        raise DataError(f"column '{col.name}' had no missing values, so none can be asked for")
    probe = str(value) if col.as_text else value
    for i, cat in enumerate(col.categories):
        if cat is not None and _same(cat, probe):
            return i, None
    for tail in col.tail_values:
        if _same(tail, probe):
            return len(col.categories), (tail,)
    known = [c for c in col.categories if c is not None][:10]
    more = len(col.categories) + len(col.tail_values) - len(known)
    suffix = f" (and {more} more)" if more > 0 else ""
    raise DataError(f"value {value!r} never occurs in column '{col.name}'; known values: {known}{suffix}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def condition_from_text(model: TabularGAN, column: Any, text: str) -> Any:
    """A command-line ``column=value``'s value as the column's own type: the category whose text
    is ``text`` (``3`` also finds ``3.0``; an empty text or ``nan`` the missing slot), else ``text``."""
    assert model.transformer is not None
    col = next((c for c in model.transformer.columns if str(c.name) == str(column)), None)
    if not isinstance(col, DiscreteColumn):
        return text
    if text.strip().lower() in ("", "nan", "none", "null") and None in col.categories:
        return None
    for cat in [*col.categories, *col.tail_values]:
        if cat is not None and str(cat) == text:
            return cat
    try:
        number = float(text)
    except ValueError:
        return text
    for cat in [*col.categories, *col.tail_values]:
        if isinstance(cat, int | float) and not isinstance(cat, bool) and cat == number:
            return cat
    return text
