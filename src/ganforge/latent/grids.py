"""Image sweeps through a generator: latent interpolation and class interpolation.

Each function returns a 5-D tensor ``(rows, columns, C, H, W)`` in [-1, 1]: a row is one path,
columns are the steps along it. ``ganforge.latent.pictures`` turns that into a PNG grid (rows as
rows) or a GIF (columns as frames). Latents come from fixed seeds, so the same call draws the same
picture for the same checkpoint.
"""

from __future__ import annotations

from typing import Any

import torch

from ganforge.errors import ConfigError
from ganforge.latent.common import as_generator, check_label, labels_for, num_classes, render, seeded_z
from ganforge.latent.interpolate import interpolation_path, label_path


def _check_counts(rows: int, steps: int) -> None:
    if rows < 1:
        raise ConfigError(f"rows must be at least 1, got {rows}")
    if steps < 2:
        raise ConfigError(f"steps must be at least 2 (the two ends), got {steps}")


def interpolation_grid(
    generator: Any,
    rows: int = 4,
    steps: int = 8,
    method: str = "slerp",
    label: int | None = None,
    seed: int = 0,
    truncation: float = 1.0,
) -> torch.Tensor:
    """``rows`` paths between pairs of seeded latents, ``steps`` images each: (rows, steps, C, H, W).

    Row ``r`` runs from latent ``2r`` to latent ``2r + 1`` of ``seed``'s draw (the report's strip
    uses the same pairs). A conditional generator keeps one class per row, ``label`` or else class
    ``r mod K``, so only the latent moves along a row. ``method`` is ``slerp`` (stays on the Gaussian
    shell, the default) or ``lerp``.
    """
    _check_counts(rows, steps)
    if method not in ("slerp", "lerp"):
        raise ConfigError(f"unknown interpolation method '{method}'; use slerp or lerp")
    g, device = as_generator(generator)
    ends = seeded_z(g, 2 * rows, seed)
    z = torch.cat([interpolation_path(ends[2 * r], ends[2 * r + 1], steps, method) for r in range(rows)])
    y = labels_for(g, rows, label)
    y = y.repeat_interleave(steps) if y is not None else None
    images = render(g, device, z, y, truncation)
    return images.reshape(rows, steps, *images.shape[1:])


def class_interpolation_grid(
    generator: Any,
    start: int,
    end: int,
    rows: int = 4,
    steps: int = 8,
    seed: int = 0,
    truncation: float = 1.0,
) -> torch.Tensor:
    """At a fixed latent per row, class weights move from one-hot ``start`` to one-hot ``end``.

    The generator gets soft labels ``(1 - t)·e_start + t·e_end`` (every conditional family embeds
    them as the same mixture of class embeddings), so column 0 is exactly the hard-label sample of
    class ``start`` and the last column that of ``end``: what changes along a row is the class alone.
    """
    _check_counts(rows, steps)
    g, device = as_generator(generator)
    k = num_classes(g)
    if not k:
        raise ConfigError(
            "class interpolation needs a class-conditional generator; this one is unconditional"
        )
    check_label(g, start, "start class")
    check_label(g, end, "end class")
    z = seeded_z(g, rows, seed).repeat_interleave(steps, dim=0)
    y = label_path(start, end, steps, k).repeat(rows, 1)
    images = render(g, device, z, y, truncation)
    return images.reshape(rows, steps, *images.shape[1:])


__all__ = ["class_interpolation_grid", "interpolation_grid"]
