"""``paired_folder`` and ``unpaired_folder`` with ``cache: none``: file lists only in memory, each
batch's images decoded by worker processes, the very batches the in-memory datasets give (both images
of a pair mirrored together, the unpaired domain cut from its own permutation), exact resumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.config import load_config
from ganforge.data import build_dataset
from ganforge.data.loader import BatchStream
from ganforge.data.streaming import LazyImages
from ganforge.errors import ConfigError, DataError
from ganforge.testing import StopAfter, final_checkpoint, state_digest, tiny_config
from ganforge.training.build import build_session


def save_images(folder: Path, names: list[str], seed: int, grey: bool = False) -> None:
    """Random images of assorted non-square sizes (so the centre crop matters)."""
    rng = np.random.default_rng(seed)
    for i, name in enumerate(names):
        shape = (30 + i, 24) if grey else (30 + i, 24, 3)
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random(shape) * 255).astype("uint8")).save(folder / name)


def make_pairs(root: Path, n: int = 12, grey: bool = False) -> Path:
    """``A/`` and ``B/`` holding ``n`` images under the same names (one in a subfolder)."""
    names = [f"{'sub/' if i == 3 else ''}{i:02d}.png" for i in range(n)]
    save_images(root / "A", names, seed=1, grey=grey)
    save_images(root / "B", names, seed=2, grey=grey)
    return root


def make_domains(root: Path) -> Path:
    """Unrelated domains of different sizes: 10 images in ``A/``, 14 in ``B/``."""
    save_images(root / "A", [f"a{i}.png" for i in range(10)], seed=3)
    save_images(root / "B", [f"b{i}.png" for i in range(14)], seed=4)
    return root


def streams(name: str, root: Path, seed: int, xflip: bool, workers: int) -> tuple:
    """The in-memory BatchStream and the streamed one of ``name`` on ``root``, batches of 4."""
    data = {"name": name, "path": str(root), "batch_size": 4, "xflip": xflip, "resolution": 16}
    cfg = load_config({"data": data, "train": {"seed": seed}})
    memory = build_dataset(name, path=str(root), resolution=16)
    lazy = build_dataset(name, path=str(root), resolution=16, cache="none", workers=workers)
    return BatchStream(memory, 4, seed=seed, xflip=xflip), lazy.stream(lazy, cfg, torch.device("cpu"), False)


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(("name", "xflip", "workers"), [
    ("paired_folder", True, 2), ("paired_folder", False, 0),
    ("unpaired_folder", True, 1), ("unpaired_folder", False, 0),
])  # fmt: skip
def test_streamed_batches_are_the_in_memory_ones(tmp_path, name, xflip, workers) -> None:
    root = make_pairs(tmp_path) if name == "paired_folder" else make_domains(tmp_path)
    memory, streamed = streams(name, root, seed=7, xflip=xflip, workers=workers)
    for _ in range(9):  # past the end of every epoch of both domains (10 and 14 images, or doubled)
        assert same(next(memory), next(streamed))
    assert memory.state_dict() == streamed.state_dict()
    assert same(memory.fixed_batch(5), streamed.fixed_batch(5))


def test_a_pair_is_mirrored_together(tmp_path) -> None:
    """A and B equal: every streamed batch's ``a`` must equal its ``x``, flipped or not."""
    save_images(tmp_path / "A", [f"{i}.png" for i in range(6)], seed=0)
    save_images(tmp_path / "B", [f"{i}.png" for i in range(6)], seed=0)
    _, streamed = streams("paired_folder", tmp_path, seed=0, xflip=True, workers=0)
    batches = [next(streamed) for _ in range(3)]  # one epoch of the 12 (doubled) samples
    assert all(torch.equal(b["a"], b["x"]) for b in batches)
    flipped = torch.cat([b["x"] for b in batches]).flip(-1)
    assert all(any(torch.equal(f, x) for x in torch.cat([b["x"] for b in batches])) for f in flipped)


@pytest.mark.parametrize("name", ["paired_folder", "unpaired_folder"])
def test_a_streamed_stream_resumes_exactly_with_another_worker_count(tmp_path, name) -> None:
    root = make_pairs(tmp_path) if name == "paired_folder" else make_domains(tmp_path)
    _, whole = streams(name, root, seed=1, xflip=True, workers=2)
    _, resumed = streams(name, root, seed=1, xflip=True, workers=0)
    [next(whole) for _ in range(5)]
    resumed.load_state_dict(whole.state_dict())
    assert all(same(next(whole), next(resumed)) for _ in range(6))


