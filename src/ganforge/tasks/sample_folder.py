"""Samples as a folder of files: ``000000.png``, ``000001.png``, ... one image each, and ``labels.csv``.

The form tools that read a folder of images want (FID against a folder, a classifier's test set,
a viewer); ``ganforge sample RUN -o DIR/`` writes it. ``labels.csv`` (``file,label``) is written for
a conditional generator only: an unconditional one has no labels to state, so the folder holds the
images alone. Every file is written atomically and ``labels.csv`` last, so a folder with it is
complete. An earlier draw's files are never mixed with a new one's: a folder that already holds
sample files is refused unless ``force``, which removes them (and nothing else) first.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.errors import ConfigError
from ganforge.utils.images import picture, save_image, to_uint8
from ganforge.utils.io import atomic_write_text

LABELS_FILE = "labels.csv"
SAMPLE_FILE = re.compile(r"^\d{6,}\.png$")  # what sample_paths names, and all that force removes


def is_folder_target(path: str | Path) -> bool:
    """Whether an output names a folder of sample files: a trailing ``/``, an existing folder, or a
    name without a suffix (``samples``); ``grid.png`` and ``x.npz`` name single files."""
    text = str(path)
    return text.endswith(("/", os.sep)) or Path(text).is_dir() or not Path(text).suffix


def sample_paths(folder: Path, n: int) -> list[Path]:
    """The files ``n`` samples go to: ``000000.png`` ... in sample order (wider past a million)."""
    return [folder / f"{i:06d}.png" for i in range(n)]


def earlier_samples(folder: Path) -> list[Path]:
    """The files of an earlier draw in ``folder`` (numbered PNGs and ``labels.csv``), sorted."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if SAMPLE_FILE.match(p.name) or p.name == LABELS_FILE)


def check_sample_folder(folder: Path, sample_shape: tuple[int, ...], force: bool) -> None:
    """Refuse samples that are no images (``sample_shape`` is one sample's), a folder that is a
    file, or one holding an earlier draw's files unless ``force``: checked before sampling, so a
    refused command has written nothing."""
    if len(sample_shape) != 3:
        raise ConfigError(
            f"cannot write samples to folder '{folder}': a folder holds one PNG per image, and this"
            f" run's samples are vectors of {sample_shape[-1]} values; write them to an .npz instead"
            " (-o samples.npz)"
        )
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"output '{folder}' exists and is not a folder")
    earlier = earlier_samples(folder)
    if earlier and not force:
        raise ConfigError(
            f"'{folder}' already holds {len(earlier)} sample file(s) (e.g. {earlier[0].name});"
            " pass --force to replace them, or write to another folder"
        )


def write_sample_folder(
    folder: Path, images: torch.Tensor, labels: torch.Tensor | None, extra: dict[str, Any] | None = None
) -> list[Path]:
    """``images`` (N, C, H, W) in [-1, 1] (``check_sample_folder`` passed) as one PNG each at their
    own size, an earlier draw's files removed first, then ``labels.csv`` when ``labels`` are given
    (``file,label`` and a column per ``extra`` entry, e.g. ``augment``'s ``synthetic``); returns the
    images' paths."""
    for stale in earlier_samples(folder):
        stale.unlink()
    paths = sample_paths(folder, len(images))
    for path, pixels in zip(paths, to_uint8(images), strict=True):
        save_image(picture(pixels), path)
    if labels is not None:
        columns = [np.asarray(labels), *(np.asarray(v) for v in (extra or {}).values())]
        rows = "".join(
            ",".join([p.name, *(str(int(c[i])) for c in columns)]) + "\n" for i, p in enumerate(paths)
        )
        atomic_write_text(folder / LABELS_FILE, ",".join(["file", "label", *(extra or {})]) + "\n" + rows)
    return paths
