"""Learning-rate schedules: a factor of each optimiser's base lr as a function of the step.

GANs mostly train at a constant lr, but decaying it at the end settles the oscillation that a
high lr causes around the equilibrium: CycleGAN and pix2pix decay linearly to zero over the second
half of training, and on the 2-D mixtures a final decay tightens every mode. ``train.lr_schedule``
picks the shape, ``train.lr_decay_start`` the fraction of ``train.steps`` it starts at.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ganforge.errors import ConfigError

LrSchedule = Callable[[int], float]


def _linear(progress: float) -> float:
    return 1.0 - progress


def _cosine(progress: float) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * progress))


SHAPES: dict[str, Callable[[float], float]] = {"linear": _linear, "cosine": _cosine}


def build_lr_schedule(name: str, steps: int, decay_start: float) -> LrSchedule | None:
    """The factor for step ``s`` (0-based): 1 until ``decay_start * steps``, then down to ~0 at the end.

    Returns None for ``constant`` so the trainer skips the per-step lr writes altogether.
    """
    if name == "constant":
        return None
    if name not in SHAPES:
        raise ConfigError(f"train.lr_schedule must be one of constant, {', '.join(SHAPES)}; got '{name}'")
    if not 0.0 <= decay_start < 1.0:
        raise ConfigError(f"train.lr_decay_start must be in [0, 1), got {decay_start}")
    shape = SHAPES[name]
    start = int(decay_start * steps)
    span = max(steps - start, 1)

    def factor(step: int) -> float:
        if step < start:
            return 1.0
        # (step - start + 1) / span: the last step trains at a small but non-zero lr.
        return shape(min((step - start + 1) / (span + 1), 1.0))

    return factor
