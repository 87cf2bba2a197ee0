"""Truncation sweeps: the same seeds drawn at several ψ, to show the fidelity/variety trade-off.

The truncation trick (Brock et al. 2019, BigGAN Sec. 3.1; Karras et al. 2019, StyleGAN Sec. 2)
samples closer to the latent's centre: ``z·ψ`` for Gaussian latents, ``w̄ + ψ(w - w̄)`` for
StyleGAN's ``w``. Each family implements it in ``Generator.generate(z, y, truncation=ψ)``; a sweep
only calls that, so it shows whatever the family does. At ψ = 0 every seed of a row collapses to
the same "average" image (per class, for a conditional model).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from ganforge.errors import ConfigError
from ganforge.latent.common import as_generator, labels_for, render, seeded_z

DEFAULT_PSIS = (1.0, 0.8, 0.6, 0.4, 0.2, 0.0)


def parse_psis(text: str) -> list[float]:
    """``"1,0.7,0.4"`` -> [1.0, 0.7, 0.4]; every value must be a number in [0, 1]."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ConfigError("--psis needs at least one value, e.g. 1,0.7,0.4")
    psis = []
    for part in parts:
        try:
            psi = float(part)
        except ValueError:
            raise ConfigError(f"--psis values must be numbers in [0, 1], got '{part}'") from None
        if not (math.isfinite(psi) and 0.0 <= psi <= 1.0):
            raise ConfigError(f"--psis values must be in [0, 1], got {part}")
        psis.append(psi)
    return psis


def truncation_grid(
    generator: Any,
    psis: Sequence[float] = DEFAULT_PSIS,
    n: int = 8,
    seed: int = 0,
    label: int | None = None,
) -> torch.Tensor:
    """Rows = ψ values, columns = ``n`` seeded latents: (len(psis), n, C, H, W).

    Every row uses the same latents (and labels), so a column shows one seed shrinking toward the
    mean. A conditional generator draws column ``j`` as ``label`` or else class ``j mod K``.
    """
    if n < 1:
        raise ConfigError(f"the number of seeds must be at least 1, got {n}")
    if not psis:
        raise ConfigError("a truncation sweep needs at least one ψ")
    for psi in psis:
        if not 0.0 <= psi <= 1.0:
            raise ConfigError(f"truncation ψ must be in [0, 1], got {psi}")
    g, device = as_generator(generator)
    z = seeded_z(g, n, seed)
    y = labels_for(g, n, label)
    return torch.stack([render(g, device, z, y, truncation=float(psi)) for psi in psis])


__all__ = ["DEFAULT_PSIS", "parse_psis", "truncation_grid"]
