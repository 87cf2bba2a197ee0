"""An endless, resumable, rank-aware batch stream over an in-memory dataset.

Batches are cut from a seeded per-epoch permutation of the *global* dataset; rank r keeps the r-th
slice of every global batch. So N processes together see exactly the batches one process would,
and the stream's whole state is two integers (epoch, cursor): resuming is exact.
"""

from __future__ import annotations

import torch

from ganforge.data.base import ArrayDataset
from ganforge.errors import ConfigError, DataError


class BatchStream:
    def __init__(
        self,
        dataset: ArrayDataset,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | str = "cpu",
        channels_last: bool = False,
    ) -> None:
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
        self.x = dataset.x.to(device).contiguous(memory_format=fmt)
        self.y = dataset.y.to(device) if dataset.y is not None else None
        self.epoch, self.cursor = 0, 0
        self._perm: torch.Tensor | None = None

    def _permutation(self) -> torch.Tensor:
        if self._perm is None:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            self._perm = torch.randperm(self.n, generator=gen).to(self.x.device)
        return self._perm

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        if self.cursor + self.batch_size > self.n:  # drop the ragged tail: every batch is full
            self.epoch, self.cursor, self._perm = self.epoch + 1, 0, None
        start = self.cursor + self.rank * self.local_batch
        idx = self._permutation()[start : start + self.local_batch]
        self.cursor += self.batch_size
        batch = {"x": self.x[idx]}
        if self.y is not None:
            batch["y"] = self.y[idx]
        return batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "cursor": self.cursor}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.cursor, self._perm = int(state["epoch"]), int(state["cursor"]), None
