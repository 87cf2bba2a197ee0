"""Helpers for the objective tests (a plain module so test files can import it)."""

from __future__ import annotations

from typing import Any

import torch

from ganforge.objectives.base import Context
from ganforge.objectives.gan import AdversarialObjective
from ganforge.registry import create_model, create_objective
from ganforge.testing import final_checkpoint, quick_train, read_metrics  # noqa: F401  (re-exported for the tests)

TOY = {"name": "toy2d", "kind": "ring", "n": 2048}
MNIST = {"name": "mnist"}


def run_config(
    model: str = "mlp_tiny",
    data: dict[str, Any] | None = None,
    objective: dict[str, Any] | None = None,
    steps: int = 4,
    batch_size: int = 16,
    **train: Any,
) -> dict[str, Any]:
    """A short, quiet CPU run (checkpoint at the end; no sample grids before it)."""
    return {
        "model": {"name": model},
        "data": {**(data or TOY), "batch_size": batch_size},
        "objective": dict(objective or {}),
        "train": {**quick_train(steps=steps, log_every=1), **train},
    }


def cpu_context(seed: int = 0) -> Context:
    gen = torch.Generator().manual_seed(seed)
    return Context(device=torch.device("cpu"), randn=lambda n, *shape: torch.randn(n, *shape, generator=gen))


def toy_objective(seed: int = 0, shape: tuple[int, ...] = (2,), **params: Any) -> AdversarialObjective:
    """The ``gan`` objective on mlp_tiny networks, built by its registered builder."""
    torch.manual_seed(seed)
    model = "mlp_tiny" if len(shape) == 1 else "dcgan_tiny"
    nets = create_model(model, shape=shape)
    return create_objective("gan", nets, cpu_context(seed), **params)


class CountingD(torch.nn.Module):
    """Wraps D and counts its forwards (to check which phases score which inputs)."""

    def __init__(self, d: torch.nn.Module) -> None:
        super().__init__()
        self.d, self.calls = d, 0

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.calls += 1
        return self.d(x, y)
