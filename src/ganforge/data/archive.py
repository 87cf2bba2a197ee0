"""Prepared image archives: ``ganforge dataset prepare SRC -o data.zip --resolution 256``.

Like stylegan2-ada's dataset tool: the folder's images are decoded once, cropped and resized to the
training size, and stored losslessly as PNGs in one zip with a ``dataset.json`` (resolution, channels,
class names and every image's label, from the sub-folders). Training from it (``data.path:
data.zip``) then skips the decoding of large JPEGs and the header scan of thousands of files, and a
whole dataset is one file to copy. The archive is read like a folder, in memory or streamed
(``data.cache: none``: each worker opens the zip once).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganforge.data.decode import READ_ERRORS, read_square, rgb_to_unit
from ganforge.errors import DataError
from ganforge.utils.io import atomic_write

FORMAT = "ganforge.images/1"
INDEX = "dataset.json"
_OPEN: dict[tuple[int, str], zipfile.ZipFile] = {}  # per process: a worker opens each archive once


@dataclass(frozen=True)
class ZipMember:
    """One image inside a prepared archive; ``open()`` gives its bytes as a file PIL can read."""

    archive: str
    name: str

    def open(self) -> io.BytesIO:
        key = (os.getpid(), self.archive)
        if key not in _OPEN:
            _OPEN[key] = zipfile.ZipFile(self.archive)
        return io.BytesIO(_OPEN[key].read(self.name))


def read_index(path: Path) -> dict[str, Any]:
    """The archive's ``dataset.json``, checked; a clear DataError for anything else."""
    try:
        with zipfile.ZipFile(path) as z:
            index = json.loads(z.read(INDEX))
    except (zipfile.BadZipFile, KeyError, OSError, json.JSONDecodeError) as err:
        raise DataError(
            f"'{path}' is not a prepared image archive ({err}); make one with `ganforge dataset prepare`"
        ) from None
    if index.get("format") != FORMAT:
        raise DataError(f"'{path}' holds a {index.get('format')!r} index, not {FORMAT}")
    return index


def archive_members(path: Path) -> tuple[list[ZipMember], np.ndarray | None, int, int, int]:
    """(images, labels or None, number of classes, stored resolution, channels) of an archive."""
    index = read_index(path)
    members = [ZipMember(str(path), name) for name, _ in index["images"]]
    classes = index["classes"]
    labels = None if classes is None else np.array([y for _, y in index["images"]], dtype=np.int64)
    return members, labels, len(classes or []), int(index["resolution"]), int(index["channels"])


def prepare(
    paths: list[Path], labels: np.ndarray | None, classes: list[str] | None, out: Path, side: int,
    channels: int, background: str = "white",
) -> dict[str, Any]:  # fmt: skip
    """Decode ``paths`` at ``side`` into PNGs in the zip ``out`` (written atomically), with the
    index; unreadable files are left out and counted. Returns the index."""
    images: list[list[Any]] = []
    skipped: list[str] = []

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
            for i, p in enumerate(paths):
                try:
                    rgb = read_square(p, side, background)
                except READ_ERRORS as err:
                    skipped.append(f"{p.name} ({err})")
                    continue
                pixels = rgb_to_unit(rgb[None], channels)  # the channel choice, applied once
                stored = np.round((pixels[0].numpy() + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
                image = Image.fromarray(stored[0] if channels == 1 else stored.transpose(1, 2, 0))
                buffer = io.BytesIO()
                image.save(buffer, format="PNG")
                name = f"img{len(images):08d}.png"
                z.writestr(name, buffer.getvalue())
                images.append([name, None if labels is None else int(labels[i])])
            if not images:
                raise DataError("none of the image files could be read")
            index = {"format": FORMAT, "resolution": side, "channels": channels, "classes": classes,
                     "images": images, "skipped": skipped}  # fmt: skip
            z.writestr(INDEX, json.dumps(index))

    atomic_write(out, write)
    return {"images": len(images), "skipped": skipped, "resolution": side, "channels": channels,
            "classes": classes}  # fmt: skip
