"""What a report draws from a trained model, and the facts it states about it.

Views use fixed seeds, so two reports of the same checkpoint show the same pictures and reports of
successive checkpoints walk the same latent path (differences are the training's, not the RNG's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ganforge.latent import interpolation_path
from ganforge.utils.figures import image_data_uri
from ganforge.utils.images import make_grid

INTERP_ROWS = 4
INTERP_STEPS = 10
SCATTER_N = 2500  # the mode-coverage protocol's sample count, so the picture matches `eval modes`
STRIP_ROWS = 8
SEED = 0


@dataclass
class GeneratedView:
    """One picture (a PNG data URI) and the sentence that explains it."""

    kind: str  # "interpolation", "scatter", "translation" or "marginals" (a table's columns)
    uri: str
    caption: str


@torch.no_grad()
def interpolation_strip(
    handle: Any, rows: int = INTERP_ROWS, steps: int = INTERP_STEPS, seed: int = SEED
) -> str:
    """``rows`` slerp paths between pairs of fixed-seed latents, ``steps`` images each, as one grid.

    A conditional generator keeps one class per row (row ``r`` gets class ``r mod K``), so only the
    latent moves along a row.
    """
    g = handle.generator
    ends = g.sample_z(2 * rows, generator=torch.Generator().manual_seed(seed))
    z = torch.cat([interpolation_path(ends[2 * r], ends[2 * r + 1], steps) for r in range(rows)])
    labels = None
    if getattr(g, "num_classes", 0):
        labels = (torch.arange(rows) % g.num_classes).repeat_interleave(steps).to(handle.device)
    images = g(z.to(handle.device), labels).float().cpu()
    return grid_uri(images, nrow=steps)


def grid_uri(images: torch.Tensor, nrow: int) -> str:
    """A PNG data URI of ``images`` in rows of ``nrow``, small images enlarged to about 64 px."""
    return image_data_uri(make_grid(images, nrow=nrow, scale=max(1, 64 // images.shape[-1])))


def weights_of(handle: Any) -> str:
    """``"EMA"`` when the handle was built from EMA weights present in its checkpoint, else ``"raw"``."""
    from ganforge.training.checkpoint import has_ema

    return "EMA" if has_ema(handle.checkpoint) else "raw"
