"""Folders of images decoded per batch (``data.cache: none``): memory bounded by the batch, not the folder.

``folder``, ``paired_folder`` and ``unpaired_folder`` with ``cache: none`` keep only their file lists:
their images (``x``, a paired input ``a``, an unpaired domain ``a``) are ``LazyImages`` that decode
the rows they are indexed with (the few hundred images a diversity probe or a reference set reads),
and their batch stream, ``StreamedBatches``, decodes each batch in ``data.workers`` DataLoader
processes while the previous one trains.

The stream cuts batches from exactly the permutations the in-memory ``BatchStream`` uses (same seed,
same epochs, x-flip doubling included; an unpaired domain from its own salted permutation) and decodes
with the same functions, so a streamed run sees the very batches an in-memory one would, and its
whole state is again (epoch, cursor) per permutation: resumes are exact whatever the number of workers.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.data.archive import ZipMember
from ganforge.data.base import ArrayDataset, ImageRows
from ganforge.data.decode import READ_ERRORS, read_square, rgb_to_unit
from ganforge.data.loader import INDEPENDENT_SALT, Positions, _Order
from ganforge.data.pixels import PixelBuffer, PixelImages
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

    def read(self, index: int, draw: tuple[int, int] | None = None) -> np.ndarray:
        """Image ``index`` as decoded (side, side, 3) uint8 RGB; with ``crop: random`` and a ``draw``
        (seed, epoch), its square sits where that draw puts it, so an epoch's crops are the same in
        a resumed run."""
        centering = (0.5, 0.5)
        if self.crop == "random" and draw is not None:
            u, v = np.random.default_rng([*draw, index]).random(2)
            centering = (float(u), float(v))
        source = self.paths[index]
        try:
            image = source.open() if isinstance(source, ZipMember) else source
            return read_square(image, self.side, self.background, centering)
        except READ_ERRORS as err:  # readable when listed, broken since (or truncated)
            raise DataError(f"image '{source}' could not be decoded ({err})") from None

    def decode(self, index: int, draw: tuple[int, int] | None = None) -> torch.Tensor:
        """Image ``index`` (see ``read``) as (C, side, side) floats in [-1, 1]."""
        return rgb_to_unit(self.read(index, draw)[None], self.channels)[0]

    def cached(self) -> PixelImages | torch.Tensor:
        """Every image decoded now, into the uint8 memory cache (``pixels.py``)."""
        decoded = (self.read(i) for i in range(len(self)))
        return PixelBuffer.filled(decoded, len(self), self.side).images(self.channels)

    def resized(self, side: int) -> ImageFiles:
        return ImageFiles(self.paths, side, self.channels, self.background, self.crop)


class LazyImages(ImageRows):
    """An (N, C, side, side) float image set in [-1, 1] that decodes only the rows it is indexed
    with (by int, slice, index list or tensor); ``ImageRows`` answers the rest of what code reading
    a dataset's ``x`` asks, so probes and references work unchanged."""

    device = torch.device("cpu")

    def __init__(self, files: ImageFiles) -> None:
        self.files = files

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

    def contiguous(self, memory_format: torch.memory_format = torch.contiguous_format) -> LazyImages:
        """Itself: decoded rows come out contiguous, and a stream puts batches in the run's format."""
        return self


Group = dict[str, ImageFiles]  # images batched with the same indices: ``x`` and its paired ``a``


class _Decoded(torch.utils.data.Dataset):
    """What a DataLoader worker computes for one sample: for each group (the images cut from the
    main permutation; those of the independent set, cut from its own), the group's images at its
    index of the doubled set, all mirrored together when the index is in the second half (x-flip)."""

    def __init__(self, groups: list[Group], seed: int) -> None:
        self.groups, self.seed = groups, seed

    def __getitem__(self, key: tuple[tuple[int, int], ...]) -> dict[str, torch.Tensor]:
        sample = {}
        for group, (epoch, index) in zip(self.groups, key, strict=True):
            n = len(next(iter(group.values())))
            for name, files in group.items():
                image = files.decode(index % n, (self.seed, epoch))
                sample[name] = image.flip(-1) if index >= n else image
        return sample


class _Replay(torch.utils.data.Sampler):
    """Batches of sample keys replayed from the stream's position: the loader's workers decode
    ahead on copies of its orders, while the stream's own orders advance only as batches are
    consumed. A sample's key holds, per order, its (epoch, index): random crops differ by epoch."""

    def __init__(self, orders: list[_Order], batch_size: int) -> None:
        self.orders, self.batch_size = [order.replica() for order in orders], batch_size

    def __iter__(self) -> Iterator[list[tuple[tuple[int, int], ...]]]:
        while True:
            columns = [[(o.epoch, i) for i in o.take(0, self.batch_size).tolist()] for o in self.orders]
            yield list(zip(*columns, strict=True))


def _group(images: dict[str, LazyImages], what: str, batch_size: int) -> Group:
    """The files behind ``images`` (all of one length, at least a batch of them)."""
    sizes = {len(v) for v in images.values()}
    if len(sizes) > 1:
        raise DataError(f"the streamed {what} hold different numbers of images: {sorted(sizes)}")
    if batch_size > min(sizes):
        raise DataError(f"'data.batch_size' ({batch_size}) is larger than the {what} ({min(sizes)} images)")
    return {key: value.files for key, value in images.items()}


