"""``raw``: the data's own coordinates as features.

Why: for low-dimensional data (2-D toy mixtures, small tables) a learned embedding adds nothing
and hides the geometry; FID/KID/PRDC on the raw coordinates are exact and need no weights.
"""

from __future__ import annotations

import torch

from ganforge.errors import EvalError
from ganforge.metrics.features.base import FeatureExtractor
from ganforge.registry import register_extractor


class RawFeatures(FeatureExtractor):
    """Features = ``x.reshape(N, -1)``: no preprocessing, no resizing, values as given.

    ``dim`` (optional) pins the flattened dimension, so data of the wrong size is rejected instead
    of silently compared with statistics of another shape; without it any (N, ...) input works and
    ``feature_dim`` is None.
    """

    name = "raw"
    num_classes = None
    resize = "none (the pixels themselves)"

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
            raise EvalError(f"raw features: dim must be a positive integer or None, got {dim!r}")
        self.feature_dim = dim

    @property
    def weights_sha256(self) -> str:  # type: ignore[override]
        """No weights: the identity is just the name (and the pinned dimension, if any)."""
        return ""

    @property
    def identity(self) -> str:
        return "raw" if self.feature_dim is None else f"raw-{self.feature_dim}"

    def check_input(self, shape: tuple[int, ...] | torch.Size) -> None:
        if len(shape) == 0:
            raise EvalError("raw features need (N, D) vectors or (N, C, H, W) images, got scalars (N,)")
        flat = 1
        for size in shape:
            flat *= size
        if self.feature_dim is not None and flat != self.feature_dim:
            raise EvalError(
                f"raw features were set up for {self.feature_dim} values per sample, but samples of"
                f" shape {tuple(shape)} have {flat}"
            )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"features": x.reshape(len(x), -1)}


@register_extractor("raw", description="the data's own coordinates, flattened (for low-dimensional data)")
def raw(dim: int | None = None) -> RawFeatures:
    """The data itself, flattened: for 2-D toys and small tables, where no network is needed."""
    return RawFeatures(dim=dim)
