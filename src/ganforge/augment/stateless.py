"""The hooks of an augmentation that never adapts (``none``, DiffAugment), written once."""

from __future__ import annotations

from typing import Any

import torch


class StatelessAugment:
    """Base of augmentations with nothing to adapt or checkpoint: only ADA watches D's outputs and
    keeps a state, but objectives call the same hooks on every kind (the ``Augment`` protocol)."""

    def observe(self, real_logits: torch.Tensor) -> None:
        """Nothing to adapt (ADA's hook)."""

    def stats(self) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Stateless: nothing to restore."""
