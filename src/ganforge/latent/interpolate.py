"""Paths between latent codes: linear (``lerp``) and spherical (``slerp``) interpolation, and
between classes (``label_path``, soft labels).

Why slerp for Gaussian latents (White 2016, "Sampling Generative Networks", Sec. 2.1): a standard
normal ``z`` in ``d`` dimensions has norm ``≈ sqrt(d)`` with a standard deviation of only ``≈ 0.71``:
almost all the probability mass sits on a thin shell, and that shell is all a generator ever saw in
training. Two independent draws are nearly orthogonal, so the midpoint of the straight line between
them has norm ``≈ sqrt(d / 2)``: at ``d = 128`` that is ~4.7 standard deviations inside the shell
(~9 at ``d = 512``), where the generator's output is off-distribution (washed out, low contrast).
Slerp follows the great circle between the two codes instead, so for equal norms every point of the
path keeps that norm and stays on the shell; for unequal norms the norm varies smoothly between the
two ends.

Both functions interpolate along the last dimension, so a batch of pairs ``(N, d)`` gives a batch of
paths, and accept one ``t`` (a float) or many (a sequence or 1-D tensor, stacked in front).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

# Below this angle (radians) slerp's ``sin(omega)`` denominator loses precision; the arc is then
# indistinguishable from the chord, so lerp is used.
_PARALLEL_EPS = 1e-4


def _as_t(t: float | Sequence[float] | torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``t`` as a tensor shaped ``(T, 1, ..., 1)`` to broadcast against ``like``; and whether it was many."""
    tt = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if tt.ndim > 1:
        raise ValueError(f"t must be a number or a 1-D sequence, got shape {tuple(tt.shape)}")
    many = tt.ndim == 1
    tt = tt.reshape(-1, *([1] * like.ndim))
    return tt, many


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"the two latents must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.ndim == 0:
        raise ValueError("latents must have at least one dimension")


def lerp(a: torch.Tensor, b: torch.Tensor, t: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """``(1 - t) a + t b``. Right for latents without a norm prior (uniform boxes, ``w`` spaces)."""
    _check_pair(a, b)
    a, b = a.float(), b.float()
    tt, many = _as_t(t, a)
    out = (1 - tt) * a + tt * b
    return out if many else out[0]


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation along the great circle from ``a`` (t=0) to ``b`` (t=1), per row.

    ``sin((1-t) ω) / sin ω · a + sin(t ω) / sin ω · b`` with ω the angle between ``a`` and ``b``
    (Shoemake 1985). Falls back to ``lerp`` where the two are (anti)parallel and ω's sine vanishes.
    """
    _check_pair(a, b)
    a, b = a.float(), b.float()
    tt, many = _as_t(t, a)
    an = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    bn = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    omega = (an * bn).sum(-1, keepdim=True).clamp(-1.0, 1.0).acos()
    sin_omega = omega.sin()
    safe = sin_omega.abs() > _PARALLEL_EPS
    denom = torch.where(safe, sin_omega, torch.ones_like(sin_omega))
    spherical = (torch.sin((1 - tt) * omega) * a + torch.sin(tt * omega) * b) / denom
    linear = (1 - tt) * a + tt * b
    out = torch.where(safe, spherical, linear)
    return out if many else out[0]


def interpolation_path(a: torch.Tensor, b: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """``steps`` evenly spaced points from ``a`` to ``b`` inclusive: ``(steps, *a.shape)``."""
    if steps < 2:
        raise ValueError(f"an interpolation path needs at least 2 points, got {steps}")
    fns = {"slerp": slerp, "lerp": lerp}
    if method not in fns:
        raise ValueError(f"unknown interpolation method '{method}'; use one of {sorted(fns)}")
    return fns[method](a, b, torch.linspace(0.0, 1.0, steps))


def label_path(start: int, end: int, steps: int, num_classes: int) -> torch.Tensor:
    """Soft class weights ``(steps, num_classes)`` moving linearly from one-hot ``start`` to ``end``.

    Linear, not spherical: class weights live on the probability simplex, where the straight line
    stays a valid mixture (non-negative, summing to 1) and an embedding of the mixture is the
    mixture of embeddings (``ganforge.nn.embed_labels``).
    """
    for name, c in (("start", start), ("end", end)):
        if not 0 <= c < num_classes:
            raise ValueError(
                f"{name} class {c} is not one of the {num_classes} classes (0-{num_classes - 1})"
            )
    eye = torch.eye(num_classes)
    return lerp(eye[start], eye[end], torch.linspace(0.0, 1.0, steps)) if steps > 1 else eye[start][None]


__all__ = ["interpolation_path", "label_path", "lerp", "slerp"]
