"""Mode coverage of a 2-D Gaussian mixture (the protocol of VEEGAN, Srivastava et al. 2017, and PacGAN).

Rule, for ``n`` samples (2,500 by convention) and ``K`` modes with standard deviation ``std``:

- each sample is assigned to its nearest mode centre;
- it is *high quality* if that distance is at most ``3 * std``;
- a mode is *covered* if the high-quality samples assigned to it number at least 20% of its
  expected share, ``0.2 * n / K`` (so a mode hit by a handful of stray samples does not count);
- ``reverse_kl`` = KL(q ‖ uniform) = Σ_k q_k log(K q_k), where q is the histogram of the
  high-quality samples over the modes (0 when they are spread evenly; log K when all sit in one
  mode, and also when there are no high-quality samples at all).
"""

from __future__ import annotations

import math

import numpy as np
import torch

COVERAGE_SHARE = 0.2
HQ_STDS = 3.0


def mode_coverage(
    samples: np.ndarray | torch.Tensor, centers: np.ndarray, std: float
) -> dict[str, float | int]:
    """``{"modes_covered", "modes_total", "hq_fraction", "reverse_kl"}`` for samples (N, 2)."""
    x = torch.as_tensor(np.asarray(samples, dtype=np.float64))
    c = torch.as_tensor(np.asarray(centers, dtype=np.float64))
    if x.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"samples must be (N, {c.shape[1]}), got {tuple(x.shape)}")
    n, k = len(x), len(c)
    finite = torch.isfinite(x).all(dim=1)
    dist = torch.cdist(torch.nan_to_num(x, nan=1e30, posinf=1e30, neginf=-1e30), c)
    nearest_dist, nearest = dist.min(dim=1)
    hq = finite & (nearest_dist <= HQ_STDS * std)
    counts = torch.bincount(nearest[hq], minlength=k).double()
    covered = int((counts >= COVERAGE_SHARE * n / k).sum())
    total_hq = counts.sum().item()
    if total_hq == 0:
        reverse_kl = math.log(k)
    else:
        q = counts / total_hq
        nz = q > 0
        reverse_kl = float((q[nz] * torch.log(q[nz] * k)).sum())
    return {
        "modes_covered": covered,
        "modes_total": k,
        "hq_fraction": float(hq.double().mean()),
        "reverse_kl": reverse_kl,
    }
