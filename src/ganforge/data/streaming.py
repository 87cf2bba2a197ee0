"""Folders of images decoded per batch (``data.cache: none``): memory bounded by the batch, not the folder.

``folder`` with ``cache: memory`` (the default) decodes every image once into one float tensor: fast,
but 10,000 RGB images at 256 px take 7.9 GB. With ``cache: none`` the dataset keeps only the file
list: its ``x`` is a ``LazyImages`` that decodes the rows it is indexed with (the few hundred images
a diversity probe or a reference set reads), and its batch stream, ``StreamedBatches``, decodes each
batch in ``data.workers`` DataLoader processes while the previous one trains.

The stream cuts batches from exactly the permutation the in-memory ``BatchStream`` uses (same seed,
same epochs, x-flip doubling included), and decodes with the same functions, so a streamed run sees
the very batches an in-memory one would, and its whole state is again (epoch, cursor): resumes are
exact whatever the number of workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.data.archive import ZipMember
from ganforge.data.base import ArrayDataset
from ganforge.data.decode import READ_ERRORS, read_square, rgb_to_unit
from ganforge.data.loader import _Order
from ganforge.errors import ConfigError, DataError


def default_workers() -> int:
    """Decoding processes when ``data.workers`` is unset: one core stays with the training step."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


@dataclass(frozen=True)
class ImageFiles:
    """The readable images of a folder and how each is decoded: (C, side, side) floats in [-1, 1],
    by the functions the in-memory folder uses (``decode.py``), so both give the same numbers."""

    paths: tuple[Path | ZipMember, ...]  # files, or the images of a prepared archive
    side: int
    channels: int
    background: str = "white"
    crop: str = "center"  # "random": a fresh square of each non-square image every epoch

    def __len__(self) -> int:
        return len(self.paths)

    def decode(self, index: int, draw: tuple[int, int] | None = None) -> torch.Tensor:
        """Image ``index``; with ``crop: random`` and a ``draw`` (seed, epoch), its square sits where
        that draw puts it, so an epoch's crops are the same in a resumed run."""
        centering = (0.5, 0.5)
        if self.crop == "random" and draw is not None:
            u, v = np.random.default_rng([*draw, index]).random(2)
            centering = (float(u), float(v))
        source = self.paths[index]
        try:
            image = source.open() if isinstance(source, ZipMember) else source
            rgb = read_square(image, self.side, self.background, centering)
        except READ_ERRORS as err:  # readable when listed, broken since (or truncated)
            raise DataError(f"image '{source}' could not be decoded ({err})") from None
        return rgb_to_unit(rgb[None], self.channels)[0]

    def resized(self, side: int) -> ImageFiles:
        return ImageFiles(self.paths, side, self.channels, self.background, self.crop)


class LazyImages:
    """An (N, C, side, side) float image set in [-1, 1] that decodes only the rows it is indexed
    with. It answers what code reading a dataset's ``x`` asks (``len``, ``shape``, ``ndim``,
    indexing by int, slice, index list or tensor), so probes and references work unchanged."""

    ndim = 4
    dtype = torch.float32
    device = torch.device("cpu")

    def __init__(self, files: ImageFiles) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.files), self.files.channels, self.files.side, self.files.side))

    def __getitem__(self, key: Any) -> torch.Tensor:
        if isinstance(key, int):
            return self.files.decode(key)
        rows = range(len(self))[key] if isinstance(key, slice) else torch.as_tensor(key).reshape(-1).tolist()
        if not rows:
            return torch.zeros(0, *self.shape[1:])
        return torch.stack([self.files.decode(int(i)) for i in rows])

    def resized(self, side: int) -> LazyImages:
        """The same files decoded at ``side`` (one resampling from the source, not two)."""
        return LazyImages(self.files.resized(side))


class _Decoded(torch.utils.data.Dataset):
    """What a DataLoader worker computes for one sample index of the doubled set: the image, mirrored
    when the index is in the second half (x-flip)."""

    def __init__(self, files: ImageFiles, seed: int) -> None:
        self.files, self.seed = files, seed

    def __len__(self) -> int:
        return 2 * len(self.files)

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        epoch, index = key
        n = len(self.files)
        image = self.files.decode(index % n, (self.seed, epoch))
        return image.flip(-1) if index >= n else image


