"""Training schemes: each says what is optimised in which phase; ``Trainer`` runs any of them."""

from ganforge.objectives import gan
from ganforge.objectives.base import Batch, Context, Objective, Phase

__all__ = ["Batch", "Context", "Objective", "Phase", "gan"]
