"""The feature-extractor interface every sample-quality metric (FID, KID, PRDC, IS) goes through.

Why one interface: a metric is only comparable when the *same* network with the *same*
preprocessing embedded both the real and the generated samples. Every extractor therefore

- owns its preprocessing (resize method, channel handling, value range), documented on the class,
  so callers always pass images exactly as ganforge produces them: (N, C, H, W) in [-1, 1];
- exposes an ``identity`` (name + short sha256 of its weights) that keys cached statistics of real
  data, so statistics computed with one network are never reused with another;
- rejects inputs it cannot embed meaningfully with one clear sentence (``EvalError``) instead of
  returning numbers that look valid.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.errors import EvalError

_HASH_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks (weights files can be hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_state(module: nn.Module) -> str:
    """Hex sha256 of a module's weights and buffers, independent of the file format they came from.

    Hashes (name, dtype, shape, bytes) of every state-dict entry in sorted order, skipping BatchNorm's
    ``num_batches_tracked`` (a training counter that never changes an eval-mode output and that some
    published weight files omit). The same weights loaded from a ``.pth`` or a ``.safetensors`` file
    therefore get the same identity, so cached real statistics are shared between them.
    """
    digest = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        if key.endswith("num_batches_tracked"):
            continue
        t = value.detach().to("cpu").contiguous()
        digest.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` = cuda > mps > cpu (the project-wide convention); anything else as torch reads it."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class FeatureExtractor(nn.Module):
    """Base class: maps samples to ``{"features": (N, feature_dim)}`` (+ ``"logits"`` with a head).

    Subclasses keep their network in ``self.net``, set ``name``, ``feature_dim`` and ``num_classes``
    and implement ``preprocess`` (a batch as given -> the network's input) and ``forward`` (network
    input -> dict of outputs; ``nn.Module`` refuses to run a subclass that forgets it). They extend
    ``check_input`` with their own shape rules. ``extract``
    does the batching, device moves, inference mode and progress display, identically for all.
    """

    name: str = "extractor"
    feature_dim: int | None = None  # None only for ``raw`` without a declared dimension
    num_classes: int | None = None  # set when the network has a classifier head (-> "logits")
    # Show a progress bar from this many samples on (overridden by slow extractors).
    progress_threshold: int = 20_000
    # How ``preprocess`` resizes images, in words, for records and ``ganforge fid --json``.
    resize: str = "none"

    @functools.cached_property
    def weights_sha256(self) -> str:
        """sha256 of the network's weights (``sha256_state(self.net)``), computed once, on first use.

        Hashing ``self.net`` (not the wrapper) keeps state-dict names as in the weights file, so
        anyone can recompute an identity from the file alone.
        """
        return sha256_state(self.net)

    @property
    def identity(self) -> str:
        """``name-<12 hex of the weights' sha256>``: the key for cached statistics of real data."""
        return f"{self.name}-{self.weights_sha256[:12]}"

    def check_input(self, shape: tuple[int, ...] | torch.Size) -> None:
        """Raise ``EvalError`` when samples of this shape cannot be embedded.

        ``shape`` is ONE sample's shape, without the batch dimension: ``(C, H, W)`` for images,
        ``(D,)`` for vectors. Callers check before generating thousands of samples; ``extract``
        checks again. The base class accepts everything.
        """

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """A batch in the caller's convention -> the network's input. Identity by default."""
        return x

    def extract(
        self,
        x: torch.Tensor | np.ndarray,
        batch_size: int = 256,
        device: str | torch.device = "cpu",
        progress: bool | None = None,
    ) -> dict[str, torch.Tensor]:
        """Embed ``x`` in batches: ``{"features": (N, feature_dim)}`` plus ``"logits"`` with a head.

        Outputs are float32 on the CPU whatever ``device`` computed them, so metric code never has
        to care where the network ran. Non-finite inputs (a diverged generator) raise ``EvalError``
        rather than yielding a NaN score that could be mistaken for a measurement. ``progress``:
        None shows a bar only from ``progress_threshold`` samples on.
        """
        x = torch.as_tensor(x)
        if x.ndim == 0 or len(x) == 0:
            raise EvalError(f"the {self.name} feature extractor got no samples (shape {tuple(x.shape)})")
        if not x.is_floating_point():  # uint8 pixels would be read as values far outside [-1, 1]
            raise EvalError(
                f"the {self.name} feature extractor needs floating-point inputs in [-1, 1], got {x.dtype};"
                " convert pixels with x / 127.5 - 1"
            )
        self.check_input(tuple(x.shape[1:]))
        if batch_size < 1:
            raise EvalError(f"batch_size must be a positive integer, got {batch_size}")
        dev = resolve_device(device)
        self.to(dev).eval()
        n = x.shape[0]
        show = n >= self.progress_threshold if progress is None else progress
        outputs: dict[str, list[torch.Tensor]] = {}
        with torch.inference_mode(), _progress(show, math.ceil(n / batch_size), self.name) as advance:
            for start in range(0, n, batch_size):
                batch = x[start : start + batch_size].to(dev, torch.float32)
                if not torch.isfinite(batch).all():
                    bad = int((~torch.isfinite(batch)).flatten(1).any(1).sum())
                    raise EvalError(
                        f"{bad} sample(s) in rows {start}-{start + len(batch) - 1} contain NaN or infinite"
                        f" values; the {self.name} feature extractor needs finite inputs"
                    )
                for key, value in self(self.preprocess(batch)).items():
                    outputs.setdefault(key, []).append(value.float().cpu())
                advance()
        return {key: torch.cat(chunks) for key, chunks in outputs.items()}

    def extra_repr(self) -> str:
        return f"name={self.name!r}, feature_dim={self.feature_dim}, num_classes={self.num_classes}"


class _progress:
    """A transient rich progress bar on stderr, or a no-op; yields a function that advances it."""

    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self.enabled, self.total, self.label = enabled, total, label
        self._bar: Any = None

    def __enter__(self) -> Callable[[], None]:
        if not self.enabled:
            return lambda: None
        from ganforge.utils.progress import stderr_progress

        self._bar = stderr_progress(f"[bold]features ({self.label})", "batches, eta")
        self._bar.start()
        task = self._bar.add_task("features", total=self.total)
        return lambda: self._bar.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
