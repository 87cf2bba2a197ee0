"""What a run *is* for its users: a task kind (generation, translation, ...), looked up, never branched on.

A model's registry entry names its task (``@register_model(..., task="translation")``; the default
is ``generation``) and ``task_of(cfg)`` returns that task's object. A task owns what differs between
kinds of runs and nothing else: the handle a run loads as (``sample``, ``translate``, ...), the set a
run is evaluated on and the metric it is scored by when none is named, and the picture the report
draws from the trained model. ``evaluation``, ``report``, ``api`` and ``cli`` ask the task, so
adding a kind of run is a new module registering a ``Task`` subclass, not an ``if`` in each of them.
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from ganforge.config import Config
from ganforge.errors import ConfigError, EvalError
from ganforge.registry import DATASETS

if TYPE_CHECKING:
    from ganforge.tasks.views import GeneratedView


class Handle:
    """What every task's handle holds: the trained network in eval mode (BatchNorm on its running
    statistics, dropout off, so the same input gives the same output), the run's config, the
    checkpoint it was loaded from, the device it runs on and the checkpoint's ``info`` (what the
    data recorded for using the model: a table's encoding)."""

    def __init__(
        self,
        generator: nn.Module,
        config: Config,
        checkpoint: Path,
        device: torch.device,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.generator = generator.eval()
        self.config, self.checkpoint, self.device = config, checkpoint, device
        self.info = dict(info or {})
        self.load_info(checkpoint)

    def load_info(self, checkpoint: Path) -> None:
        """Read what this kind of handle needs from ``self.info`` (a table's encoding), raising a
        CheckpointError that names ``checkpoint`` when it is not there."""


@dataclass
class Graph:
    """What a deployment export (ONNX, TorchScript) traces: ``module`` called with ``inputs`` (named
    example tensors, in call order; dimension 0 is the batch and stays dynamic), its outputs named
    ``outputs``, and ``doc``: the value ranges users must feed and expect."""

    module: nn.Module
    inputs: dict[str, torch.Tensor]
    outputs: tuple[str, ...]
    doc: str


class Task(ABC):
    """Base of every task kind. Subclasses set ``handle_class`` and ``network`` and register
    themselves with ``@register_task(name)``, which sets ``name``."""

    name: ClassVar[str]
    handle_class: ClassVar[type]
    network: ClassVar[type[nn.Module]]  # the class of the ``g`` network a run of this task trains
    report_title: ClassVar[str] = "Generated samples"
    loader: ClassVar[str]  # how users open such a run, for messages: "ganforge.load (or `ganforge sample`)"
    # Why runs of the task have no sample metric (its outputs are not samples: imputations, anomaly
    # scores), said by ``ganforge eval`` and refused before training asks for periodic evaluation.
    no_sample_metric: ClassVar[str | None] = None

    def accepts(self, g: nn.Module) -> bool:
        """Whether ``g`` (a run's ``g`` network) is a model of this task: an instance of ``network``."""
        return isinstance(g, self.network)

    def wrap(
        self,
        g: nn.Module,
        cfg: Config,
        checkpoint: Path,
        device: torch.device,
        info: dict[str, Any] | None = None,
    ) -> Any:
        """The handle users hold: ``g`` in eval mode with the run's config, checkpoint and its info."""
        return self.handle_class(g, cfg, checkpoint, device, info)

    def default_metrics(self, cfg: Config) -> str:
        """The metric a run is scored by when none is named: the dataset's own (``default_metrics``
        in its registry entry: mode coverage, StackedMNIST's modes, ...), else FID."""
        meta = DATASETS.get(cfg.data.name).meta if cfg.data.name in DATASETS else {}
        return str(meta.get("default_metrics", "fid"))

    def check_evaluable(self, cfg: Config) -> None:
        """Raise an EvalError when runs of ``cfg`` cannot be evaluated at all (checked before training)."""
        if self.no_sample_metric:
            raise EvalError(self.no_sample_metric)

    def eval_samples(self, ctx: Any) -> torch.Tensor:
        """The ``n`` outputs an evaluation scores (the context's handle, seed and ``n``)."""
        raise EvalError(self.no_sample_metric or f"task '{self.name}' does not draw evaluation outputs")

    def eval_count(self, ctx: Any) -> int:
        """How many outputs the evaluation scored, for its record: ``n`` (a test split may hold fewer)."""
        return int(ctx.n)

    def eval_reference(self, ctx: Any) -> torch.Tensor | None:
        """The real images those outputs are compared with, or None for the run's training data
        (whose features are cached per dataset and extractor)."""
        return None

    def eval_facts(self, ctx: Any) -> dict[str, Any]:
        """What the evaluation record says about the set it scored, beyond the dataset's name and params."""
        return {}

    def export_graph(self, handle: Any, direction: str = "AtoB", truncation: float = 1.0) -> Graph:
        """The network of ``handle`` as a traceable ``Graph`` for ONNX / TorchScript; tasks whose
        models have no fixed tensor-in, tensor-out form (tables: their encoding is code) say so."""
        raise ConfigError(
            f"{self.name} models have no ONNX/TorchScript export; a one-file model"
            " (`ganforge export RUN -o model.safetensors`) keeps everything they need"
        )

    def report_view(self, handle: Any) -> GeneratedView | None:
        """The picture the report draws from a run's handle (None: nothing to draw)."""
        return None