def leave_stop_signals_to_the_trainer(worker_id: int) -> None:
    """In each decoding worker: ignore SIGINT. Ctrl-C signals the whole foreground process group; a
    worker that died of it would fail the training step mid-batch, where the trainer instead finishes
    the step and checkpoints it (``training/interrupt.py``). SIGTERM keeps its default: it is how the
    loader (and multiprocessing at exit) ends its workers, so a worker that ignored it would never
    end. A scheduler that sends SIGTERM to the whole group therefore still stops a streamed run
    mid-step, without a checkpoint; signal the trainer's process alone (``kill PID``, SLURM's
    ``--signal=B:TERM``) to let it save."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class StreamedBatches(Positions):
    """``{"x": images[, "y": labels], "a": ...}`` batches decoded by ``workers`` processes, with the
    in-memory ``BatchStream``'s permutations and state (one process: a folder streams on one device).

    ``images`` (``x`` and a paired ``a``) are cut from one permutation, ``independent`` ones (an
    unpaired domain ``a``) from their own, salted as ``BatchStream`` salts it."""

    def __init__(
        self,
        images: dict[str, LazyImages],
        labels: torch.Tensor | None,
        batch_size: int,
        seed: int,
        device: torch.device,
        xflip: bool = False,
        workers: int | None = None,
        channels_last: bool = False,
        independent: dict[str, LazyImages] | None = None,
    ) -> None:
        self.groups = [_group(images, "folder", batch_size)]
        self.images, self.independent = images, independent or {}
        self.labels, self.batch_size, self.seed, self.device = labels, batch_size, seed, device
        self.n = len(images["x"])
        self.workers = default_workers() if workers is None else workers
        self.format = torch.channels_last if channels_last else torch.contiguous_format
        copies = 2 if xflip else 1
        cpu = torch.device("cpu")
        self.order, self.side = _Order(self.n * copies, batch_size, seed, 0, cpu), None
        if independent:
            self.groups.append(_group(independent, "independent set", batch_size))
            side_n = len(next(iter(independent.values())))
            self.side = _Order(side_n * copies, batch_size, seed, INDEPENDENT_SALT, cpu)
        self._batches: Any = None

    def __iter__(self) -> StreamedBatches:
        return self

    def _loader(self) -> Any:
        orders = [self.order] if self.side is None else [self.order, self.side]
        # Its own generator: a loader draws its workers' base seed from the global RNG otherwise,
        # and the draw would fall at another step in a resumed run than in an uninterrupted one.
        loader = torch.utils.data.DataLoader(
            _Decoded(self.groups, self.seed), batch_sampler=_Replay(orders, self.batch_size),
            num_workers=self.workers, prefetch_factor=2 if self.workers else None, persistent_workers=False,
            generator=torch.Generator().manual_seed(self.seed),
            worker_init_fn=leave_stop_signals_to_the_trainer,
        )  # fmt: skip
        return iter(loader)

    def __next__(self) -> dict[str, torch.Tensor]:
        if self._batches is None:
            self._batches = self._loader()
        images = next(self._batches)
        idx = self.order.take(0, self.batch_size)  # the consumed positions move in step
        if self.side is not None:
            self.side.take(0, self.batch_size)
        batch = {"x": images.pop("x")}  # BatchStream's key order: x, y, then the inputs
        if self.labels is not None:
            batch["y"] = self.labels[idx % self.n]
        batch.update(images)
        return {key: self._place(value) for key, value in batch.items()}

    def _place(self, t: torch.Tensor) -> torch.Tensor:
        t = t.to(self.device)
        return t.contiguous(memory_format=self.format) if t.ndim == 4 else t

    def fixed_batch(self, n: int) -> dict[str, torch.Tensor]:
        """As ``BatchStream.fixed_batch``: the first ``n`` images of each set in dataset order (centre
        crops, unmirrored), decoded here; no order moves, so previews leave resumes exact."""
        batch = {key: images[:n] for key, images in {**self.images, **self.independent}.items()}
        if self.labels is not None:
            batch["y"] = self.labels[:n]
        return {key: self._place(value) for key, value in batch.items()}

    def load_state_dict(self, state: dict[str, int]) -> None:
        super().load_state_dict(state)
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


def streamed(dataset: ArrayDataset, workers: int | None) -> ArrayDataset:
    """``dataset``, whose images (``x``, paired ``extras``, ``independent`` ones) are ``LazyImages``,
    with its batches decoded by ``StreamedBatches``: the stream reads the dataset as the run hands
    it over (resized, say), so one factory serves the folder and the two-folder datasets."""

    def stream(data: ArrayDataset, cfg: Any, device: torch.device, channels_last: bool) -> StreamedBatches:
        return StreamedBatches(
            {"x": data.x, **data.extras}, data.y, cfg.data.batch_size, cfg.train.seed, device,
            xflip=cfg.data.xflip, workers=workers, channels_last=channels_last, independent=data.independent,
        )  # fmt: skip

    return dataclasses.replace(dataset, stream=stream)


def streamed_folder(
    files: ImageFiles, labels: np.ndarray | None, num_classes: int, workers: int | None
) -> ArrayDataset:
    """A folder as a dataset that holds its file list only: ``x`` decodes what it is indexed with,
    and the run's batches come from ``StreamedBatches``."""
    y = None if labels is None else torch.as_tensor(labels, dtype=torch.long)
    return streamed(ArrayDataset(x=LazyImages(files), y=y, name="folder", num_classes=num_classes), workers)
