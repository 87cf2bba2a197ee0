"""Parametric 2-D Gaussian mixtures: the classic mode-collapse testbed (grid of 25, ring of 8).

Why a parametric generator rather than stored points: the mode-coverage metric needs the exact
centres and spread the data was drawn from, so ``mixture_spec`` exposes them and the dataset builder
samples from the very same spec. The points stay in their own units (not rescaled to [-1, 1]):
"within 3 std of a centre" only means something in the units the centres are defined in.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ganforge.data.base import ArrayDataset
from ganforge.errors import ConfigError
from ganforge.registry import register_dataset

KINDS = ("grid", "ring")
DEFAULT_MODES = {"grid": 25, "ring": 8}
DEFAULT_STD = {"grid": 0.05, "ring": 0.01}
GRID_SPACING = 2.0


def _check_positive_int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{key} must be a positive integer, got {value!r}")
    return int(value)


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ConfigError(f"data.kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def mixture_centers(kind: str = "grid", modes: int | None = None, radius: float = 1.0) -> np.ndarray:
    """The (modes, 2) float64 centres of a mixture.

    ``grid``: a k x k lattice spaced 2 apart and centred on the origin (25 modes -> {-4, -2, 0, 2, 4}^2),
    row-major in (x, y), so ``modes`` must be a perfect square. ``ring``: ``modes`` points evenly spaced
    on a circle of ``radius``, starting at angle 0 and going counter-clockwise. ``radius`` is ignored
    for grids. ``modes=None`` takes the kind's default (grid 25, ring 8).
    """
    _check_kind(kind)
    modes = _check_positive_int(DEFAULT_MODES[kind] if modes is None else modes, "data.modes")
    if kind == "grid":
        side = math.isqrt(modes)
        if side * side != modes:
            raise ConfigError(
                f"a grid mixture needs a square number of modes (4, 9, 16, 25, ...), got data.modes={modes}"
            )
        coords = GRID_SPACING * (np.arange(side, dtype=np.float64) - (side - 1) / 2)
        gx, gy = np.meshgrid(coords, coords, indexing="ij")
        return np.stack([gx.ravel(), gy.ravel()], axis=1)
    if not (isinstance(radius, (int, float)) and math.isfinite(radius) and radius > 0):
        raise ConfigError(f"data.radius must be a positive number, got {radius!r}")
    angles = 2 * np.pi * np.arange(modes, dtype=np.float64) / modes
    return float(radius) * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def mixture_spec(
    kind: str = "grid", modes: int | None = None, std: float | None = None, radius: float = 1.0
) -> tuple[np.ndarray, float]:
    """Resolve a mixture's config to ``(centres (modes, 2), std)``, filling in the kind's defaults.

    Takes the same keys as the ``toy2d`` dataset, so a metric can be handed the data config verbatim
    and score against exactly the centres and spread the training data was sampled from.
    """
    centers = mixture_centers(kind, modes, radius)
    std = DEFAULT_STD[kind] if std is None else std
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not math.isfinite(std) or std <= 0:
        raise ConfigError(f"data.std must be a positive number, got {std!r}")
    return centers, float(std)


def mixture_of_params(params: dict[str, Any]) -> tuple[np.ndarray, float]:
    """``(centres, std)`` of the mixture a ``toy2d`` data config describes, defaults filled in: the
    dataset's ``mixture`` metadata, which mode metrics and report scatters draw on."""
    kind = params.get("kind", "grid")
    return mixture_spec(kind, params.get("modes"), params.get("std"), params.get("radius", 1.0))


@register_dataset(
    "toy2d",
    default_extractor="raw",
    default_metrics="modes",
    metrics=("modes",),
    mixture=mixture_of_params,
    dim=2,
    description="2-D Gaussian mixture (grid of 25 or ring of 8 modes) for mode-collapse studies",
)
def toy2d(
    kind: str = "grid",
    modes: int | None = None,
    std: float | None = None,
    radius: float = 1.0,
    n: int = 100_000,
    seed: int = 0,
) -> ArrayDataset:
    """2-D Gaussian mixture: ``n`` points, each from a uniformly chosen mode; ``y`` is that mode.

    Deterministic in ``seed``. The labels let a test check that a sample lies near *its* centre and
    let conditional models train on the mixture.
    """
    centers, std = mixture_spec(kind, modes, std, radius)
    n = _check_positive_int(n, "data.n")
    rng = np.random.default_rng(seed)
    labels = rng.integers(len(centers), size=n)
    points = centers[labels] + std * rng.standard_normal((n, 2))
    return ArrayDataset(
        x=torch.from_numpy(points.astype(np.float32)),
        y=torch.from_numpy(labels.astype(np.int64)),
        name="toy2d",
        num_classes=len(centers),
    )
