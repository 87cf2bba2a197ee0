"""An endless, resumable, rank-aware batch stream over an in-memory dataset.

Batches are cut from a seeded per-epoch permutation of the *global* dataset; rank r keeps the r-th
slice of every global batch. So N processes together see exactly the batches one process would,
and the stream's whole state is two integers (epoch, cursor): resuming is exact.

A dataset's ``extras`` (paired inputs) ride along with ``x`` under the same indices; its
``independent`` set (unpaired inputs) is cut from a permutation of its own, with its own two
integers of state, so an unpaired pair never recurs in a fixed pattern.

``xflip`` (``data.xflip``, StyleGAN's x-flip doubling) makes every image a second sample mirrored
left-right: the permutation runs over 2N indices and index i >= N is image i - N flipped, together
with its paired inputs. The doubled set is as deterministic as the plain one, so resumes stay exact.
"""

from __future__ import annotations

import torch

from ganforge.data.base import ArrayDataset
from ganforge.errors import ConfigError, DataError

# Offsets the independent set's permutation seeds from the main one's (seed * 1_000_003 + epoch).
INDEPENDENT_SALT = 1 << 40


class _Order:
    """Seeded per-epoch permutations of ``range(n)`` cut into full global batches."""

    def __init__(self, n: int, batch_size: int, seed: int, salt: int, device: torch.device) -> None:
        self.n, self.batch_size, self.seed, self.salt, self.device = n, batch_size, seed, salt, device
        self.epoch, self.cursor = 0, 0
        self._perm: torch.Tensor | None = None

    def _permutation(self) -> torch.Tensor:
        if self._perm is None:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch + self.salt)
            self._perm = torch.randperm(self.n, generator=gen).to(self.device)
        return self._perm

    def take(self, rank: int, local_batch: int) -> torch.Tensor:
        if self.cursor + self.batch_size > self.n:  # drop the ragged tail: every batch is full
            self.epoch, self.cursor, self._perm = self.epoch + 1, 0, None
        start = self.cursor + rank * local_batch
        idx = self._permutation()[start : start + local_batch]
        self.cursor += self.batch_size
        return idx

    def seek(self, epoch: int, cursor: int) -> None:
        self.epoch, self.cursor, self._perm = int(epoch), int(cursor), None

    def replica(self) -> _Order:
        """A fresh order at this position, to run ahead of this one (a loader's sampler) while this
        one moves only as batches are consumed."""
        twin = _Order(self.n, self.batch_size, self.seed, self.salt, self.device)
        twin.seek(self.epoch, self.cursor)
        return twin


class Positions:
    """The resumable state of a stream cut from ``order`` (and ``side``, the independent set's
    order, or None): the same two or four integers whether batches come from memory or from
    decoding workers, so a checkpoint resumes either."""

    order: _Order
    side: _Order | None

    def state_dict(self) -> dict[str, int]:
        state = {"epoch": self.order.epoch, "cursor": self.order.cursor}
        if self.side is not None:
            state.update(independent_epoch=self.side.epoch, independent_cursor=self.side.cursor)
        return state

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.order.seek(state["epoch"], state["cursor"])
        if self.side is not None:
            self.side.seek(state.get("independent_epoch", 0), state.get("independent_cursor", 0))


class BatchStream(Positions):
    def __init__(
        self,
        dataset: ArrayDataset,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | str = "cpu",
        channels_last: bool = False,
        xflip: bool = False,
    ) -> None:
        if xflip and not dataset.is_image:
            raise ConfigError(f"'data.xflip' mirrors images; dataset '{dataset.name}' holds vectors")
        if batch_size % world_size:
            raise ConfigError(
                f"'data.batch_size' ({batch_size}) must be divisible by the number of processes"
                f" ({world_size})"
            )
        if batch_size > len(dataset):
            raise DataError(
                f"'data.batch_size' ({batch_size}) is larger than dataset '{dataset.name}'"
                f" ({len(dataset)} samples)"
            )
        self.batch_size, self.seed = batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.local_batch = batch_size // world_size
        self.n = len(dataset)
        fmt = torch.channels_last if channels_last and dataset.is_image else torch.contiguous_format

        def place(t: torch.Tensor) -> torch.Tensor:
            t = t.to(device)
            return t.contiguous(memory_format=fmt) if t.ndim == 4 else t

        self.x = dataset.x.to(device).contiguous(memory_format=fmt)
        self.y = dataset.y.to(device) if dataset.y is not None else None
        self.extras = {k: place(v) for k, v in dataset.extras.items()}
        self.independent = {k: place(v) for k, v in dataset.independent.items()}
        self.copies = 2 if xflip else 1  # each image once, or once as it is and once mirrored
        self.order = _Order(self.n * self.copies, batch_size, seed, 0, self.x.device)
        self.side: _Order | None = None
        if self.independent:
            side_n = len(next(iter(self.independent.values())))
            if batch_size > side_n:
                raise DataError(
                    f"'data.batch_size' ({batch_size}) is larger than the independent set of dataset"
                    f" '{dataset.name}' ({side_n} samples)"
                )
            self.side_n = side_n
            self.side = _Order(side_n * self.copies, batch_size, seed, INDEPENDENT_SALT, self.x.device)

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        idx = self.order.take(self.rank, self.local_batch)
        with_y = {"y": self.y} if self.y is not None else {}
        batch = self.gather({"x": self.x, **with_y, **self.extras}, idx, self.n)
        if self.side is not None:
            side = self.side.take(self.rank, self.local_batch)
            batch.update(self.gather(self.independent, side, self.side_n))
        return batch

    def gather(self, tensors: dict[str, torch.Tensor], idx: torch.Tensor, n: int) -> dict[str, torch.Tensor]:
        """``tensors`` at ``idx``; with x-flip, indices from ``n`` on are their image mirrored."""
        if self.copies == 1:
            return {k: v[idx] for k, v in tensors.items()}
        flip, base = idx >= n, idx % n
        out = {k: v[base] for k, v in tensors.items()}
        for key, value in out.items():
            if value.ndim == 4:  # images (and paired input images); labels and vectors stay as they are
                out[key] = torch.where(flip[:, None, None, None], value.flip(-1), value)
        return out

    def fixed_batch(self, n: int) -> dict[str, torch.Tensor]:
        """The first ``n`` samples in dataset order (and of the independent set), every key included.

        The same batch every call and nothing is drawn, so the stream's position and every RNG stay
        untouched: preview grids made from it are comparable across steps and keep resumes exact.
        """
        batch = {"x": self.x[:n], **{k: v[:n] for k, v in self.extras.items()}}
        if self.y is not None:
            batch["y"] = self.y[:n]
        batch.update({k: v[:n] for k, v in self.independent.items()})
        return batch
