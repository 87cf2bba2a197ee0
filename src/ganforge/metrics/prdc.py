"""Precision / recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing
Generative Models") and density / coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity
Metrics for Generative Models").

Each set approximates its manifold by a union of balls B(x, NND_k(x)): a ball around every sample
whose radius is the distance to its k-th nearest neighbour *within the same set*, the sample itself
excluded. With real samples X (N of them) and generated samples Y (M of them):

- precision = 1/M Σ_j 1[Y_j lies in some real ball]           (fidelity: fakes look real)
- recall    = 1/N Σ_i 1[X_i lies in some fake ball]           (diversity: reals are reachable)
- density   = 1/(kM) Σ_j Σ_i 1[Y_j ∈ B(X_i, NND_k(X_i))]     (precision that counts how many real balls,
  so a few real outliers with huge balls cannot inflate it; ≈1 when both sets match, may exceed 1)
- coverage  = 1/N Σ_i 1[some Y_j ∈ B(X_i, NND_k(X_i))]       (recall built from real balls only, so
  fake outliers cannot inflate it)

Balls are closed (distance ≤ radius), as in the papers' definitions. Distances are Euclidean and
computed in float64, ``chunk_size`` query rows at a time, so at most two (chunk_size, max(N, M))
blocks are alive at once: about 2 · 1024 · 10,000 · 8 bytes ≈ 170 MB for 10k samples, instead of the
800 MB of a full 10k × 10k matrix.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ganforge.errors import EvalError
from ganforge.metrics.fid import ArrayLike, as_features, check_same_dim

CHUNK_SIZE = 1024


def _blocks(a: torch.Tensor, b: torch.Tensor, chunk_size: int) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield (rows, Euclidean distances from a[rows] to every row of b), ``chunk_size`` rows at a time.

    Uses ‖a‖² + ‖b‖² − 2 a·b with one in-place (chunk, len(b)) buffer per block: ``torch.cdist``
    would also copy ``b`` with two extra columns on every call, which for 10k × 2048 float64
    features is another 160 MB.
    """
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise EvalError(f"chunk_size must be a positive integer, got {chunk_size}.")
    b_sq = (b * b).sum(dim=1)
    for start in range(0, len(a), int(chunk_size)):
        rows = slice(start, min(start + int(chunk_size), len(a)))
        block = a[rows]
        dist = (block * block).sum(dim=1)[:, None] + b_sq[None, :]
        dist.addmm_(block, b.T, alpha=-2.0)
        yield rows, dist.clamp_(min=0.0).sqrt_()


def knn_radii(x: torch.Tensor, k: int, chunk_size: int = CHUNK_SIZE) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row of x (the point itself excluded).

    The self-distance is masked to +inf rather than skipped as "the first neighbour", because a
    duplicate sample ties with it at 0 and rounding can order the two either way.
    """
    radii = torch.empty(len(x), dtype=x.dtype)
    for rows, dist in _blocks(x, x, chunk_size):
        idx = torch.arange(rows.start, rows.stop)
        dist[idx - rows.start, idx] = float("inf")
        radii[rows] = dist.topk(k, dim=1, largest=False).values[:, -1]
    return radii


def _prepare(real: ArrayLike, fake: ArrayLike, k: int, fake_min: int) -> tuple[torch.Tensor, torch.Tensor]:
    if int(k) != k or k < 1:
        raise EvalError(f"k must be a positive integer, got {k}.")
    x = as_features(real, "real", min_rows=k + 1)
    y = as_features(fake, "fake", min_rows=fake_min)
    check_same_dim(x, y, "real", "fake")
    return torch.from_numpy(x), torch.from_numpy(y)


def precision_recall(
    real: ArrayLike, fake: ArrayLike, k: int = 3, chunk_size: int = CHUNK_SIZE
) -> dict[str, float]:
    """``{"precision", "recall"}`` of fake features against real features, both (N, D).

    k=3 is the paper's recommended neighbourhood size; both sets need more than k samples because
    recall uses balls around the fake samples too.
    """
    x, y = _prepare(real, fake, k, fake_min=k + 1)
    real_radii, fake_radii = knn_radii(x, k, chunk_size), knn_radii(y, k, chunk_size)
    in_real = torch.zeros(len(y), dtype=torch.bool)
    for rows, dist in _blocks(y, x, chunk_size):
        in_real[rows] = (dist <= real_radii[None, :]).any(dim=1)
    in_fake = torch.zeros(len(x), dtype=torch.bool)
    for rows, dist in _blocks(x, y, chunk_size):
        in_fake[rows] = (dist <= fake_radii[None, :]).any(dim=1)
    return {"precision": float(in_real.double().mean()), "recall": float(in_fake.double().mean())}


def density_coverage(
    real: ArrayLike, fake: ArrayLike, k: int = 5, chunk_size: int = CHUNK_SIZE
) -> dict[str, float]:
    """``{"density", "coverage"}`` of fake features against real features, both (N, D).

    k=5 is the paper's recommendation. Only balls around real samples are used, which is what makes
    both numbers robust to outliers among the fakes.
    """
    x, y = _prepare(real, fake, k, fake_min=1)
    radii = knn_radii(x, k, chunk_size)
    balls_hit = np.zeros(len(y), dtype=np.int64)
    for rows, dist in _blocks(y, x, chunk_size):
        balls_hit[rows] = (dist <= radii[None, :]).sum(dim=1).numpy()
    covered = torch.zeros(len(x), dtype=torch.bool)
    for rows, dist in _blocks(x, y, chunk_size):
        covered[rows] = dist.min(dim=1).values <= radii[rows]
    return {"density": float(balls_hit.sum() / (k * len(y))), "coverage": float(covered.double().mean())}
