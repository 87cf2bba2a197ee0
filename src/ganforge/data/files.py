"""Datasets read from the user's own files: a folder of images, or arrays in an ``.npz`` archive.

Both end in the same place as the embedded sets (square (N, C, H, W) images in [-1, 1]), so any
model that trains on ``mnist`` trains on a folder of photos by changing ``data.name`` and
``data.path``. Both centre-crop non-square images to a square rather than stretching them, because a
GAN faithfully learns whatever distortion it is shown.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ganforge.data.archive import archive_members, prepare
from ganforge.data.base import ArrayDataset
from ganforge.data.decode import BACKGROUNDS, READ_ERRORS, check_channels, read_square
from ganforge.data.embedded import check_resolution, image_dataset
from ganforge.data.pixels import PixelBuffer
from ganforge.data.streaming import ImageFiles, check_cache, streamed_folder
from ganforge.errors import ConfigError, DataError
from ganforge.registry import register_dataset

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif"})
_RANGE_TOLERANCE = 1e-3


def _existing(path: str, what: str) -> Path:
    """The path as a Path, or a DataError naming what is missing."""
    if not path:
        raise DataError(f"no {what} given: set data.path (on the command line: --set data.path=...)")
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{what} '{path}' does not exist")
    return p


def _list_images(root: Path, recursive: bool) -> list[Path]:
    """Image files under ``root`` in sorted order, skipping hidden files and folders (.git, ...)."""
    found = root.rglob("*") if recursive else root.iterdir()
    return sorted(
        p
        for p in found
        if p.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.is_file()
    )


def _warn_skipped(root: Path, skipped: list[str], stacklevel: int = 3) -> None:
    """One warning listing the ``skipped`` files, attributed to the caller of the dataset builder
    (``stacklevel`` frames up)."""
    if skipped:
        shown = "; ".join(skipped[:5]) + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        warnings.warn(
            f"skipped {len(skipped)} unreadable image(s) in '{root}': {shown}", stacklevel=stacklevel
        )


def _smallest_side(
    paths: list[Path], skipped: list[str], modes: list[str] | None = None
) -> tuple[list[Path], int]:
    """Read only the headers: the files PIL can open and the smallest shorter side among them
    (and, into ``modes``, each readable file's stored PIL mode)."""
    readable, sides = [], []
    for p in paths:
        try:
            with Image.open(p) as img:
                sides.append(min(img.size))
                if modes is not None:
                    modes.append(img.mode)
            readable.append(p)
        except READ_ERRORS as e:
            skipped.append(f"{p.name} ({e})")
    return readable, min(sides, default=1)


def _scan(root: Path, recursive: bool, given: str) -> tuple[list[Path], int, list[str], int]:
    """The image files under ``root`` whose headers read, the smallest shorter side among them, the
    files skipped and the channels they are stored in (one pass over the headers; a DataError when
    the folder holds no image file at all)."""
    paths = _list_images(root, recursive)
    if not paths:
        raise DataError(f"no images found in '{given}'")
    skipped: list[str] = []
    modes: list[str] = []
    readable, smallest = _smallest_side(paths, skipped, modes)
    return readable, smallest, skipped, _stored_channels(modes)


def _folder_labels(root: Path, paths: list[Path]) -> tuple[np.ndarray | None, int]:
    """Class = top-level subfolder (sorted names -> 0, 1, ...), as in torchvision's ImageFolder.

    Only when every image sits in a subfolder and there are at least two of them; otherwise the
    folder is treated as one unlabelled set.
    """
    parts = [p.relative_to(root).parts for p in paths]
    if any(len(pt) < 2 for pt in parts):
        return None, 0
    classes = sorted({pt[0] for pt in parts})
    if len(classes) < 2:
        return None, 0
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[pt[0]] for pt in parts], dtype=np.int64), len(classes)