def test_streamed_pairs_hold_file_lists_and_read_rows_like_memory(tmp_path) -> None:
    make_pairs(tmp_path, grey=True)
    memory = build_dataset("paired_folder", path=str(tmp_path))
    lazy = build_dataset("paired_folder", path=str(tmp_path), cache="none")
    assert isinstance(lazy.x, LazyImages) and isinstance(lazy.extras["a"], LazyImages)
    assert lazy.shape == memory.shape == (1, 24, 24)  # grey, the smallest side
    assert torch.equal(lazy.x[:4], memory.x[:4]) and torch.equal(lazy.extras["a"][:4], memory.extras["a"][:4])
    unpaired = build_dataset("unpaired_folder", path=str(make_domains(tmp_path / "u")), cache="none")
    assert isinstance(unpaired.independent["a"], LazyImages) and len(unpaired.independent["a"]) == 10


def test_bad_folders_give_the_same_clear_errors_streamed(tmp_path) -> None:
    save_images(tmp_path / "A", ["one.png", "two.png", "three.png"], seed=0)
    save_images(tmp_path / "B", ["one.png", "two.png", "four.png"], seed=0)
    for cache in ("memory", "none"):
        with pytest.raises(DataError, match=r"1 only in A/ \(three\), 1 only in B/ \(four\)"):
            build_dataset("paired_folder", path=str(tmp_path), cache=cache)
        with pytest.raises(DataError, match="folder 'C/'"):
            build_dataset("unpaired_folder", path=str(tmp_path), b_dir="C", cache=cache)
    small = tmp_path / "small"
    save_images(small / "A", ["0.png", "1.png", "2.png"], seed=0)
    save_images(small / "B", [f"{i}.png" for i in range(6)], seed=1)
    lazy = build_dataset("unpaired_folder", path=str(small), cache="none")
    cfg = load_config({"data": {"name": "unpaired_folder", "path": str(small), "batch_size": 4}})
    with pytest.raises(DataError, match=r"'data\.batch_size' \(4\) is larger than the independent set \(3"):
        lazy.stream(lazy, cfg, torch.device("cpu"), False)
    with pytest.raises(ConfigError, match=r"data\.cache must be memory or none"):
        build_dataset("paired_folder", path=str(tmp_path), cache="disk")
    with pytest.raises(ConfigError, match=r"data\.workers must be >= 0"):
        build_dataset("unpaired_folder", path=str(tmp_path), cache="none", workers=-1)
    with pytest.raises(ConfigError, match=r"data\.channels must be 1, 3 or null"):
        build_dataset("unpaired_folder", path=str(tmp_path), channels=2)


def run_config(root: Path, name: str, cache: str) -> dict:
    model, objective = (
        ("pix2pix_tiny", "pix2pix") if name == "paired_folder" else ("cyclegan_tiny", "cyclegan")
    )
    data = {"name": name, "path": str(root), "batch_size": 4, "resolution": 32, "xflip": True,
            "cache": cache, "workers": 1}  # fmt: skip
    return tiny_config(
        model, data, {"name": objective}, steps=4, deterministic=True, ckpt_every=2, log_every=1
    )


@pytest.mark.parametrize("name", ["paired_folder", "unpaired_folder"])
def test_a_streamed_run_resumes_bit_identically_and_matches_memory(tmp_path, name) -> None:
    root = make_pairs(tmp_path / "img") if name == "paired_folder" else make_domains(tmp_path / "img")
    streamed = load_config(run_config(root, name, "none"))
    build_session(streamed, tmp_path / "a", extra_callbacks=(lambda c, d, x: StopAfter(2),)).trainer.fit()
    ganforge.train(streamed, out=tmp_path / "a", resume=True)
    ganforge.train(run_config(root, name, "memory"), out=tmp_path / "b")
    assert (tmp_path / "a" / "samples").is_dir()
    assert state_digest(*final_checkpoint(tmp_path / "a")) == state_digest(*final_checkpoint(tmp_path / "b"))
