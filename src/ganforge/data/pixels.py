"""The in-memory cache of image folders (``data.cache: memory``): the decoded pixels kept as uint8.

Decoding a folder into float32 holds 4 bytes per value: 10,000 RGB images at 256 px take 7.9 GB.
Held as the uint8 pixels they are decoded to, they take a quarter of that (grey ones keep one
channel), and each batch is converted to [-1, 1] floats when it is cut, by looking the pixels up in a
table made by ``decode.rgb_to_unit`` itself (``decode.unit_table``): every value, and the layout of
every batch, is the float cache's, so training is bit-identical to what it was.

``PixelImages`` answers what code reading a dataset's ``x`` (or a pair's ``a``) asks of the float
tensor it stands in for: ``len``, ``shape``, ``ndim``, indexing (rows, slices, index tensors, tuples)
returning floats, ``.to(device)`` and ``.contiguous(memory_format=...)``, so ``BatchStream`` holds
uint8 on the run's device and converts each batch there, and probes, references and previews that
read ``x[:k]`` work unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from ganforge.data.base import ImageRows, resize_images
from ganforge.data.decode import check_channels, is_grey, rgb_to_unit, unit_table

CHUNK = 1 << 22  # pixels converted at a time: bounds the index made on the way when reading x[:]


class PixelImages(ImageRows):
    """(N, C, H, W) float images in [-1, 1] held as uint8 ``pixels`` and a ``table`` (W, 256) of
    the float each value stands for in each column (``decode.unit_table``)."""

    def __init__(self, pixels: torch.Tensor, table: torch.Tensor) -> None:
        self.pixels, self.table = pixels, table
        # The columns whose values differ from column 0's (grey images' last few: decode.unit_table);
        # the others are looked up in one row of 256, a cheap index_select.
        self.odd = (table != table[:1]).any(dim=1).nonzero().flatten()

    @property
    def shape(self) -> torch.Size:
        return self.pixels.shape

    @property
    def device(self) -> torch.device:
        return self.pixels.device

    def __getitem__(self, key: Any) -> torch.Tensor:
        """The selected rows as floats, laid out (strides, channels-last or not) as indexing the
        float tensor in the pixels' memory format lays them out, so a run's convolutions see what
        they saw; converted a few million pixels at a time, so reading the whole set (``x[:]``)
        costs the floats and little more."""
        if isinstance(key, tuple):
            return self._pick(key)
        rows = self.pixels[key]  # whole rows: the last dimension is still the column
        if rows.numel() <= CHUNK:  # a batch
            values = self._lookup(rows)
            same = values.stride() == rows.stride()
            return values if same else torch.empty_like(rows, dtype=torch.float32).copy_(values)
        out = torch.empty_like(rows, dtype=torch.float32)
        step = max(1, CHUNK // max(1, rows[0].numel())) if len(rows) else 1
        for start in range(0, len(rows), step):
            out[start : start + step] = self._lookup(rows[start : start + step])
        return out

    def _pick(self, key: tuple[Any, ...]) -> torch.Tensor:
        """``x[rows, ...]``: the rows' floats first (their columns known), the rest of ``key`` on them."""
        first = key[0] if key else slice(None)
        if first is Ellipsis or first is None:
            return self[:][key]
        rows = self[first]
        return rows[key[1:]] if rows.ndim < self.ndim else rows[(slice(None), *key[1:])]

    def _lookup(self, rows: torch.Tensor) -> torch.Tensor:
        values = self.table[0].index_select(0, rows.reshape(-1).int()).view(rows.shape)
        if len(self.odd):
            values[..., self.odd] = self.table[self.odd, rows[..., self.odd].long()]
        return values

    def to(self, device: torch.device | str) -> PixelImages:
        return PixelImages(self.pixels.to(device), self.table.to(device))

    def contiguous(self, memory_format: torch.memory_format = torch.contiguous_format) -> PixelImages:
        """The pixels in ``memory_format``: rows cut from channels-last pixels come out channels-last."""
        return PixelImages(self.pixels.contiguous(memory_format=memory_format), self.table)

    def resized(self, side: int) -> torch.Tensor:
        """Float images at ``side``: resampled from the floats, as the float cache was, so a run whose
        model asks for another size trains on the same values as before (and holds floats)."""
        return resize_images(self[:], side)


class PixelBuffer:
    """Decoded images written one at a time into the cache's own uint8 array (N, 3, side, side): a
    cache of N images is then held once while it is built, not as a list of images, their stack and
    its transposed copy (three times its size) at the peak."""

    def __init__(self, count: int, side: int) -> None:
        self.planes = np.empty((count, 3, side, side), dtype=np.uint8)  # memory is taken as written
        self.count, self.grey = 0, True

    def add(self, rgb: np.ndarray) -> None:
        """One decoded (side, side, 3) uint8 RGB image."""
        self.planes[self.count] = rgb.transpose(2, 0, 1)
        self.grey = self.grey and is_grey(rgb)
        self.count += 1

    @classmethod
    def filled(cls, images: Iterable[np.ndarray], count: int, side: int) -> PixelBuffer:
        buffer = cls(count, side)
        for rgb in images:
            buffer.add(rgb)
        return buffer

    def images(self, channels: int | None) -> PixelImages | torch.Tensor:
        """The images as ``rgb_to_unit(rgb, channels)`` gives them, held as uint8: RGB as three
        channels, grey pixels as one (laid out as ``rgb_to_unit`` lays out its floats: the channel's
        stride is numpy's 0, which torch reads as channels-last, so indexing lays rows out alike).
        Colour images read as grey (``channels: 1`` on colour files) stay float32: their luma is no
        uint8 value."""
        check_channels(channels)
        channels = channels or (1 if self.grey else 3)
        planes = self.planes[: self.count]
        if channels == 1 and not self.grey:
            return rgb_to_unit(np.ascontiguousarray(planes.transpose(0, 2, 3, 1)), 1)
        pixels = np.ascontiguousarray(planes[:, 0])[:, None] if channels == 1 else planes
        return PixelImages(torch.from_numpy(pixels), unit_table(planes.shape[-1], channels))


def cached_images(rgb: np.ndarray, channels: int | None) -> PixelImages | torch.Tensor:
    """(N, side, side, 3) uint8 decoded images into the memory cache (``PixelBuffer.images``)."""
    return PixelBuffer.filled(rgb, len(rgb), rgb.shape[2]).images(channels)
