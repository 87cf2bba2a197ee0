"""What every latent tool needs from a generator: the module and its device, labels, seeded latents.

The tools accept either a bare ``Generator`` or the API's ``GeneratorHandle`` (``ganforge.load``),
so notebooks can pass whatever they hold. Generation always runs in eval mode (BatchNorm's running
statistics, not the batch's: a picture must not depend on which other images share its batch) and
the module's previous mode is restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from ganforge.errors import ConfigError

GEN_BATCH = 256  # images generated per forward: bounds memory for long sweeps


def as_generator(obj: Any) -> tuple[nn.Module, torch.device]:
    """``(generator module, its device)`` from a Generator or anything with a ``.generator``."""
    g = getattr(obj, "generator", obj)
    if not isinstance(g, nn.Module) or not hasattr(g, "z_dim"):
        raise ConfigError(f"expected a ganforge generator or a loaded run, got {type(obj).__name__}")
    device = getattr(obj, "device", None)
    if device is None:
        param = next(g.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    return g, torch.device(device)


def num_classes(g: nn.Module) -> int:
    """Classes a generator really conditions on; 0 where it ignores labels (``Generator.conditional``)."""
    return int(getattr(g, "num_classes", 0)) if getattr(g, "conditional", False) else 0


def check_label(g: nn.Module, label: int | None, option: str = "label") -> None:
    """A clear error for a label an unconditional model would ignore, or a class it does not have."""
    if label is None:
        return
    k = num_classes(g)
    if not k:
        raise ConfigError(f"{option} {label}: this generator is unconditional (it ignores labels)")
    if not 0 <= label < k:
        raise ConfigError(f"{option} {label} is not a class of this generator (classes 0-{k - 1})")


def labels_for(g: nn.Module, n: int, label: int | None = None) -> torch.Tensor | None:
    """Hard labels (n,) for a conditional generator: ``label`` everywhere, else classes 0, 1, 2, ...
    cycling; ``None`` for an unconditional one."""
    check_label(g, label)
    k = num_classes(g)
    if not k:
        return None
    return torch.full((n,), label, dtype=torch.long) if label is not None else torch.arange(n) % k


def seeded_z(g: nn.Module, n: int, seed: int) -> torch.Tensor:
    """``n`` latents from the generator's own prior with a private RNG (global RNG untouched)."""
    return g.sample_z(n, generator=torch.Generator().manual_seed(seed))


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Eval mode for the block, then the module's previous mode."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


@torch.no_grad()
def render(
    g: nn.Module,
    device: torch.device,
    z: torch.Tensor,
    y: torch.Tensor | None = None,
    truncation: float = 1.0,
) -> torch.Tensor:
    """``g.generate(z, y, truncation)`` in batches, on the CPU as fp32: (N, *out_shape).

    ``y`` may be hard labels (N,) or soft class weights (N, num_classes).
    """
    if not 0.0 <= truncation <= 1.0:
        raise ConfigError(f"truncation ψ must be in [0, 1], got {truncation}")
    out = []
    with eval_mode(g):
        for start in range(0, len(z), GEN_BATCH):
            zb = z[start : start + GEN_BATCH].to(device)
            yb = y[start : start + GEN_BATCH].to(device) if y is not None else None
            out.append(g.generate(zb, yb, truncation=truncation).float().cpu())
    return torch.cat(out)


__all__ = ["as_generator", "check_label", "eval_mode", "labels_for", "num_classes", "render", "seeded_z"]
