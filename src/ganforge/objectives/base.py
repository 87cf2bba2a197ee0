"""The Objective protocol: *what* is optimised, in named phases. The Trainer decides *how*.

Modelled on stylegan2-ada's ``loss.py``: an objective exposes phases (``D`` then ``G``; later
``Greg`` every 4, ``Dreg`` every 16, ...) and computes one phase's loss from a batch. It never
touches optimisers, precision, devices or ``requires_grad``; the trainer owns all of that, which is
why one trainer serves every family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

Batch = dict[str, torch.Tensor]
NoiseFn = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class Phase:
    """One optimisation step of the networks in ``trains`` (keys of ``Objective.networks()``).

    ``every``: run the phase on steps where ``step % every == 0`` (lazy regularisation).
    ``repeats``: how many times in a row (WGAN's n_critic).
    ``fresh_batch``: draw a new real batch for each repeat; False reuses the previous phase's batch
    (a generator step needs only its size and labels, so it should not consume data).
    ``keep_graph``: networks that keep ``requires_grad`` during this phase although it does not
    step them, so the objective can build their graph now and reuse it in a later phase (the D
    phase's fakes, reused by the G phase, as in the PyTorch DCGAN example: one G forward per step).
    ``start`` / ``stop``: the phase runs on steps ``start <= step < stop`` only (``stop`` None: to
    the end), for schedules in stages: SRGAN pre-trains G on its content loss alone, then adds D.
    """

    name: str
    trains: str
    every: int = 1
    repeats: int = 1
    fresh_batch: bool = True
    keep_graph: tuple[str, ...] = ()
    start: int = 0
    stop: int | None = None

    def due(self, step: int) -> bool:
        """Whether the phase runs at ``step`` (0-based): inside [start, stop) and on its ``every``."""
        in_stage = self.start <= step and (self.stop is None or step < self.stop)
        return in_stage and step % self.every == 0


@runtime_checkable
class Objective(Protocol):
    def networks(self) -> dict[str, nn.Module]:
        """Trainable networks by optimiser name: ``{"g": G, "d": D}`` (``optim.<name>`` configures each)."""
        ...

    def phases(self) -> list[Phase]: ...

    def step(self, phase: str, batch: Batch) -> dict[str, torch.Tensor]:
        """Loss of one phase on one batch: ``{"loss": scalar, **stats}``; stats are detached scalars."""
        ...


# Optional methods an objective may add; the Trainer calls them when present:
#   after_optimizer_step(phase: str) -> None      right after the phase's optimiser step (weight clipping)
#   state_dict() -> dict[str, Tensor | float | ...]  state to checkpoint (ADA's p, LeCam's EMAs); tensors go
#   load_state_dict(state: dict) -> None            to safetensors, the rest to the JSON sidecar


def prefixed(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The entries of a checkpointed ``state`` under ``prefix.``, prefix removed: how an objective
    hands each part it owns (augmentation, LeCam, history pools) back its own state."""
    return {k[len(prefix) + 1 :]: v for k, v in state.items() if k.startswith(prefix + ".")}


@dataclass
class Context:
    """What the trainer lends an objective: where tensors live and how to draw noise.

    ``randn(n, *shape)`` draws this rank's share of a global noise batch, so a run on N processes
    sees exactly the noise a single process would (tensors are sliced, not re-seeded per rank).
    """

    device: torch.device
    randn: NoiseFn
    rank: int = 0
    world_size: int = 1
    extras: dict[str, Any] | None = None
