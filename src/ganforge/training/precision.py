"""How a phase's forward runs and how its loss reaches the weights: ``train.precision``.

* ``fp32``: as written.
* ``bf16``: the forward under ``torch.autocast`` in bfloat16. bf16 keeps fp32's exponent range, so
  gradients neither underflow nor overflow and need no scaling (StyleGAN2-ADA and R3GAN train in
  mixed precision the same way on hardware that has it).
* ``fp16``: autocast in float16 with *dynamic loss scaling*, for GPUs without bf16 (before NVIDIA
  Ampere): float16's five exponent bits flush small gradients to zero, so each loss is multiplied by
  a large factor before ``backward`` and the gradients are divided by it before the optimiser step;
  a step whose scaled gradients overflow is skipped and the factor halved, and after
  ``growth_interval`` clean steps it doubles (``torch.amp.GradScaler``, Micikevicius et al. 2018).
  Each optimiser (G, D) has its own scaler: their losses and gradients have unrelated magnitudes,
  and the phases step them at different times. The scalers' state is checkpointed, so a resumed
  run scales exactly as an uninterrupted one.

``bf16`` asked for on a CUDA device without bfloat16 support falls back to ``fp16`` with a warning.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable
from typing import Any

import torch

from ganforge.errors import ConfigError

PRECISIONS = ("fp32", "bf16", "fp16")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(precision: str, device: torch.device) -> str:
    """``precision`` as this device can run it (bf16 -> fp16 on a CUDA GPU that lacks bf16)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"'train.precision' must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        warnings.warn(
            "this GPU has no bfloat16: training in fp16 with loss scaling instead (train.precision: fp16)",
            stacklevel=3,
        )
        return "fp16"
    return precision


class Precision:
    """The trainer's one door to mixed precision: ``autocast()`` around a phase's forward, then
    ``backward``, ``unscale`` (before reading gradient norms) and ``step`` for its optimiser."""

    def __init__(self, precision: str, device: torch.device, optimizers: Iterable[str]) -> None:
        self.mode = resolve_precision(precision, device)
        self.device_type = device.type
        self.scalers = (
            {name: torch.amp.GradScaler(device.type) for name in optimizers} if self.mode == "fp16" else {}
        )

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.mode == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=DTYPES[self.mode])

    def backward(self, name: str, loss: torch.Tensor) -> None:
        scaler = self.scalers.get(name)
        (loss if scaler is None else scaler.scale(loss)).backward()

    def unscale(self, name: str, optimizer: torch.optim.Optimizer) -> None:
        """Divide the gradients by the loss scale now (once per step), so their norm is the true one."""
        if name in self.scalers:
            self.scalers[name].unscale_(optimizer)

    def finite_norm(self, name: str, norm: torch.Tensor) -> torch.Tensor:
        """A gradient norm the divergence guard may read: under fp16 an overflowed step is the
        scaler's business (it skips the step and lowers the scale), not a divergence, so its
        infinite norm reads as 0. Without loss scaling a non-finite norm is left to the guard."""
        if name not in self.scalers:
            return norm
        return torch.where(torch.isfinite(norm), norm, torch.zeros_like(norm))

    def step(self, name: str, optimizer: torch.optim.Optimizer) -> None:
        scaler = self.scalers.get(name)
        if scaler is None:
            optimizer.step()
            return
        scaler.step(optimizer)  # skipped when the scaled gradients held inf/NaN
        scaler.update()

    def state_dict(self) -> dict[str, dict[str, Any]]:
        """JSON-able: each scaler's scale, growth tracker and settings (empty without fp16)."""
        return {name: scaler.state_dict() for name, scaler in self.scalers.items()}

    def load_state_dict(self, state: dict[str, dict[str, Any]]) -> None:
        for name, scaler in self.scalers.items():
            if name in state:  # a checkpoint written in another precision has none: start fresh
                scaler.load_state_dict(state[name])
