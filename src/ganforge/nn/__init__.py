"""Shared layers and wrappers used across model families."""

from ganforge.nn.spectral import SPECTRAL_NORM_LAYERS, apply_spectral_norm, spectral_norm_targets

__all__ = ["SPECTRAL_NORM_LAYERS", "apply_spectral_norm", "spectral_norm_targets"]
