"""Losses as pure functions of logits, registered by name in ``ganforge.registry.LOSSES``."""

from ganforge.losses.adversarial import (
    HINGE,
    LSGAN,
    MINIMAX,
    NS,
    WASSERSTEIN,
    AdversarialLoss,
    DLoss,
    GLoss,
    get_loss,
)
from ganforge.losses.relativistic import RAGAN, RPGAN

__all__ = [
    "HINGE",
    "LSGAN",
    "MINIMAX",
    "NS",
    "RAGAN",
    "RPGAN",
    "WASSERSTEIN",
    "AdversarialLoss",
    "DLoss",
    "GLoss",
    "get_loss",
]
