"""Working in a generator's latent space: interpolation now; truncation and inversion to come."""

from ganforge.latent.interpolate import interpolation_path, lerp, slerp

__all__ = ["interpolation_path", "lerp", "slerp"]
