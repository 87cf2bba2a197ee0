"""``normal_images``: the normal part of any image dataset, for anomaly detectors to learn from.

An anomaly detector learns what normal looks like from normal images only, and needs normal
images it never trained on to set its threshold. This dataset makes both from one base dataset
(``base``/``base_params``/``resolution``, as ``masked`` and ``degraded``):

* ``normal_classes``: the labels that count as normal (``[1, 2, 7]``); None: every image is
  normal (an unlabelled folder of good parts). A label column is used to *select* data only: the
  detector never sees a label.
* ``holdout``: the fraction of the normal images set aside, by a ``seed``-ed permutation, for
  calibration; ``part: fit`` (default) is the rest, what the detector trains on, and ``part:
  calibration`` the held-out part, where the ``anomaly`` task reads its threshold.

The selection is recorded in every checkpoint's ``info["anomaly"]``, so a loaded detector says
what it was taught is normal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ganforge.data.base import ArrayDataset
from ganforge.data.paired import BaseImages
from ganforge.errors import ConfigError, DataError
from ganforge.registry import register_dataset

PARTS = ("fit", "calibration")


def normal_indices(labels: torch.Tensor | None, normal_classes: list[int], where: str) -> np.ndarray:
    """Indices of the images whose label is a normal class, or a DataError saying why there are none."""
    if labels is None:
        raise DataError(f"data.normal_classes selects images by label, but {where} has no labels")
    keep = np.isin(labels.numpy(), np.asarray(normal_classes, dtype=np.int64))
    if not keep.any():
        present = sorted(set(labels.tolist()))
        raise DataError(
            f"no normal data: {where} holds no image of classes {normal_classes} (labels: {present})"
        )
    return np.flatnonzero(keep)


def check_classes(normal_classes: Any) -> list[int] | None:
    """``normal_classes`` as a list of ints (one int is one class), or a ConfigError."""
    if normal_classes is None:
        return None
    values = [normal_classes] if isinstance(normal_classes, int) else list(normal_classes)
    if not values or any(isinstance(v, bool) or not isinstance(v, int | np.integer) for v in values):
        raise ConfigError(
            f"data.normal_classes must be a non-empty list of class labels, got {normal_classes!r}"
        )
    return sorted({int(v) for v in values})


@register_dataset(
    "normal_images",
    options=BaseImages,
    description="the normal classes of any image dataset, split into fit and calibration parts (anomaly)",
)
def normal_images(
    normal_classes: list[int] | None = None,
    part: str = "fit",
    holdout: float = 0.15,
    seed: int = 0,
    options: BaseImages | None = None,
) -> ArrayDataset:
    """The ``part`` (fit or calibration) of the ``base`` images of ``normal_classes``; no labels."""
    if part not in PARTS:
        raise ConfigError(f"data.part must be one of {', '.join(PARTS)}, got {part!r}")
    if not 0.0 < holdout < 1.0:
        raise ConfigError(f"data.holdout must be a fraction in (0, 1), got {holdout!r}")
    options = options or BaseImages()
    classes = check_classes(normal_classes)
    base = options.build("to detect anomalies in")
    where = f"data '{options.base}'"
    idx = normal_indices(base.y, classes, where) if classes is not None else np.arange(len(base))
    idx = idx[np.random.default_rng(seed).permutation(len(idx))]
    n_hold = round(holdout * len(idx))
    if n_hold < 1 or n_hold >= len(idx):
        raise DataError(
            f"{where} holds {len(idx)} normal image(s): too few to hold out {holdout:.0%} for calibration"
            " and train on the rest"
        )
    chosen = np.sort(idx[:n_hold] if part == "calibration" else idx[n_hold:])
    facts = {"normal_classes": classes, "holdout": holdout, "seed": seed, "base": options.base}
    return ArrayDataset(
        x=base.x[torch.from_numpy(chosen)].contiguous(),
        name=f"{options.base}:normal",
        info={"anomaly": facts},
    )
