"""Shared layers and wrappers used across model families."""

from ganforge.nn.conditioning import ConditionalBatchNorm2d, embed_labels, require_labels
from ganforge.nn.spectral import SPECTRAL_NORM_LAYERS, apply_spectral_norm, spectral_norm_targets

__all__ = [
    "SPECTRAL_NORM_LAYERS",
    "ConditionalBatchNorm2d",
    "apply_spectral_norm",
    "embed_labels",
    "require_labels",
    "spectral_norm_targets",
]
