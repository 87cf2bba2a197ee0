"""The in-memory dataset every loader returns, plus the image conversions they share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.errors import DataError


class ImageRows:
    """Base of the stand-ins for a dataset's (N, C, H, W) float images in [-1, 1] that hold no
    floats: a folder's uint8 memory cache (``pixels.PixelImages``) and images decoded on demand
    (``streaming.LazyImages``). A subclass gives ``shape`` and ``__getitem__`` (the selected rows as
    floats); this gives the rest of what code written for the float tensor asks of it: ``len``,
    ``ndim``, ``dtype``, and any torch function (``torch.equal(x, ...)``) or tensor method
    (``x.float()``, ``x.mean()``), applied to the floats of every row, made for the call.

    Why a stand-in rather than floats: a folder's images held as float32 take 4 bytes per value
    (10,000 RGB images at 256 px: 7.9 GB); batches and probes read a few rows at a time."""

    ndim = 4
    dtype = torch.float32
    shape: torch.Size

    def __len__(self) -> int:
        return int(self.shape[0])

    def __getitem__(self, key: Any) -> torch.Tensor:
        raise NotImplementedError

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        def floats(value: Any) -> Any:
            if isinstance(value, (list, tuple)):
                return type(value)(floats(v) for v in value)
            return value[:] if isinstance(value, ImageRows) else value

        return func(*floats(tuple(args)), **{k: floats(v) for k, v in (kwargs or {}).items()})

    def __getattr__(self, name: str) -> Any:
        """Tensor methods and attributes not defined here, on the floats (only those: an unpickled
        instance asks for its own fields before they are set, and must not recurse)."""
        if name.startswith("_") or not hasattr(torch.Tensor, name):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        return getattr(self[:], name)


@dataclass
class ArrayDataset:
    """A whole dataset as tensors: images ``x`` (N, C, H, W) in [-1, 1], or vectors (N, D).

    Why in memory: every embedded dataset is small (≤ a few hundred MB), and indexing one tensor is
    far faster than a per-item DataLoader on 2 CPU cores. ``y`` holds integer labels or None. A
    folder's images (``x``, and its ``extras``/``independent`` images) may instead be an
    ``ImageRows`` stand-in that reads like the float tensor: its uint8 cache, or files decoded on
    demand.

    Two optional tables carry more per-sample tensors into every batch, under their own keys:

    * ``extras``: one row per sample of ``x``, batched with the same indices (paired data: the input
      image ``a`` of image-to-image translation beside its target ``x``; ``data/paired.py``).
    * ``independent``: a second sample set of any length, batched by its own seeded permutation, so
      its rows never pair up with ``x`` (unpaired data: CycleGAN's domain ``a``). All its tensors
      share one length and one permutation (``a`` with its labels ``y_a``).

    Three optional fields let data that is not a plain sample set (a table with fitted column
    encodings) train through the same session builder:

    * ``model_inputs``: JSON-able facts the model's builder needs beyond the sample shape (a table's
      output layout); passed to it as ``model_inputs=`` and recorded in every checkpoint, so a run loads
      without its data.
    * ``info``: JSON-able facts a trained model needs to be used (a table's fitted encoding),
      recorded in every checkpoint's ``info`` and handed to the task's handle.
    * ``stream``: a factory ``(dataset, config, device, channels_last) -> iterator of batches``
      for data that draws or decodes its own batches (CTGAN's training-by-sampling, a streamed
      folder); None = uniform batches from memory (``BatchStream``). It is handed the dataset
      as the run uses it (resized, say), and the run's config (batch size, seed, x-flip).
    """

    x: torch.Tensor
    y: torch.Tensor | None = None
    name: str = "data"
    num_classes: int = 0
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    independent: dict[str, torch.Tensor] = field(default_factory=dict)
    model_inputs: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    stream: Callable[..., Iterator[dict[str, torch.Tensor]]] | None = None

    def __post_init__(self) -> None:
        if self.x.ndim not in (2, 4):
            raise DataError(
                f"dataset '{self.name}' must be (N, D) vectors or (N, C, H, W) images,"
                f" got shape {tuple(self.x.shape)}"
            )
        if len(self.x) == 0:
            raise DataError(f"dataset '{self.name}' is empty")
        if self.y is not None and len(self.y) != len(self.x):
            raise DataError(f"dataset '{self.name}' has {len(self.x)} samples but {len(self.y)} labels")
        self._check_tables()

    def _check_tables(self) -> None:
        taken = {"x", "y"}
        for tensors in (self.extras, self.independent):
            for key in tensors:
                if key in taken:
                    raise DataError(f"dataset '{self.name}' uses the batch key '{key}' twice")
                taken.add(key)
        for key, value in self.extras.items():
            if len(value) != len(self.x):
                raise DataError(
                    f"dataset '{self.name}' has {len(self.x)} samples but {len(value)} rows of '{key}'"
                )
        sizes = {key: len(value) for key, value in self.independent.items()}
        if len(set(sizes.values())) > 1:
            raise DataError(f"dataset '{self.name}' has independent sets of different lengths: {sizes}")
        if 0 in sizes.values():
            raise DataError(f"dataset '{self.name}' has an empty independent set")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) or (D,)."""
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.ndim == 4

    @property
    def resolution(self) -> int | None:
        return int(self.x.shape[-1]) if self.is_image else None


def to_unit_range(images: np.ndarray | torch.Tensor, max_value: float) -> torch.Tensor:
    """Map pixel values in [0, max_value] to float32 in [-1, 1] (the tanh output range of G)."""
    t = torch.as_tensor(np.asarray(images, dtype=np.float32))
    return t.mul_(2.0 / max_value).sub_(1.0)


def resize_images(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Resize (N, C, H, W) images to square ``resolution`` with antialiased bilinear filtering.

    Antialiasing matters when shrinking (no moiré); values stay in [-1, 1] by clamping.
    """
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    if not isinstance(x, torch.Tensor):  # images decoded on demand (a streamed folder): decode at the size
        return x.resized(resolution)
    out = F.interpolate(
        x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True
    )
    return out.clamp_(-1.0, 1.0)


def pad_images(x: torch.Tensor, resolution: int, value: float = -1.0) -> torch.Tensor:
    """Centre-pad (N, C, H, W) images to ``resolution`` with background ``value`` (MNIST 28 -> 32)."""
    h, w = x.shape[-2:]
    if resolution < max(h, w):
        raise DataError(f"cannot pad {h}x{w} images to the smaller size {resolution}")
    top, left = (resolution - h) // 2, (resolution - w) // 2
    return F.pad(x, (left, resolution - w - left, top, resolution - h - top), value=value)
