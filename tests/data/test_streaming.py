"""``folder`` with ``cache: none``: the file list only in memory, batches decoded by worker processes,
the very batches the in-memory folder gives (x-flip and epochs included), exact resumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.config import load_config
from ganforge.data import build_dataset
from ganforge.data import decode as decode_module
from ganforge.data.loader import BatchStream
from ganforge.data.streaming import LazyImages
from ganforge.errors import ConfigError, DataError
from ganforge.testing import StopAfter, final_checkpoint, quick_train, state_digest
from ganforge.training.build import build_session


def make_folder(root: Path, n: int = 24, grey: bool = False) -> Path:
    """``n`` random images of assorted sizes in two class subfolders."""
    rng = np.random.default_rng(0)
    for i in range(n):
        (root / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        shape = (40 + i, 36) if grey else (40 + i, 36, 3)
        Image.fromarray((rng.random(shape) * 255).astype("uint8")).save(root / f"c{i % 2}" / f"{i}.png")
    return root


def streams(folder: Path, seed: int, xflip: bool, workers: int, **keys) -> tuple:
    data = {"name": "folder", "path": str(folder), "batch_size": 8, "xflip": xflip, **keys}
    cfg = load_config({"data": data, "train": {"seed": seed}})
    memory = build_dataset("folder", path=str(folder), **keys)
    lazy = build_dataset("folder", path=str(folder), cache="none", workers=workers, **keys)
    return BatchStream(memory, 8, seed=seed, xflip=xflip), lazy.stream(lazy, cfg, torch.device("cpu"), False)


@pytest.mark.parametrize(("grey", "xflip", "workers"), [(False, True, 2), (True, False, 0)])
def test_streamed_batches_are_the_in_memory_ones(tmp_path, grey, xflip, workers) -> None:
    memory, streamed = streams(make_folder(tmp_path, grey=grey), 3, xflip, workers, resolution=16)
    for _ in range(8):  # 24 (or 48 with x-flip) samples in batches of 8: across epoch boundaries
        a, b = next(memory), next(streamed)
        assert torch.equal(a["x"], b["x"]) and torch.equal(a["y"], b["y"])
    assert b["x"].shape[1] == (1 if grey else 3)


def test_a_streamed_stream_resumes_exactly(tmp_path) -> None:
    _, whole = streams(make_folder(tmp_path), 1, True, 1, resolution=16)
    _, resumed = streams(tmp_path, 1, True, 1, resolution=16)
    [next(whole) for _ in range(5)]
    resumed.load_state_dict(whole.state_dict())
    for _ in range(4):
        assert torch.equal(next(whole)["x"], next(resumed)["x"])


def test_nothing_is_decoded_until_asked_and_indexing_decodes_rows(tmp_path, monkeypatch) -> None:
    make_folder(tmp_path, n=40)
    calls = []
    original = decode_module.read_square
    monkeypatch.setattr(decode_module, "read_square", lambda *a: calls.append(a) or original(*a))
    import ganforge.data.streaming as streaming

    monkeypatch.setattr(streaming, "read_square", decode_module.read_square)
    lazy = build_dataset("folder", path=str(tmp_path), cache="none", resolution=16)
    assert isinstance(lazy.x, LazyImages) and calls == [] and lazy.shape == (3, 16, 16)
    rows = lazy.x[torch.tensor([3, 7])]
    assert rows.shape == (2, 3, 16, 16) and len(calls) == 2
    memory = build_dataset("folder", path=str(tmp_path), resolution=16)
    assert torch.equal(rows, memory.x[[3, 7]]) and torch.equal(lazy.x[:4], memory.x[:4])


def test_a_run_trains_from_a_streamed_folder_and_resumes_bit_identically(tmp_path) -> None:
    make_folder(tmp_path / "img", n=32)
    data = {"name": "folder", "path": str(tmp_path / "img"), "batch_size": 8, "cache": "none", "workers": 1}
    cfg = load_config(
        {"model": {"name": "dcgan_tiny"}, "data": data,
         "train": quick_train(steps=6, deterministic=True, ckpt_every=3, log_every=1)}
    )  # fmt: skip
    assert cfg.data.resolution is None  # 40 px images; dcgan takes 32/64/128: decoded at 64, once
    build_session(cfg, tmp_path / "a", extra_callbacks=(lambda c, d, x: StopAfter(3),)).trainer.fit()
    ganforge.train(cfg, out=tmp_path / "a", resume=True)
    whole = ganforge.train(cfg, out=tmp_path / "b")
    assert whole.config.data.resolution == 64
    assert state_digest(*final_checkpoint(tmp_path / "a")) == state_digest(*final_checkpoint(tmp_path / "b"))


def test_bad_settings_and_files_broken_since_listing_are_clear(tmp_path) -> None:
    make_folder(tmp_path, n=8)
    with pytest.raises(ConfigError, match=r"data\.cache must be memory or none"):
        build_dataset("folder", path=str(tmp_path), cache="disk")
    with pytest.raises(ConfigError, match=r"data\.workers must be >= 0"):
        build_dataset("folder", path=str(tmp_path), cache="none", workers=-1)
    lazy = build_dataset("folder", path=str(tmp_path), cache="none", resolution=8)
    broken = lazy.x.files.paths[2]
    broken.write_bytes(broken.read_bytes()[:60])  # truncated after the dataset listed it
    with pytest.raises(DataError, match=f"image '{broken}' could not be decoded"):
        lazy.x[2]


def test_random_crops_are_fresh_each_epoch_and_replay_exactly(tmp_path) -> None:
    """``data.crop: random``: every epoch a new square of each (non-square) image, drawn from the
    seed and the epoch, so a second stream (other worker count), or a resumed one, crops alike."""
    make_folder(tmp_path, n=8)  # 36 px wide, 40-47 px tall: room to move the square
    cfg = load_config(
        {"data": {"name": "folder", "path": str(tmp_path), "batch_size": 4}, "train": {"seed": 5}}
    )

    def stream(workers: int):
        lazy = build_dataset("folder", path=str(tmp_path), resolution=16, cache="none", crop="random",
                             workers=workers)  # fmt: skip
        return lazy, lazy.stream(lazy, cfg, torch.device("cpu"), False)

    lazy, first = stream(1)
    batches = [next(first) for _ in range(4)]  # two epochs of 8 images in batches of 4
    assert all(torch.equal(b["x"], next(stream(0)[1])["x"]) for b in batches[:1])
    resumed = stream(0)[1]
    resumed.load_state_dict({"epoch": 1, "cursor": 0})
    assert torch.equal(next(resumed)["x"], batches[2]["x"])  # epoch 1's crops, replayed
    fingerprints = [sorted(torch.cat([b["x"] for b in pair]).sum(dim=(1, 2, 3)).tolist())
                    for pair in (batches[:2], batches[2:])]  # fmt: skip
    centre = sorted(lazy.x[:].sum(dim=(1, 2, 3)).tolist())  # LazyImages read centre crops
    assert fingerprints[0] != fingerprints[1] and centre not in fingerprints
    with pytest.raises(ConfigError, match=r"needs data\.cache: none"):
        build_dataset("folder", path=str(tmp_path), crop="random")
