"""A smooth random walk on the latent sphere, for "dreaming" GIFs.

Why on the sphere: a standard normal ``z`` in ``d`` dimensions lies, with overwhelming probability,
on a thin shell of radius ≈ sqrt(d) (``interpolate.py``). A plain Gaussian random walk drifts off it
(its norm grows like sqrt(steps)), and the generator's output degrades where it never trained. So
the walk moves along great circles of the sphere of radius sqrt(d): every frame is a typical latent.

Why with momentum: independent random directions per step give a jittery, Brownian path. Here the
velocity is itself a random process on the tangent space, ``v ← normalise(α v + sqrt(1-α²) ξ)``
(``α = smoothness``, ``ξ`` a random unit tangent vector): an Ornstein–Uhlenbeck-like direction that
turns gradually. Each step then moves by the angle ``step_size`` along the geodesic,
``z ← r (cos θ ẑ + sin θ v)``, and carries ``v`` along (parallel transport:
``v ← -sin θ ẑ + cos θ v``), so consecutive steps have the same length and nearly the same direction.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ganforge.errors import ConfigError
from ganforge.latent.common import as_generator, labels_for, render


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _tangent(v: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``v`` minus its component along the unit vector ``u`` (rows)."""
    return v - (v * u).sum(-1, keepdim=True) * u


def sphere_walk(
    start: torch.Tensor,
    steps: int,
    step_size: float = 0.2,
    smoothness: float = 0.9,
    radius: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``steps`` points of a smooth random walk from ``start`` (d,) or (N, d): (steps, *start.shape).

    The first point is ``start`` rescaled to the sphere of ``radius`` (default sqrt(d)); each next
    point is ``step_size`` radians further along the sphere, so consecutive points are
    ``2·radius·sin(step_size / 2)`` apart. ``smoothness`` α in [0, 1) is how much of the previous
    direction each step keeps (0 = a fresh random direction every step).
    """
    if steps < 1:
        raise ConfigError(f"a walk needs at least 1 step, got {steps}")
    if not (math.isfinite(step_size) and 0.0 < step_size <= math.pi):
        raise ConfigError(f"the step size is an angle in radians in (0, π], got {step_size}")
    if not 0.0 <= smoothness < 1.0:
        raise ConfigError(f"smoothness must be in [0, 1), got {smoothness}")
    single = start.ndim == 1
    z = start.detach().float().reshape(-1, start.shape[-1]).clone()
    r = math.sqrt(z.shape[-1]) if radius is None else float(radius)
    u = _unit(z)

    def noise() -> torch.Tensor:
        return _unit(_tangent(torch.randn(z.shape, generator=generator), u))

    v = noise()
    points = []
    cos, sin = math.cos(step_size), math.sin(step_size)
    kick = math.sqrt(1.0 - smoothness**2)
    for i in range(steps):
        points.append(r * u)
        if i == steps - 1:
            break
        v = _unit(smoothness * v + kick * noise())
        u, v = _unit(cos * u + sin * v), -sin * u + cos * v
        v = _unit(_tangent(v, u))  # undo rounding drift: v stays a unit tangent
    path = torch.stack(points)
    return path[:, 0] if single else path


def walk_grid(
    generator: Any,
    steps: int = 60,
    step_size: float = 0.2,
    smoothness: float = 0.9,
    rows: int = 1,
    seed: int = 0,
    label: int | None = None,
    truncation: float = 1.0,
) -> torch.Tensor:
    """``rows`` independent walks of ``steps`` frames: (rows, steps, C, H, W).

    Start latents and walk noise both come from ``seed``. A conditional generator keeps one class
    per walk (``label``, else class ``r mod K``).
    """
    if rows < 1:
        raise ConfigError(f"rows must be at least 1, got {rows}")
    g, device = as_generator(generator)
    rng = torch.Generator().manual_seed(seed)
    start = g.sample_z(rows, generator=rng)  # the same starts as seeded_z(g, rows, seed); noise follows
    path = sphere_walk(start, steps, step_size, smoothness, generator=rng)  # (steps, rows, d)
    z = path.transpose(0, 1).reshape(rows * steps, -1)
    y = labels_for(g, rows, label)
    y = y.repeat_interleave(steps) if y is not None else None
    images = render(g, device, z, y, truncation)
    return images.reshape(rows, steps, *images.shape[1:])


__all__ = ["sphere_walk", "walk_grid"]