@register_dataset(
    "folder",
    description="a folder of images (png/jpg/bmp/webp/gif); subfolders become class labels",
)
def folder(
    path: str = "",
    resolution: int | None = None,
    channels: int | None = None,
    recursive: bool = True,
    background: str = "white",
    cache: str = "memory",
    workers: int | None = None,
    crop: str = "center",
) -> ArrayDataset:
    """Every image under ``path``, centre-cropped to square and resized with LANCZOS.

    ``resolution=None`` uses the smallest image's shorter side, so no image is ever upscaled.
    ``channels=None`` gives 3 (RGB) if any image has colour, else 1 (grey); 1 converts colour to luma.
    Transparent pixels are composited over ``background`` (``white`` or ``black``).
    Unreadable files are skipped with one warning; a folder with no readable image is an error.
    ``cache``: ``memory`` decodes every image once into memory; ``none`` decodes each batch in
    ``workers`` processes (default: the cores but one, at most 4), so memory is bounded by the
    batch, not the folder (``streaming.py``). ``crop``: ``center``, or ``random`` (streamed only): a
    fresh square of each non-square image every epoch, for more variety from a small folder.
    """
    root = _existing(path, "dataset folder")
    check_channels(channels)
    if background not in BACKGROUNDS:
        raise ConfigError(f"data.background must be one of {', '.join(BACKGROUNDS)}, got {background!r}")
    check_cache(cache, workers, crop)
    resolution = check_resolution(resolution)
    if root.is_file() and root.suffix.lower() == ".zip":  # a prepared archive (archive.py)
        return _archive_folder(root, resolution, channels, background, cache, workers, crop)
    if not root.is_dir():
        raise DataError(f"dataset folder '{path}' is not a folder (nor a prepared .zip)")
    paths, smallest, skipped, stored_channels = _scan(root, recursive, path)
    side = resolution or smallest
    if cache == "none":
        _warn_skipped(root, skipped)
        if not paths:
            raise DataError(f"none of the image files in '{path}' could be read")
        labels, num_classes = _folder_labels(root, paths)
        files = ImageFiles(tuple(paths), side, channels or stored_channels, background, crop)
        return streamed_folder(files, labels, num_classes, workers)
    return _decoded_folder(root, paths, side, channels, background, skipped)


def _archive_folder(
    root: Path, resolution: int | None, channels: int | None, background: str, cache: str,
    workers: int | None, crop: str,
) -> ArrayDataset:  # fmt: skip
    """A prepared archive: its index gives the images, labels, size and channels; decoded as a
    folder's files are, in memory or per batch."""
    members, labels, num_classes, stored, stored_channels = archive_members(root)
    files = ImageFiles(tuple(members), resolution or stored, channels or stored_channels, background, crop)
    if cache == "none":
        return streamed_folder(files, labels, num_classes, workers)
    return image_dataset(files.cached(), labels, name="folder", num_classes=num_classes, resolution=None)


