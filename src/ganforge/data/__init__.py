"""Datasets: every builder registers in ``ganforge.registry.DATASETS`` when this package is imported.

``build_dataset("mnist", resolution=32)`` is the one door; the builder's keyword parameters are the
``data.*`` config keys, so an unknown key is reported with the closest valid one.
"""

from __future__ import annotations

from typing import Any

from ganforge.data import (  # noqa: F401  (imported for their registrations)
    attributes,
    captioned,
    embedded,
    files,
    masked,
    normal,
    paired,
    patches,
    stacked,
    toy2d,
)
from ganforge.data.base import ArrayDataset
from ganforge.data.embedded import mnist_split_indices
from ganforge.data.toy2d import mixture_centers, mixture_spec
from ganforge.registry import DATASETS

__all__ = [
    "ArrayDataset",
    "build_dataset",
    "mixture_centers",
    "mixture_spec",
    "mnist_split_indices",
]


def build_dataset(name: str, **kwargs: Any) -> ArrayDataset:
    """Build registered dataset ``name`` (e.g. ``toy2d``, ``mnist``, ``folder``) from its config keys."""
    return DATASETS.build(name, **kwargs)
