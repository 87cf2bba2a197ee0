"""Paired and unpaired datasets, degradations, and the batch stream's extra keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.feature import canny
from skimage.morphology import dilation, disk

from ganforge.data import ArrayDataset, build_dataset
from ganforge.data.degrade import (
    apply_mask,
    avg_downsample,
    canny_edges,
    center_mask,
    degrade,
    free_form_masks,
    grey_dilate,
)
from ganforge.data.embedded import mnist_arrays
from ganforge.data.loader import BatchStream
from ganforge.data.paired import make_paired, make_unpaired, thin2thick_halves
from ganforge.errors import ConfigError, DataError
from ganforge.registry import DATASETS


def _rows(x: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in x.flatten(1)}


# ---------------------------------------------------------------- degradations


def test_canny_edges_match_skimage_and_are_binary() -> None:
    x, _ = mnist_arrays("test")
    x = x[:20]
    edges = canny_edges(x, sigma=1.0)
    assert edges.shape == x.shape and set(edges.unique().tolist()) <= {-1.0, 1.0}
    expected = np.stack([canny(((img[0].double() + 1) / 2).numpy(), sigma=1.0) for img in x])
    np.testing.assert_array_equal(edges[:, 0].numpy() > 0, expected)
    assert 0.02 < (edges > 0).float().mean() < 0.3  # outlines, not filled strokes
    rgb = canny_edges(x.expand(-1, 3, -1, -1))
    assert rgb.shape[1] == 3 and torch.equal(rgb[:, :1], edges)  # grey in RGB: same edges per channel


def test_grey_dilation_is_a_running_max_over_a_radius_one_disk() -> None:
    x = torch.rand(4, 2, 16, 16) * 2 - 1
    out = grey_dilate(x, 1)
    for i in range(4):
        for c in range(2):
            np.testing.assert_array_equal(out[i, c].numpy(), dilation(x[i, c].numpy(), disk(1)))
    assert (out >= x).all()
    # One bright pixel grows into the radius-1 disk: a plus of 5 pixels.
    dot = torch.full((1, 1, 7, 7), -1.0)
    dot[..., 3, 3] = 1.0
    assert int((grey_dilate(dot, 1) > 0).sum()) == 5 and int((grey_dilate(dot, 2) > 0).sum()) == 13


def test_average_downsampling() -> None:
    x = torch.arange(16.0).reshape(1, 1, 4, 4) / 16
    out = avg_downsample(x, 2)
    assert out.shape == (1, 1, 2, 2)
    assert out[0, 0, 0, 0].item() == pytest.approx(x[0, 0, :2, :2].mean().item())
    with pytest.raises(DataError, match="divide"):
        avg_downsample(torch.zeros(1, 1, 30, 30), 4)


def test_masks_are_deterministic_in_their_seed() -> None:
    hole = center_mask(32, 12)
    assert hole.sum() == 144 and hole[0, 0, 10:22, 10:22].all()
    a, b, c = free_form_masks(8, 32, seed=1), free_form_masks(8, 32, seed=1), free_form_masks(8, 32, seed=2)
    assert a.shape == (8, 1, 32, 32) and set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])  # each image its own strokes
    assert 0.01 < a.mean() < 0.6
    x = torch.ones(8, 3, 32, 32)
    filled = apply_mask(x, a, fill=0.0)
    assert torch.equal(filled == 0, a.bool().expand_as(x))
    with pytest.raises(DataError, match="mask"):
        apply_mask(x, torch.zeros(1, 1, 16, 16))


def test_degrade_by_name_checks_names_and_parameters() -> None:
    x = torch.zeros(2, 1, 32, 32)
    assert degrade(x, "downsample", {"factor": 4}).shape == (2, 1, 8, 8)
    with pytest.raises(ConfigError, match="did you mean 'edges'"):
        degrade(x, "edge")
    with pytest.raises(ConfigError, match="factor"):
        degrade(x, "downsample", {"scale": 2})


# ---------------------------------------------------------------- registered datasets


def test_i2i_datasets_are_registered() -> None:
    for name in ("edges2digits", "thin2thick", "degraded", "paired_folder", "unpaired_folder"):
        entry = DATASETS.get(name)
        assert entry.description and "native_resolution" in entry.meta and entry.meta["pairing"]


def test_edges2digits_pairs_each_digit_with_its_own_edges() -> None:
    train, test = build_dataset("edges2digits"), build_dataset("edges2digits", split="test")
    assert len(train) == 4000 and len(test) == 1000
    x_test, y_test = mnist_arrays("test")
    assert torch.equal(test.x, x_test) and torch.equal(test.y, torch.as_tensor(y_test))
    assert torch.equal(test.extras["a"][:10], canny_edges(x_test[:10]))
    assert not _rows(train.x) & _rows(test.x)  # the fixed split: no test digit in train
    with pytest.raises(ConfigError, match=r"data\.split"):
        build_dataset("edges2digits", split="all")
    small = build_dataset("edges2digits", split="test", resolution=16)
    assert small.x.shape == small.extras["a"].shape == (1000, 1, 16, 16)


def test_thin2thick_domains_come_from_disjoint_halves() -> None:
    ds = build_dataset("thin2thick")
    thin, labels = mnist_arrays("train")
    half_a, half_b = thin2thick_halves()
    assert len(ds.x) == len(ds.independent["a"]) == 2000 and not ds.extras
    assert torch.equal(ds.independent["a"], thin[half_a])
    assert torch.equal(ds.independent["y_a"], torch.as_tensor(labels[half_a]))
    assert torch.equal(ds.x, grey_dilate(thin[half_b]))
    # No digit of domain A is the source of a domain-B image, so no pair is ever seen.
    assert not _rows(thin[half_a]) & _rows(thin[half_b])
    assert not _rows(grey_dilate(thin[half_a])) & _rows(ds.x)


def test_thin2thick_test_split_is_paired_with_the_true_dilation() -> None:
    ds = build_dataset("thin2thick", split="test")
    thin, _ = mnist_arrays("test")
    assert torch.equal(ds.extras["a"], thin) and torch.equal(ds.x, grey_dilate(thin))
    # Issue 8 quotes 12.4 dB for the identity map: PSNR of the pooled MSE on the 28x28 digit area.
    crop = (..., slice(2, 30), slice(2, 30))
    mse = (ds.x[crop] - ds.extras["a"][crop]).square().mean().item()
    assert 10 * np.log10(4 / mse) == pytest.approx(12.4, abs=0.05)


def test_degraded_wraps_any_image_dataset() -> None:
    ds = build_dataset(
        "degraded", base="digits", degradation="downsample", degradation_params={"factor": 2}, resolution=16
    )
    assert ds.x.shape == (1797, 1, 16, 16) and ds.extras["a"].shape == (1797, 1, 8, 8)
    assert ds.num_classes == 10 and torch.equal(ds.extras["a"], avg_downsample(ds.x, 2))
    with pytest.raises(ConfigError, match="plain image dataset"):
        build_dataset("degraded", base="thin2thick")


def _save(path: Path, value: int, size: int = 12, colour: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size, size, 3) if colour else (size, size)
    pixels = np.full(shape, value, np.uint8)
    if colour:
        pixels[..., 0] = 255 - value
    Image.fromarray(pixels).save(path)


def test_paired_folder_aligns_by_name_and_resizes(tmp_path: Path) -> None:
    for i, name in enumerate(["b", "a", "sub/c"]):
        _save(tmp_path / "A" / f"{name}.png", 10 * i)
        _save(
            tmp_path / "B" / f"{name}.jpg" if i == 0 else tmp_path / "B" / f"{name}.png",
            200 - 10 * i,
            size=16,
        )
    ds = build_dataset("paired_folder", path=str(tmp_path))
    assert ds.x.shape == ds.extras["a"].shape == (3, 1, 12, 12)  # the smallest side, grey
    # sorted names a, b, sub/c -> the A values 10, 0, 20 and their B partners 190, 200, 180
    a_values = ((ds.extras["a"][:, 0, 5, 5] + 1) * 127.5).round().tolist()
    b_values = ((ds.x[:, 0, 5, 5] + 1) * 127.5).round().tolist()
    assert a_values == [10, 0, 20]
    assert [abs(b - e) <= 3 for b, e in zip(b_values, [190, 200, 180], strict=True)] == [True] * 3  # jpeg
    rgb = build_dataset("paired_folder", path=str(tmp_path), channels=3, resolution=8)
    assert rgb.x.shape == (3, 3, 8, 8)


def test_paired_folder_with_mismatched_names_is_a_clear_error(tmp_path: Path) -> None:
    for name in ("one", "two", "three"):
        _save(tmp_path / "A" / f"{name}.png", 0)
    for name in ("one", "two", "four"):
        _save(tmp_path / "B" / f"{name}.png", 0)
    with pytest.raises(DataError, match=r"1 only in A/ \(three\), 1 only in B/ \(four\)"):
        build_dataset("paired_folder", path=str(tmp_path))
    with pytest.raises(DataError, match="folder 'C/'"):
        build_dataset("paired_folder", path=str(tmp_path), b_dir="C")
    with pytest.raises(DataError, match="does not exist"):
        build_dataset("paired_folder", path=str(tmp_path / "missing"))


def test_unpaired_folder_keeps_both_domains_whole(tmp_path: Path) -> None:
    for i in range(3):
        _save(tmp_path / "A" / f"{i}.png", 0)
    for i in range(5):
        _save(tmp_path / "B" / f"x{i}.png", 100, colour=True)
    ds = build_dataset("unpaired_folder", path=str(tmp_path))
    assert ds.x.shape == (5, 3, 12, 12) and ds.independent["a"].shape == (3, 3, 12, 12)  # colour in B


# ---------------------------------------------------------------- ArrayDataset tables and BatchStream


def test_array_dataset_checks_its_tables() -> None:
    x = torch.zeros(4, 1, 8, 8)
    with pytest.raises(DataError, match="rows of 'a'"):
        ArrayDataset(x=x, extras={"a": torch.zeros(3, 1, 8, 8)})
    with pytest.raises(DataError, match="twice"):
        ArrayDataset(x=x, extras={"y": torch.zeros(4)})
    with pytest.raises(DataError, match="different lengths"):
        ArrayDataset(x=x, independent={"a": torch.zeros(3, 1, 8, 8), "y_a": torch.zeros(2)})
    with pytest.raises(DataError, match="channel"):
        make_paired(ArrayDataset(x=x), torch.zeros(4, 3, 8, 8))
    with pytest.raises(DataError, match="as many inputs"):
        make_paired(ArrayDataset(x=x), torch.zeros(5, 1, 8, 8))


def _paired_toy(n: int = 10) -> ArrayDataset:
    x = torch.arange(n, dtype=torch.float32).reshape(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    return make_paired(ArrayDataset(x=x, y=torch.arange(n)), -x)


def test_stream_batches_extras_with_the_same_indices() -> None:
    stream = BatchStream(_paired_toy(), 4, seed=3)
    for _ in range(5):  # across an epoch boundary too
        batch = next(stream)
        assert torch.equal(batch["a"], -batch["x"]) and torch.equal(
            batch["y"].float(), batch["x"][:, 0, 0, 0]
        )


def _unpaired_toy() -> ArrayDataset:
    b = ArrayDataset(x=torch.arange(12.0).reshape(12, 1, 1, 1), y=torch.arange(12))
    a = ArrayDataset(x=100 + torch.arange(8.0).reshape(8, 1, 1, 1), y=100 + torch.arange(8))
    return make_unpaired(a, b)


def test_stream_draws_the_independent_set_by_its_own_permutation() -> None:
    stream = BatchStream(_unpaired_toy(), 4, seed=0)
    batches = [next(stream) for _ in range(6)]
    for batch in batches:
        assert batch["a"].shape == (4, 1, 1, 1) and torch.equal(batch["y_a"].float(), batch["a"][:, 0, 0, 0])
    seen_a = torch.cat([b["a"].flatten() for b in batches[:2]])  # one epoch of the 8 A images
    assert sorted(seen_a.tolist()) == [100.0 + i for i in range(8)]
    pairs = {(int(b["x"][i]), int(b["a"][i])) for b in batches for i in range(4)}
    assert len(pairs) > 12  # a fixed coupling would give each of the 12 x one partner at most
    state = stream.state_dict()
    assert set(state) == {"epoch", "cursor", "independent_epoch", "independent_cursor"}


def test_stream_resume_and_fixed_batch_are_exact() -> None:
    data = _unpaired_toy()
    whole = BatchStream(data, 4, seed=1)
    first = [next(whole) for _ in range(5)]
    resumed = BatchStream(data, 4, seed=1)
    for _ in range(3):
        next(resumed)
    state = resumed.state_dict()
    fixed = resumed.fixed_batch(3)
    assert torch.equal(fixed["x"], data.x[:3]) and torch.equal(fixed["a"], data.independent["a"][:3])
    assert resumed.state_dict() == state  # a preview batch draws nothing
    again = BatchStream(data, 4, seed=1)
    again.load_state_dict(state)
    for expected in first[3:]:
        got = next(again)
        assert all(torch.equal(got[k], expected[k]) for k in expected)
    plain = BatchStream(ArrayDataset(x=torch.zeros(8, 2)), 4)
    assert plain.state_dict() == {"epoch": 0, "cursor": 0}  # unchanged for ordinary datasets
    with pytest.raises(DataError, match="independent set"):
        BatchStream(data, 10)
