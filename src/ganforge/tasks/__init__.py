"""Task kinds: what a run is for its users (``tasks/base.py``), and opening a run as its task's handle.

``open_run(run_dir)`` is the one door from a run directory to a usable model: the task the run's
model names decides whether that is a ``GeneratorHandle`` (``sample``), a ``TranslatorHandle``
(``translate``), ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganforge.errors import CheckpointError, ConfigError
from ganforge.tasks.base import Task
from ganforge.tasks.generation import GeneratorHandle
from ganforge.tasks.kinds import DEFAULT_TASK, task_named, task_of
from ganforge.tasks.loading import load_run_generator
from ganforge.tasks.onefile import is_model_file, read_model_file
from ganforge.tasks.translation import TranslatorHandle
from ganforge.training.build import resolve_device


def open_run(
    run_dir: str | Path,
    ema: bool = True,
    checkpoint: str | Path | None = None,
    device: str = "cpu",
    expect: str | None = None,
) -> Any:
    """A run's newest (or given) checkpoint, or a one-file model (``ganforge export``), as its task's
    handle on ``device``; ``expect`` (a task name) refuses a model of another task with a message
    saying how to open it instead."""
    from_file = is_model_file(run_dir)
    if from_file:
        cfg, g, info, meta = read_model_file(run_dir)
        if checkpoint is not None or (not ema and meta.get("source", {}).get("ema")):
            raise ConfigError(
                f"'{run_dir}' is a model file: it holds the one set of weights chosen at export"
                " (choose the checkpoint or EMA when exporting)"
            )
        ckpt = Path(run_dir)
    else:
        cfg, ckpt, g, info = load_run_generator(run_dir, ema, checkpoint)
    task, noun = task_of(cfg), "model" if from_file else "run"
    if expect is not None and task.name != expect:
        raise CheckpointError(
            f"{noun} '{run_dir}' is a {task.name} {noun} (model '{cfg.model.name}'), not a {expect} one:"
            f" open it with {task.loader}"
        )
    if not task.accepts(g):
        raise CheckpointError(f"model '{cfg.model.name}' has no {task.name} network to load")
    dev = resolve_device(device)
    return task.wrap(g.to(dev), cfg, ckpt, dev, info)


__all__ = [
    "DEFAULT_TASK",
    "GeneratorHandle",
    "Task",
    "TranslatorHandle",
    "open_run",
    "task_named",
    "task_of",
]
