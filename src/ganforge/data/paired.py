"""Paired and unpaired image datasets for image-to-image translation and restoration.

Batch keys (what every translation objective reads):

* ``x``: the *target* images, domain B (what the generator should output; what D calls real), with
  ``y`` their labels when the base data have them.
* ``a``: the *input* images, domain A. In a paired dataset ``a[i]`` is the input of ``x[i]``
  (``ArrayDataset.extras``: batched with the same indices). In an unpaired one A is a separate
  sample set batched by its own permutation (``ArrayDataset.independent``), with labels ``y_a``.

Why ``x`` stays the target: everything that reads a dataset's real images (FID references, the
diversity probe, ``data_shape`` in checkpoints) then sees domain B, the generator's output domain,
with no special case. A and B always have the same channel count, so a model needs only ``x``'s
shape; spatial sizes may differ (super-resolution inputs are smaller).

Degradations are applied once, when a dataset is built (deterministic, seeded); randomness that
should change every step (e.g. a fresh inpainting mask per batch) belongs to the objective.

Registered datasets (``data.name``): ``edges2digits`` (paired: Canny edges → MNIST digit),
``thin2thick`` (unpaired: digits ↔ grey-dilated digits from disjoint halves of the train split;
paired on ``split: test``), ``degraded`` (any registered image dataset + any degradation),
``paired_folder`` and ``unpaired_folder`` (``A/`` and ``B/`` folders of the user's own images).
The MNIST-based sets use the fixed split of ``mnist_split_indices`` (test = the 1,000 images
``numpy.random.default_rng(0).permutation(5000)[4000:]``, train = the other 4,000).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.data.base import ArrayDataset, resize_images
from ganforge.data.decode import READ_ERRORS, check_channels, read_square
from ganforge.data.degrade import canny_edges, degrade, grey_dilate
from ganforge.data.embedded import check_resolution, mnist_arrays
from ganforge.data.files import _existing, _list_images, _smallest_side, _stored_channels, _warn_skipped
from ganforge.data.pixels import PixelBuffer, PixelImages
from ganforge.data.streaming import ImageFiles, LazyImages, check_cache, streamed
from ganforge.errors import ConfigError, DataError
from ganforge.registry import DATASETS, register_dataset

I2I_SPLITS = ("train", "test")


def make_paired(
    target: ArrayDataset, inputs: torch.Tensor, name: str | None = None, key: str = "a"
) -> ArrayDataset:
    """``target`` (its ``x`` and labels) with ``inputs`` as the per-sample input images ``key``."""
    if target.extras or target.independent:
        raise DataError(f"dataset '{target.name}' is already paired or unpaired; pair a plain image dataset")
    if not target.is_image or inputs.ndim != 4:
        raise DataError("paired datasets need (N, C, H, W) images on both sides")
    if len(inputs) != len(target):
        raise DataError(
            f"paired datasets need as many inputs as targets, got {len(inputs)} and {len(target)}"
        )
    if inputs.shape[1] != target.x.shape[1]:
        raise DataError(
            f"paired images must share a channel count, got {inputs.shape[1]} (A) and {target.x.shape[1]} (B)"
        )
    return ArrayDataset(
        x=target.x,
        y=target.y,
        name=name or target.name,
        num_classes=target.num_classes,
        extras={key: inputs.contiguous()},
    )


def make_unpaired(a: ArrayDataset, b: ArrayDataset, name: str = "unpaired") -> ArrayDataset:
    """Domain B as ``x`` (and ``y``), domain A as an independent set ``a`` (and ``y_a``)."""
    for ds in (a, b):
        if not ds.is_image or ds.extras or ds.independent:
            raise DataError(f"dataset '{ds.name}' must be plain images to join an unpaired dataset")
    if a.x.shape[1] != b.x.shape[1]:
        raise DataError(
            f"unpaired domains must share a channel count, got {a.x.shape[1]} (A) and {b.x.shape[1]} (B)"
        )
    independent = {"a": a.x.contiguous()}
    if a.y is not None:
        independent["y_a"] = a.y
    return ArrayDataset(
        x=b.x, y=b.y, name=name, num_classes=max(a.num_classes, b.num_classes), independent=independent
    )


def _split(split: str) -> str:
    if split not in I2I_SPLITS:
        raise ConfigError(f"data.split must be one of {', '.join(I2I_SPLITS)}, got {split!r}")
    return split


def _digits(split: str, resolution: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    x, labels = mnist_arrays(_split(split))
    resolution = check_resolution(resolution)
    if resolution is not None:
        x = resize_images(x, resolution)
    return x.contiguous(), torch.tensor(np.asarray(labels), dtype=torch.long)


@functools.lru_cache(maxsize=4)
def _edges2digits_cached(split: str, resolution: int | None, sigma: float) -> tuple[torch.Tensor, ...]:
    x, y = _digits(split, resolution)
    return x, y, canny_edges(x, sigma=sigma)  # ~1 s for 4,000 digits: worth keeping per process


@register_dataset(
    "edges2digits",
    native_resolution=32,
    channels=1,
    default_extractor="mnist-cnn",
    pairing="paired",
    description="paired: Canny edge maps (a) of MNIST digits -> the digits (x), fixed train/test split",
)
def edges2digits(split: str = "train", resolution: int | None = None, sigma: float = 1.0) -> ArrayDataset:
    """pix2pix's edges→photo task on digits (Isola et al. 2017, Sec. 4.1), offline.

    ``x`` = the split's digits (32×32, or ``resolution``), ``a`` = their Canny edges (``sigma``),
    computed at that resolution so edges stay one pixel wide. Labels ``y`` are the digits' classes.
    """
    x, y, edges = _edges2digits_cached(split, check_resolution(resolution), float(sigma))
    target = ArrayDataset(x=x.clone(), y=y.clone(), name="edges2digits", num_classes=10)
    return make_paired(target, edges.clone())


@functools.lru_cache(maxsize=4)
def _thin2thick_cached(split: str, resolution: int | None, radius: int) -> tuple[torch.Tensor, ...]:
    x, y = _digits(split, None)
    thick = grey_dilate(x, radius)  # the domain is defined at the native 32x32, then resized
    if resolution is not None:
        x, thick = resize_images(x, resolution), resize_images(thick, resolution)
    return x.contiguous(), thick.contiguous(), y


def thin2thick_halves() -> tuple[slice, slice]:
    """Positions in the (shuffled) train split of domain A's digits and of domain B's source digits."""
    return slice(0, 2000), slice(2000, 4000)


@register_dataset(
    "thin2thick",
    native_resolution=32,
    channels=1,
    default_extractor="mnist-cnn",
    pairing="unpaired",
    description="unpaired: MNIST digits (a) <-> digits dilated by a disk (x), disjoint halves; test paired",
)
def thin2thick(split: str = "train", resolution: int | None = None, radius: int = 1) -> ArrayDataset:
    """CycleGAN's unpaired setting (Zhu et al. 2017) with a known ground truth, offline.

    ``split: train``: domain A (``a``, labels ``y_a``) = the first 2,000 digits of the train split as
    they are; domain B (``x``, ``y``) = the other 2,000 grey-dilated by a disk of ``radius``. The
    halves are disjoint, so no (digit, dilated digit) pair is ever seen in training.
    ``split: test``: paired, ``a`` = each test digit, ``x`` = its true dilation, for PSNR/SSIM of
    translations against the truth.
    """
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
        raise ConfigError(f"data.radius must be a positive integer, got {radius!r}")
    x, thick, y = _thin2thick_cached(_split(split), check_resolution(resolution), radius)
    if split == "test":
        target = ArrayDataset(x=thick.clone(), y=y.clone(), name="thin2thick", num_classes=10)
        return make_paired(target, x.clone())
    half_a, half_b = thin2thick_halves()
    domain_a = ArrayDataset(x=x[half_a].clone(), y=y[half_a].clone(), name="thin", num_classes=10)
    domain_b = ArrayDataset(x=thick[half_b].clone(), y=y[half_b].clone(), name="thick", num_classes=10)
    return make_unpaired(domain_a, domain_b, name="thin2thick")


@dataclass(frozen=True)
class BaseImages:
    """The keys of a dataset made from another (``degraded``, ``masked``): dataset ``base`` built
    with ``base_params`` (e.g. ``{split: test}`` or ``{path: photos}``) at ``resolution``."""

    base: str = "mnist"
    base_params: dict[str, Any] | None = None
    resolution: int | None = None

    def build(self, purpose: str) -> ArrayDataset:
        """The base dataset: plain images only. A dataset that already pairs images declares
        ``pairing`` in its registry entry (edges2digits, thin2thick, the folder pairs, the wrappers
        themselves, ...), so it is refused by that, not by a list of names to keep up to date."""
        base = self.base
        if base in DATASETS and DATASETS.get(base).meta.get("pairing"):
            raise ConfigError(f"data.base must be a plain image dataset, not '{base}'")
        params = dict(self.base_params or {})
        if self.resolution is not None:
            params["resolution"] = self.resolution
        target = DATASETS.build(base, **params)
        if not target.is_image or target.extras or target.independent:
            raise ConfigError(f"data.base '{base}' must hold plain images {purpose}")
        return target


@register_dataset(
    "degraded",
    pairing="paired",
    description="paired: any image dataset (x) and a degradation of it (a): edges, dilate, downsample, holes",
    options=BaseImages,
)
def degraded(
    degradation: str = "edges",
    degradation_params: dict[str, Any] | None = None,
    options: BaseImages = BaseImages(),
) -> ArrayDataset:
    """The ``base`` images as targets, and ``degradation`` (``data/degrade.py``: edges, dilate,
    downsample, center_hole, free_form; with ``degradation_params``) of each as its input: users'
    own photos become a restoration task by naming ``folder`` as the base."""
    target = options.build("to be degraded")
    name = f"{options.base}+{degradation}"
    # target.x[:]: the floats, where x is a folder's uint8 cache or decoded on demand
    return make_paired(target, degrade(target.x[:], degradation, degradation_params), name=name)


# ---------------------------------------------------------------- the user's own folders


def read_rgb(path: Path, side: int) -> np.ndarray:
    """(side, side, 3) uint8: the file centre-cropped to square and LANCZOS-resized, as ``folder``;
    a DataError naming it when it cannot be read."""
    try:
        return read_square(path, side)
    except READ_ERRORS as err:
        raise DataError(f"could not read image '{path}': {err}") from None


def _two_domains(
    paths_a: list[Path], paths_b: list[Path], side: int, channels: int | None
) -> tuple[PixelImages | torch.Tensor, ...]:
    """Both domains' files read at ``side`` into the uint8 memory cache, in one channel count:
    colour in either side makes both RGB (``channels=None``)."""
    sides = (paths_a, paths_b)
    buffers = [PixelBuffer.filled((read_rgb(p, side) for p in paths), len(paths), side) for paths in sides]
    channels = channels or (1 if all(buffer.grey for buffer in buffers) else 3)
    return tuple(buffer.images(channels) for buffer in buffers)


def _side_folders(path: str, what: str, a_dir: str, b_dir: str) -> tuple[Path, Path, Path]:
    """The folder ``path`` and its image folders ``a_dir/`` and ``b_dir/``, or a DataError naming the
    one that is missing."""
    root = _existing(path, what)
    for sub in (a_dir, b_dir):
        if not (root / sub).is_dir():
            raise DataError(f"'{root}' must hold a folder '{sub}/' of images (it does not)")
    return root, root / a_dir, root / b_dir


def _openable(
    root: Path, paths_a: list[Path], paths_b: list[Path]
) -> tuple[list[Path], list[Path], int, int]:
    """The files of each side PIL can open (headers only), the smallest shorter side among both
    sides and the channels their headers store (3 if a file of either side is stored in colour: a
    streamed pair decodes nothing up front); one warning lists the files skipped."""
    skipped: list[str] = []
    modes: list[str] = []
    paths_a, side_a = _smallest_side(paths_a, skipped, modes)
    paths_b, side_b = _smallest_side(paths_b, skipped, modes)
    _warn_skipped(root, skipped, stacklevel=4)
    return paths_a, paths_b, min(side_a, side_b), _stored_channels(modes)


def _readable(folder: Path) -> list[Path]:
    paths = _list_images(folder, recursive=True)
    if not paths:
        raise DataError(f"no images found in '{folder}'")
    return paths


def _stem(folder: Path, p: Path) -> str:
    return str(p.relative_to(folder).with_suffix(""))


def _by_stem(folder: Path, paths: list[Path]) -> dict[str, Path]:
    counts = Counter(_stem(folder, p) for p in paths)
    twice = sorted(s for s, c in counts.items() if c > 1)
    if twice:
        raise DataError(f"'{folder}' holds several images named '{twice[0]}' (with different extensions)")
    return {_stem(folder, p): p for p in paths}


def _names(items: list[str]) -> str:
    return ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")


@dataclass(frozen=True)
class TwoFolders:
    """The keys of both two-domain folder datasets: ``path`` holds the image folders ``a_dir/`` and
    ``b_dir/`` (subfolders included); images are centre-cropped and resized to ``resolution``
    (default: the smallest side among all of them); ``channels``, ``cache`` and ``workers`` as for
    ``folder``: with ``cache: none`` only the file lists stay in memory and each batch's images (both
    of a pair, or each domain's own) are decoded by ``workers`` processes."""

    path: str = ""
    resolution: int | None = None
    channels: int | None = None
    a_dir: str = "A"
    b_dir: str = "B"
    cache: str = "memory"
    workers: int | None = None

    def __post_init__(self) -> None:
        check_channels(self.channels)
        check_cache(self.cache, self.workers)

    def folders(self, what: str) -> tuple[Path, Path, Path]:
        return _side_folders(self.path, what, self.a_dir, self.b_dir)

    def images(
        self, paths_a: list[Path], paths_b: list[Path], smallest: int, stored_channels: int
    ) -> tuple[Any, Any]:
        """Both sides' images at ``resolution`` (else ``smallest``), in one channel count: decoded
        now (``cache: memory``), or as ``LazyImages`` of the files (``none``; an unset ``channels``
        then comes from the files' headers, ``stored_channels``)."""
        side = check_resolution(self.resolution) or smallest
        if self.cache == "none":
            channels = self.channels or stored_channels
            return LazyImages(ImageFiles(tuple(paths_a), side, channels)), LazyImages(
                ImageFiles(tuple(paths_b), side, channels)
            )
        return _two_domains(paths_a, paths_b, side, self.channels)

    def finish(self, dataset: ArrayDataset) -> ArrayDataset:
        """The dataset as built, or with ``cache: none`` streamed (``streaming.streamed``)."""
        return streamed(dataset, self.workers) if self.cache == "none" else dataset


