"""The task of a run: looked up in the task registry by the name its model's entry gives.

Below ``tasks/__init__`` (which opens runs) and ``tasks/onefile.py`` (which records the task in a
model file), so both ask it without importing each other.
"""

from __future__ import annotations

from ganforge.config import Config
from ganforge.registry import MODELS, TASKS
from ganforge.tasks.anomaly import AnomalyTask  # noqa: F401  (registers the kind)
from ganforge.tasks.base import Task
from ganforge.tasks.generation import GenerationTask
from ganforge.tasks.text_to_image import TextToImageTask  # noqa: F401  (registers the kind)
from ganforge.tasks.translation import TranslationTask  # noqa: F401  (registers the kind)

DEFAULT_TASK = GenerationTask.name


def task_named(name: str) -> Task:
    """The registered task ``name`` (a RegistryError naming the closest one otherwise)."""
    return TASKS.get(name).builder()


def task_of(cfg: Config) -> Task:
    """The task of a run, as its model's registry entry names it (``task=...``; default generation)."""
    entry = MODELS.get(cfg.model.name) if cfg.model.name in MODELS else None
    return task_named(entry.meta.get("task", DEFAULT_TASK) if entry else DEFAULT_TASK)