def prepare_folder(
    source: str, out: str, resolution: int | None = None, channels: int | None = None,
    background: str = "white", recursive: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """``ganforge dataset prepare``: the images of folder ``source`` (as ``folder`` reads them:
    sub-folders are classes, unreadable files skipped) decoded once into the archive ``out``."""
    root = _existing(source, "folder to prepare")
    if not root.is_dir():
        raise DataError(f"'{source}' is not a folder")
    if not out.lower().endswith(".zip"):
        raise ConfigError(f"the prepared archive must be a .zip file, got '{out}'")
    paths, smallest, skipped, stored_channels = _scan(root, recursive, source)
    if not paths:
        raise DataError(f"none of the image files in '{source}' could be read")
    labels, num_classes = _folder_labels(root, paths)
    classes = sorted({p.relative_to(root).parts[0] for p in paths}) if num_classes else None
    side = check_resolution(resolution) or smallest
    result = prepare(paths, labels, classes, Path(out), side, channels or stored_channels, background)
    result["skipped"] = [*skipped, *result["skipped"]]
    return result


def _decoded_folder(
    root: Path, paths: list[Path], side: int, channels: int | None, background: str, skipped: list[str]
) -> ArrayDataset:
    """``cache: memory``: every image decoded now, into the uint8 cache (``pixels.py``)."""
    buffer, kept = PixelBuffer(len(paths), side), []
    for p in paths:
        try:
            buffer.add(read_square(p, side, background))
            kept.append(p)
        except READ_ERRORS as e:
            skipped.append(f"{p.name} ({e})")
    _warn_skipped(root, skipped, stacklevel=4)
    if not kept:
        raise DataError(f"none of the image files in '{root}' could be read")
    x = buffer.images(channels)  # (N, C, side, side)
    labels, num_classes = _folder_labels(root, kept)
    return image_dataset(x, labels, name="folder", num_classes=num_classes, resolution=None)


def _stored_channels(modes: list[str]) -> int:
    """1 when every file is stored grey (its header's mode: a streamed folder decodes nothing up
    front), else 3. An RGB file of grey pixels counts as colour here: set ``data.channels``."""
    grey = {"1", "L", "LA", "I", "I;16", "F"}
    return 1 if all(mode in grey for mode in modes) else 3


def _load_arrays(p: Path, key: str, label_key: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The data and (optional) label arrays of an .npz archive, or the array of a .npy file."""
    try:
        loaded = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"could not read '{p}' as .npz: {e}") from None
    if isinstance(loaded, np.ndarray):
        return loaded, None
    with loaded:
        if key not in loaded.files:
            raise DataError(f"'{p}' has no array '{key}'; available: {', '.join(loaded.files) or 'none'}")
        try:
            x = loaded[key]
            y = loaded[label_key] if label_key and label_key in loaded.files else None
        except ValueError as e:  # object arrays need pickle, which we never allow
            raise DataError(f"could not read arrays from '{p}': {e}") from None
    return x, y


def _check_labels(y: np.ndarray, n: int, where: str) -> tuple[np.ndarray, int]:
    """Integer class labels 0..K-1 (integral floats accepted) and K."""
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"labels in {where} have shape {y.shape}; expected ({n},), one per sample")
    numeric = np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)
    if not numeric or not np.array_equal(y, np.round(y)) or (n and y.min() < 0):
        raise DataError(f"labels in {where} must be non-negative integers")
    y = y.astype(np.int64)
    return y, int(y.max()) + 1


def _channels_first(x: np.ndarray) -> np.ndarray:
    """(N, H, W) / (N, C, H, W) / (N, H, W, C) -> (N, C, H, W).

    A 4-D array's layout is the reading whose channel count is 1, 3 or 4 and, next, whose image is
    square; ties go to channels-first (PyTorch's convention).
    """
    if x.ndim == 3:
        return x[:, None]

    def score(c: int, h: int, w: int) -> int:
        return 2 * (c in (1, 3, 4)) + (h == w)

    _, a, b, c = x.shape
    return x.transpose(0, 3, 1, 2) if score(c, a, b) > score(a, b, c) else x


def _center_crop(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return x[..., top : top + s, left : left + s]


def _finite_float32(x: np.ndarray, where: str) -> np.ndarray:
    """A float32 copy of ``x``; NaN or inf would poison every batch, so they are an error here."""
    xf = np.array(x, dtype=np.float32)
    if not np.isfinite(xf).all():
        raise DataError(f"{where} contains NaN or infinite values")
    return xf


def _pixels_to_unit(x: np.ndarray, where: str) -> torch.Tensor:
    """Map pixel values to [-1, 1] from the range they appear to be in.

    uint8 is 0-255. Otherwise: max > 1.5 means 0-255, else min >= 0 means [0, 1], else already
    [-1, 1]. Values that fit none of these (e.g. standardised data) are an error, not a silent squash.
    """
    xf = _finite_float32(x, where)
    lo, hi = float(xf.min()), float(xf.max())
    scale = 255.0 if x.dtype == np.uint8 or hi > 1.5 else 1.0 if lo >= 0 else None
    if scale is not None:
        xf = xf * (2.0 / scale) - 1.0
    if xf.min() < -1 - _RANGE_TOLERANCE or xf.max() > 1 + _RANGE_TOLERANCE:
        raise DataError(
            f"{where} has values in [{lo:.4g}, {hi:.4g}], which fit none of the pixel ranges"
            " 0-255, [0, 1] or [-1, 1]"
        )
    return torch.from_numpy(xf).clamp_(-1.0, 1.0)


@register_dataset(
    "npz",
    description="arrays from a .npz file: images (N,H,W), (N,C,H,W), (N,H,W,C) or vectors (N,D)",
)
def npz(path: str = "", key: str = "x", label_key: str = "y", resolution: int | None = None) -> ArrayDataset:
    """Array ``key`` of the .npz archive at ``path``, with labels from ``label_key`` if present.

    Images may be (N, H, W), (N, C, H, W) or (N, H, W, C); they are centre-cropped to square, mapped
    to [-1, 1] (see ``_pixels_to_unit``) and resized when ``resolution`` is set. (N, D) vectors are
    features in their own units, like ``toy2d``, and are not rescaled; save flattened images as
    (N, H, W) to get pixel handling. Set ``label_key: ""`` to ignore labels. A plain .npy file is
    read as the data array with no labels. Nothing is ever unpickled.
    """
    p = _existing(path, "npz file")
    where = f"'{path}'"
    data, y = _load_arrays(p, key, label_key)
    if data.ndim not in (2, 3, 4) or len(data) == 0:
        raise DataError(
            f"array '{key}' in {where} has shape {data.shape}; expected non-empty (N, H, W),"
            " (N, C, H, W), (N, H, W, C) or (N, D)"
        )
    if not (np.issubdtype(data.dtype, np.number) or data.dtype == np.bool_):
        raise DataError(f"array '{key}' in {where} has non-numeric dtype {data.dtype}")
    labels, num_classes = (None, 0) if y is None else _check_labels(y, len(data), where)
    if data.ndim == 2:
        if resolution is not None:
            raise ConfigError(f"data.resolution applies to images, but {where} holds (N, D) vectors")
        y_t = None if labels is None else torch.from_numpy(labels)
        x_t = torch.from_numpy(_finite_float32(data, where))
        return ArrayDataset(x=x_t, y=y_t, name="npz", num_classes=num_classes)
    x = _pixels_to_unit(_center_crop(_channels_first(data)), where)
    return image_dataset(x, labels, name="npz", num_classes=num_classes, resolution=resolution)
