"""Regularizers: short functions (and one small stateful object) that mirror their papers' equations.

Each returns an *unweighted* penalty; the objective multiplies by its weight from the config
(``objective.gp_lambda``, ``r1_gamma``, ...), so the same function serves any loss and family.
"""

from ganforge.regularizers.gradient import (
    gradient_penalty,
    input_gradients,
    mean_squared_gradient,
    zero_centered_penalty,
)
from ganforge.regularizers.lecam import LeCam
from ganforge.regularizers.weights import clip_weights, orthogonal_penalty

__all__ = [
    "LeCam",
    "clip_weights",
    "gradient_penalty",
    "input_gradients",
    "mean_squared_gradient",
    "orthogonal_penalty",
    "zero_centered_penalty",
]