@register_dataset(
    "paired_folder",
    options=TwoFolders,
    pairing="paired",
    description="paired: folders A/ (inputs) and B/ (targets) of images with the same file names",
)
def paired_folder(options: TwoFolders = TwoFolders()) -> ArrayDataset:
    """Your own pairs: ``path/A/name.png`` is the input of ``path/B/name.png`` (matched by name
    without extension). A name on one side only is an error that lists it: silently dropping it
    would misalign nothing but hide a user's mistake."""
    o = options
    root, folder_a, folder_b = o.folders("paired dataset folder")
    by_a, by_b = _by_stem(folder_a, _readable(folder_a)), _by_stem(folder_b, _readable(folder_b))
    only_a, only_b = sorted(set(by_a) - set(by_b)), sorted(set(by_b) - set(by_a))
    if only_a or only_b:
        parts = [f"{len(only_a)} only in {o.a_dir}/ ({_names(only_a)})"] if only_a else []
        parts += [f"{len(only_b)} only in {o.b_dir}/ ({_names(only_b)})"] if only_b else []
        same = f"{o.a_dir}/ and {o.b_dir}/ must hold the same file names"
        raise DataError(f"'{o.path}': {same}; " + ", ".join(parts))
    names = sorted(by_a)
    paths_a, paths_b, smallest, stored = _openable(root, [by_a[n] for n in names], [by_b[n] for n in names])
    keep = sorted({_stem(folder_a, p) for p in paths_a} & {_stem(folder_b, p) for p in paths_b})
    if not keep:
        raise DataError(f"no readable image pairs in '{o.path}'")
    x_a, x_b = o.images([by_a[n] for n in keep], [by_b[n] for n in keep], smallest, stored)
    return o.finish(make_paired(ArrayDataset(x=x_b, name="paired_folder"), x_a))


@register_dataset(
    "unpaired_folder",
    options=TwoFolders,
    pairing="unpaired",
    description="unpaired: folders A/ and B/ of images, any names and counts (CycleGAN)",
)
def unpaired_folder(options: TwoFolders = TwoFolders()) -> ArrayDataset:
    """Two unrelated image collections ``path/A`` and ``path/B`` of any sizes, for CycleGAN."""
    o = options
    root, folder_a, folder_b = o.folders("unpaired dataset folder")
    paths_a, paths_b, smallest, stored = _openable(root, _readable(folder_a), _readable(folder_b))
    if not paths_a or not paths_b:
        raise DataError(f"'{o.path}' needs readable images in both {o.a_dir}/ and {o.b_dir}/")
    x_a, x_b = o.images(paths_a, paths_b, smallest, stored)
    domain_a, domain_b = ArrayDataset(x=x_a, name=o.a_dir), ArrayDataset(x=x_b, name=o.b_dir)
    return o.finish(make_unpaired(domain_a, domain_b, name="unpaired_folder"))
