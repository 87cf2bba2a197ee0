"""``data.cache: memory`` holds the decoded uint8 pixels (``pixels.PixelImages``) and converts rows to
floats when they are read: the very floats (and layouts) of the float32 cache it replaced, for
``folder``, prepared archives and the two-folder datasets, at a quarter of the memory."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import build_dataset
from ganforge.data.decode import read_square, rgb_to_unit, unit_table
from ganforge.data.files import _list_images
from ganforge.data.loader import BatchStream
from ganforge.data.pixels import PixelImages, cached_images


def make_folder(root: Path, n: int = 12, grey: bool = False) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = (20 + i, 17) if grey else (20 + i, 17, 3)
        (root / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random(shape) * 255).astype("uint8")).save(root / f"c{i % 2}" / f"{i}.png")
    return root


def float_cache(root: Path, side: int, channels: int | None = None) -> torch.Tensor:
    """What ``cache: memory`` held before: every image decoded into one float32 tensor."""
    return rgb_to_unit(np.stack([read_square(p, side) for p in _list_images(root, True)]), channels)


def same_layout(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.equal(a, b) and a.stride() == b.stride() and a.dtype == b.dtype


@pytest.mark.parametrize("grey", [False, True])
def test_the_folder_holds_uint8_and_reads_the_float_caches_values(tmp_path, grey) -> None:
    """13 px: grey luma's last columns round differently (decode.unit_table), and still match."""
    ds = build_dataset("folder", path=str(make_folder(tmp_path, grey=grey)), resolution=13)
    floats = float_cache(tmp_path, 13)
    assert isinstance(ds.x, PixelImages) and ds.x.pixels.dtype == torch.uint8
    assert ds.x.pixels.nbytes * 4 == floats.nbytes and ds.shape == tuple(floats.shape[1:])
    index = torch.tensor([5, 0, 11, 5])
    for key in (slice(None), index, 3, [1, 2], (slice(None), 0, 5, 5), (Ellipsis, 12), (2, slice(None), 1)):
        assert same_layout(ds.x[key], floats[key]), key
    fmt = torch.channels_last
    assert same_layout(ds.x.contiguous(memory_format=fmt)[index], floats.contiguous(memory_format=fmt)[index])
    assert torch.equal(ds.x, floats) and ds.x.float().shape == floats.shape and len(ds.x) == 12
    assert torch.equal(pickle.loads(pickle.dumps(ds.x))[:], floats)


def test_a_batch_stream_cuts_the_same_batches_from_uint8(tmp_path) -> None:
    ds = build_dataset("folder", path=str(make_folder(tmp_path)), resolution=16)
    floats = dataclasses.replace(ds, x=ds.x[:])
    streams = [BatchStream(d, 4, seed=2, xflip=True, channels_last=True) for d in (ds, floats)]
    for _ in range(8):
        a, b = (next(s) for s in streams)
        assert same_layout(a["x"], b["x"]) and torch.equal(a["y"], b["y"])
    assert same_layout(streams[0].fixed_batch(3)["x"], streams[1].fixed_batch(3)["x"])


def test_the_table_is_rgb_to_unit_column_by_column() -> None:
    row = np.repeat(np.arange(256, dtype=np.uint8)[None, None, :, None], 3, axis=3)  # 256 grey pixels
    assert torch.equal(unit_table(13, 3)[7], rgb_to_unit(row, 3)[0, 0, 0])  # RGB: alike in every column
    grey = unit_table(13, 1)
    assert grey.shape == (13, 256) and (grey != grey[:1]).any(dim=1).any()  # luma: some last columns differ


def test_colour_read_as_grey_stays_float(tmp_path) -> None:
    """``channels: 1`` on colour files: luma is no uint8 value, so those floats are kept."""
    rgb = np.random.default_rng(1).integers(0, 256, (4, 9, 9, 3), dtype=np.uint8)
    assert not isinstance(cached_images(rgb, 1), PixelImages)
    assert torch.equal(cached_images(rgb, 1), rgb_to_unit(rgb, 1))
    ds = build_dataset("folder", path=str(make_folder(tmp_path)), resolution=10, channels=1)
    assert type(ds.x) is torch.Tensor and torch.equal(ds.x, float_cache(tmp_path, 10, 1))


def test_archives_and_two_folder_datasets_hold_uint8(tmp_path) -> None:
    from ganforge.data.files import prepare_folder

    make_folder(tmp_path / "img")
    prepare_folder(str(tmp_path / "img"), str(tmp_path / "d.zip"), resolution=12)
    archive = build_dataset("folder", path=str(tmp_path / "d.zip"))
    assert isinstance(archive.x, PixelImages) and torch.equal(archive.x[:], float_cache(tmp_path / "img", 12))
    make_folder(tmp_path / "two" / "A", n=6, grey=True)
    make_folder(tmp_path / "two" / "B", n=8)
    unpaired = build_dataset("unpaired_folder", path=str(tmp_path / "two"), resolution=12)
    assert isinstance(unpaired.x, PixelImages) and isinstance(unpaired.independent["a"], PixelImages)
    assert torch.equal(
        unpaired.independent["a"][:], float_cache(tmp_path / "two" / "A", 12, 3)
    )  # colour in B
    base = {"path": str(tmp_path / "img")}
    degraded = build_dataset("degraded", base="folder", base_params=base, resolution=16)
    assert isinstance(degraded.x, PixelImages) and degraded.extras["a"].shape == (12, 3, 16, 16)
