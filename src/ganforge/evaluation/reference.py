"""Features of the real training data, computed once per dataset + extractor and cached on disk.

Why cache: extracting 5,000-50,000 real images costs as much as the whole evaluation of a small
generator, and every evaluation of every run on the same data needs the same numbers. The cache key
hashes everything that changes them (dataset name, its parameters, the resolution the run trained
at, the extractor's identity = name + weights hash, the subset size), so a changed extractor or
dataset can never be served stale features. Files live in ``$GANFORGE_CACHE/real_features/`` as
safetensors (no pickle), written atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ganforge.config import Config
from ganforge.utils.io import atomic_write, cache_dir

CACHE_VERSION = 1
MAX_REAL = 50_000  # the usual FID reference size; bigger datasets are subsampled (seeded)


def reference_key(cfg: Config, extractor: Any, max_n: int = MAX_REAL) -> str:
    facts = {
        "version": CACHE_VERSION,
        "dataset": cfg.data.name,
        "params": cfg.data.params,
        "resolution": cfg.data.resolution,
        "extractor": extractor.identity,
        "max_n": max_n,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def reference_path(cfg: Config, extractor: Any, max_n: int = MAX_REAL) -> Path:
    name = f"{cfg.data.name}-{extractor.name}-{reference_key(cfg, extractor, max_n)}.safetensors"
    return cache_dir() / "real_features" / name


def seeded_subset(x: torch.Tensor, n: int) -> torch.Tensor:
    """At most ``n`` rows of ``x``, the same ones every time (seed 0), so numbers are repeatable; a
    tensor even where ``x`` is a folder's uint8 cache or decoded on demand (``x[:]``)."""
    if len(x) <= n:
        return x[:]
    return x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:n]]


def real_images(cfg: Config, max_n: int = MAX_REAL) -> torch.Tensor:
    """The run's training images exactly as the trainer saw them (same dataset, split, resolution)."""
    from ganforge.training.build import load_data

    dataset, _ = load_data(cfg)
    return seeded_subset(dataset.x, max_n)


def real_features(
    cfg: Config, extractor: Any, device: str = "cpu", max_n: int = MAX_REAL
) -> dict[str, torch.Tensor]:
    """``{"features": (N, D)[, "logits": (N, K)]}`` of the real data, from the cache when present."""
    path = reference_path(cfg, extractor, max_n)
    if path.exists():
        with contextlib.suppress(Exception):  # a damaged cache file is recomputed below
            cached = load_file(str(path))
            if "features" in cached:
                return cached
    out = {k: v.contiguous() for k, v in extractor.extract(real_images(cfg, max_n), device=device).items()}
    with contextlib.suppress(OSError):  # a read-only cache dir only costs a recomputation next time
        atomic_write(path, lambda tmp: save_file(out, str(tmp)))
    return out
