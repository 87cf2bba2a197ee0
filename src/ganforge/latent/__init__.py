"""Working in a generator's latent space: interpolation, class interpolation, truncation sweeps,
smooth random walks and inversion; ``pictures`` writes any sweep as a PNG grid or a GIF.

Every tool takes a ``Generator`` or a loaded run (``ganforge.load(run)``) and returns tensors
``(rows, columns, C, H, W)`` in [-1, 1] (inversion: an ``InversionResult``). The CLI is
``ganforge latent {interpolate,classes,truncation,walk,invert}``; docs/latent.md has the maths.
"""

from ganforge.latent.grids import class_interpolation_grid, interpolation_grid
from ganforge.latent.interpolate import interpolation_path, label_path, lerp, slerp
from ganforge.latent.inversion import InversionResult, invert, load_target, psnr
from ganforge.latent.pictures import gif_frames, grid_picture, save_gif, save_sweep
from ganforge.latent.truncation import DEFAULT_PSIS, parse_psis, truncation_grid
from ganforge.latent.walk import sphere_walk, walk_grid

__all__ = [
    "DEFAULT_PSIS",
    "InversionResult",
    "class_interpolation_grid",
    "gif_frames",
    "grid_picture",
    "interpolation_grid",
    "interpolation_path",
    "invert",
    "label_path",
    "lerp",
    "load_target",
    "parse_psis",
    "psnr",
    "save_gif",
    "save_sweep",
    "slerp",
    "sphere_walk",
    "truncation_grid",
    "walk_grid",
]
