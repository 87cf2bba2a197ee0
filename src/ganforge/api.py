"""The Python API: ``ganforge.train(...)`` returns a Run; ``ganforge.load(run_dir)`` a GeneratorHandle."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganforge.config import Config, load_config
from ganforge.data.base import ArrayDataset
from ganforge.evaluation.periodic import periodic_eval
from ganforge.tasks import GeneratorHandle, TranslatorHandle, open_run
from ganforge.training.build import build_session
from ganforge.training.callbacks import sample_fixed
from ganforge.training.trainer import Callback, check_callbacks
from ganforge.utils.distributed import shutdown
from ganforge.utils.io import read_jsonl


@dataclass
class Run:
    """A finished (or resumed-and-finished) training run and its run dir."""

    path: Path
    config: Config
    summary: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> list[dict[str, Any]]:
        """Every line of ``logs/metrics.jsonl`` as dicts."""
        return read_jsonl(self.path / "logs" / "metrics.jsonl")

    @property
    def latest_samples(self) -> Path | None:
        found = sorted((self.path / "samples").glob("step_*.png"))
        return found[-1] if found else None

    def generator(self, ema: bool = True) -> GeneratorHandle:
        return load(self.path, ema=ema)


def default_run_dir(config: str | Path | dict | None) -> Path:
    stem = Path(str(config)).stem if isinstance(config, (str, Path)) else "run"
    return Path("runs") / stem


def train(
    config: str | Path | dict[str, Any] | Config | None = None,
    out: str | Path | None = None,
    overrides: list[str] | None = None,
    resume: bool = False,
    force: bool = False,
    dataset: ArrayDataset | None = None,
    callbacks: Sequence[Callback] = (),
) -> Run:
    """Train from a YAML path, preset name, dict or Config; write everything into ``out``.
    ``dataset``: data built by the caller (a table in memory) instead of the config's data builder.
    ``callbacks``: your own hooks (``ganforge.Callback`` subclasses, docs/callbacks.md), called after
    the built-in logging, samples and checkpoints at every event, on the main process."""
    callbacks = check_callbacks(callbacks)  # before anything is written
    if isinstance(config, Config):
        cfg = load_config(config.to_dict(), overrides) if overrides else config
    else:
        cfg = load_config(config, overrides)
    run_dir = (
        Path(out) if out is not None else default_run_dir(config if not isinstance(config, Config) else None)
    )
    session = build_session(
        cfg, run_dir, resume=resume, force=force, extra_callbacks=(periodic_eval,), dataset=dataset
    )
    if session.dist.is_main:  # after the built-in callbacks, on the process they run on
        session.trainer.callbacks.extend(callbacks)
    try:
        session.trainer.fit()
    finally:
        shutdown(session.dist)
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return Run(run_dir, session.config, summary)


def load(
    run_dir: str | Path, ema: bool = True, checkpoint: str | Path | None = None, device: str = "cpu"
) -> GeneratorHandle:
    """Rebuild a run's generator from ``config.yaml`` and its newest (or given) checkpoint."""
    return open_run(run_dir, ema, checkpoint, device, expect="generation")


def from_pretrained(path: str | Path, device: str = "cpu") -> Any:
    """A one-file model (``ganforge export RUN -o model.safetensors``) or a run directory as its
    task's handle: ``sample`` for generators, ``translate`` / ``translate_any`` for translators, rows
    for tables. ``device``: cpu, cuda, cuda:N, mps or auto."""
    return open_run(path, device=device)


def load_translator(
    run_dir: str | Path, ema: bool = True, checkpoint: str | Path | None = None, device: str = "cpu"
) -> TranslatorHandle:
    """Rebuild a translation run's generators (pix2pix, CycleGAN) from its newest (or given) checkpoint."""
    return open_run(run_dir, ema, checkpoint, device, expect="translation")


__all__ = [
    "GeneratorHandle",
    "Run",
    "TranslatorHandle",
    "from_pretrained",
    "load",
    "load_translator",
    "sample_fixed",
    "train",
]