class _Replay(torch.utils.data.Sampler):
    """Batches of sample indices replayed from a stream position: the loader's workers decode ahead
    while the stream's own ``_Order`` advances only as batches are consumed."""

    def __init__(self, n: int, batch_size: int, seed: int, epoch: int, cursor: int) -> None:
        self.n, self.batch_size, self.seed, self.start = n, batch_size, seed, (epoch, cursor)

    def __iter__(self):
        order = _Order(self.n, self.batch_size, self.seed, 0, torch.device("cpu"))
        order.seek(*self.start)
        while True:
            idx = order.take(0, self.batch_size).tolist()
            yield [(order.epoch, i) for i in idx]  # the epoch: random crops differ between epochs


class StreamedBatches:
    """``{"x": images[, "y": labels]}`` batches decoded by ``workers`` processes, the in-memory
    ``BatchStream``'s permutation and state (one process: a folder streams on one device)."""

    def __init__(
        self,
        images: LazyImages,
        labels: torch.Tensor | None,
        batch_size: int,
        seed: int,
        device: torch.device,
        xflip: bool = False,
        workers: int | None = None,
        channels_last: bool = False,
    ) -> None:
        if batch_size > len(images):
            n = len(images)
            raise DataError(f"'data.batch_size' ({batch_size}) is larger than the folder ({n} images)")
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.seed, self.device = seed, device
        self.copies = 2 if xflip else 1
        self.workers = default_workers() if workers is None else workers
        self.format = torch.channels_last if channels_last else torch.contiguous_format
        self.order = _Order(len(images) * self.copies, batch_size, seed, 0, torch.device("cpu"))
        self._batches: Any = None

    def __iter__(self) -> StreamedBatches:
        return self

    def _loader(self) -> Any:
        replay = _Replay(len(self.images) * self.copies, self.batch_size, self.seed, *self.position())
        # Its own generator: a loader draws its workers' base seed from the global RNG otherwise,
        # and the draw would fall at another step in a resumed run than in an uninterrupted one.
        loader = torch.utils.data.DataLoader(
            _Decoded(self.images.files, self.seed), batch_sampler=replay, num_workers=self.workers,
            prefetch_factor=2 if self.workers else None, persistent_workers=False,
            generator=torch.Generator().manual_seed(self.seed),
        )  # fmt: skip
        return iter(loader)

    def position(self) -> tuple[int, int]:
        return self.order.epoch, self.order.cursor

    def __next__(self) -> dict[str, torch.Tensor]:
        if self._batches is None:
            self._batches = self._loader()
        images = next(self._batches)
        idx = self.order.take(0, self.batch_size)  # the consumed position moves in step
        x = images.to(self.device).contiguous(memory_format=self.format)
        batch = {"x": x}
        if self.labels is not None:
            batch["y"] = self.labels[idx % len(self.images)].to(self.device)
        return batch

    def state_dict(self) -> dict[str, int]:
        epoch, cursor = self.position()
        return {"epoch": epoch, "cursor": cursor}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.order.seek(state["epoch"], state["cursor"])
        self._batches = None  # the workers restart from the restored position


def check_cache(cache: str, workers: int | None, crop: str = "center") -> None:
    if cache not in ("memory", "none"):
        raise ConfigError(f"data.cache must be memory or none, got {cache!r}")
    if crop not in ("center", "random"):
        raise ConfigError(f"data.crop must be center or random, got {crop!r}")
    if crop == "random" and cache != "none":
        raise ConfigError("data.crop: random draws a fresh crop every epoch: it needs data.cache: none")
    if workers is not None and workers < 0:
        raise ConfigError(f"data.workers must be >= 0 (0: decode in the training process), got {workers}")


def streamed_folder(
    files: ImageFiles, labels: np.ndarray | None, num_classes: int, workers: int | None
) -> ArrayDataset:
    """A folder as a dataset that holds its file list only: ``x`` decodes what it is indexed with,
    and the run's batches come from ``StreamedBatches``."""
    y = None if labels is None else torch.as_tensor(labels, dtype=torch.long)

    def stream(dataset: ArrayDataset, cfg: Any, device: torch.device, channels_last: bool) -> StreamedBatches:
        return StreamedBatches(
            dataset.x, dataset.y, cfg.data.batch_size, cfg.train.seed, device, xflip=cfg.data.xflip,
            workers=workers, channels_last=channels_last,
        )  # fmt: skip

    return ArrayDataset(x=LazyImages(files), y=y, name="folder", num_classes=num_classes, stream=stream)
