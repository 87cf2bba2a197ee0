"""``ganforge dataset prepare``: a folder decoded once into a zip of PNGs with its index; training
data read from it, in memory or streamed, equal to the folder's (RGB, at the same size)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.cli.main import main
from ganforge.data import build_dataset
from ganforge.errors import DataError
from ganforge.testing import quick_train


def photos(root: Path, n: int = 12) -> Path:
    rng = np.random.default_rng(1)
    for i in range(n):
        (root / ("cats" if i % 3 else "dogs")).mkdir(parents=True, exist_ok=True)
        pixels = (rng.random((30 + i, 28, 3)) * 255).astype("uint8")
        Image.fromarray(pixels).save(
            root / ("cats" if i % 3 else "dogs") / f"{i}.{'jpg' if i % 2 else 'png'}"
        )
    (root / "cats" / "broken.png").write_bytes(b"not an image")
    return root


def test_prepare_writes_pngs_with_an_index_and_trains_like_the_folder(tmp_path, capsys) -> None:
    src = photos(tmp_path / "src")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        folder = build_dataset("folder", path=str(src), resolution=16)
    assert main(["dataset", "prepare", str(src), "-o", str(tmp_path / "d.zip"), "--resolution", "16"]) == 0
    assert "wrote 12 images at 16px, 2 classes" in capsys.readouterr().err
    with zipfile.ZipFile(tmp_path / "d.zip") as z:
        index = json.loads(z.read("dataset.json"))
    assert index["classes"] == ["cats", "dogs"] and index["resolution"] == 16 and len(index["images"]) == 12
    memory = build_dataset("folder", path=str(tmp_path / "d.zip"))
    streamed = build_dataset("folder", path=str(tmp_path / "d.zip"), cache="none", workers=1)
    assert memory.shape == (3, 16, 16) and memory.num_classes == 2 and torch.equal(memory.y, folder.y)
    assert torch.allclose(memory.x, folder.x, atol=1e-6)  # lossless PNGs of the same decoding
    assert torch.equal(streamed.x[:], memory.x)
    data = {"name": "folder", "path": str(tmp_path / "d.zip"), "resolution": 32, "batch_size": 4,
            "cache": "none", "workers": 0}  # fmt: skip
    run = ganforge.train(
        {"model": {"name": "dcgan_tiny"}, "data": data, "train": quick_train(steps=2)}, out=tmp_path / "r"
    )
    assert run.summary["step"] == 2


def test_bad_archives_and_outputs_are_one_line_errors(tmp_path, capsys) -> None:
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="is not a prepared image archive"):
        build_dataset("folder", path=str(tmp_path / "x.zip"))
    src = photos(tmp_path / "src", n=2)
    assert main(["dataset", "prepare", str(src), "-o", str(tmp_path / "d.tar")]) == 2
    assert "must be a .zip file" in capsys.readouterr().err
    assert main(["dataset", "prepare", str(tmp_path / "nope"), "-o", str(tmp_path / "d.zip")]) == 2
    assert not (tmp_path / "d.zip").exists()
