"""``ganforge translate RUN IN -o OUT``: images, folders and .npz in and out; bad input changes nothing."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.api import load_translator
from ganforge.cli.translate import add_translate_parser
from ganforge.data import build_dataset
from ganforge.errors import ConfigError, DataError
from ganforge.utils.images import to_uint8


def _run(tmp: Path, model: str, data: str, objective: str, loss: str) -> Path:
    cfg = {
        "model": {"name": model},
        "data": {"name": data, "batch_size": 8},
        "objective": {"name": objective, "loss": loss},
        "train": {"steps": 2, "device": "cpu", "progress": False, "log_every": 1},
    }
    return ganforge.train(cfg, out=tmp / objective).path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("translate")
    return {
        "pix2pix": _run(tmp, "pix2pix_tiny", "edges2digits", "pix2pix", "ns"),
        "cyclegan": _run(tmp, "cyclegan_tiny", "thin2thick", "cyclegan", "lsgan"),
    }


@pytest.fixture(scope="module")
def edges() -> torch.Tensor:
    return build_dataset("edges2digits", split="test").extras["a"][:5]


def translate(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ganforge")
    add_translate_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["translate", *map(str, argv)])
    return args.func(args)


def _png(path: Path, image: torch.Tensor) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = to_uint8(image[None])[0]
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(path)
    return path


def _read_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_png_in_png_out(runs: dict[str, Path], edges: torch.Tensor, tmp_path: Path, capsys) -> None:
    src = _png(tmp_path / "edge.png", edges[0])
    assert translate(runs["pix2pix"], src, "-o", tmp_path / "digit.png") == 0
    assert "translated 1 image(s) AtoB" in capsys.readouterr().out
    expected = to_uint8(load_translator(runs["pix2pix"]).translate(edges[:1]))[0, ..., 0]
    np.testing.assert_array_equal(_read_png(tmp_path / "digit.png"), expected)


def test_folder_in_folder_out_keeps_names(runs: dict[str, Path], edges: torch.Tensor, tmp_path: Path) -> None:
    _png(tmp_path / "in" / "a.png", edges[0])
    _png(tmp_path / "in" / "sub" / "b.png", edges[1])
    rgb = to_uint8(edges[2:3].expand(-1, 3, -1, -1))[0]
    Image.fromarray(rgb).resize((64, 64), Image.NEAREST).save(tmp_path / "in" / "c.jpg")  # colour, larger
    translate(runs["pix2pix"], tmp_path / "in", "-o", tmp_path / "out")
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.png"))
    assert written == ["a.png", "c.png", "sub/b.png"]
    sizes = [_read_png(tmp_path / "out" / n).shape for n in written]
    assert sizes == [(32, 32), (64, 64), (32, 32)]  # grey, each at its own size
    translate(runs["pix2pix"], tmp_path / "in", "-o", tmp_path / "resized", "--resize")
    assert _read_png(tmp_path / "resized" / "c.png").shape == (32, 32)  # the old way: training size


def test_npz_in_npz_and_folder_out(runs: dict[str, Path], edges: torch.Tensor, tmp_path: Path) -> None:
    np.savez(tmp_path / "in.npz", x=edges.numpy())
    translate(runs["cyclegan"], tmp_path / "in.npz", "-o", tmp_path / "out.npz", "--direction", "BtoA")
    with np.load(tmp_path / "out.npz") as f:
        out = f["x"]
    handle = load_translator(runs["cyclegan"])
    assert out.shape == (5, 1, 32, 32) and out.dtype == np.float32
    np.testing.assert_array_equal(out, handle.translate(edges, direction="BtoA").numpy())
    assert not np.array_equal(out, handle.translate(edges).numpy())  # the two generators differ
    translate(runs["cyclegan"], tmp_path / "in.npz", "-o", tmp_path / "pngs")
    assert sorted(p.name for p in (tmp_path / "pngs").iterdir()) == [f"{i:05d}.png" for i in range(5)]


def test_bad_input_is_a_clear_error_and_writes_nothing(
    runs: dict[str, Path], edges: torch.Tensor, tmp_path: Path
) -> None:
    out = tmp_path / "out.npz"
    np.savez(tmp_path / "rgb.npz", x=np.zeros((2, 3, 32, 32), np.float32))
    with pytest.raises(DataError, match="1-channel"):
        translate(runs["pix2pix"], tmp_path / "rgb.npz", "-o", out)
    np.savez(tmp_path / "wide.npz", x=np.zeros((2, 1, 32, 32), np.float32) + 200)
    with pytest.raises(DataError, match=r"\[-1, 1\]"):
        translate(runs["pix2pix"], tmp_path / "wide.npz", "-o", out)
    np.savez(tmp_path / "named.npz", images=np.zeros((2, 1, 32, 32), np.float32))
    with pytest.raises(DataError, match="no array 'x'"):
        translate(runs["pix2pix"], tmp_path / "named.npz", "-o", out)
    with pytest.raises(DataError, match="does not exist"):
        translate(runs["pix2pix"], tmp_path / "missing.png", "-o", out)
    with pytest.raises(ConfigError, match="AtoB only"):
        translate(runs["pix2pix"], tmp_path / "rgb.npz", "-o", out, "--direction", "BtoA")
    np.savez(tmp_path / "five.npz", x=edges.numpy())
    with pytest.raises(ConfigError, match="5 translations"):
        translate(runs["pix2pix"], tmp_path / "five.npz", "-o", tmp_path / "one.png")
    assert not out.exists() and not (tmp_path / "one.png").exists()


def test_existing_outputs_are_kept_unless_forced(
    runs: dict[str, Path], edges: torch.Tensor, tmp_path: Path
) -> None:
    src = _png(tmp_path / "edge.png", edges[0])
    target = tmp_path / "digit.png"
    target.write_bytes(b"precious")
    with pytest.raises(ConfigError, match="--force"):
        translate(runs["pix2pix"], src, "-o", target)
    assert target.read_bytes() == b"precious"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "edge.png").write_bytes(b"precious")
    with pytest.raises(ConfigError, match="1 output file"):
        translate(runs["pix2pix"], tmp_path / "edge.png", "-o", tmp_path / "out" / "")
    translate(runs["pix2pix"], src, "-o", target, "--force")
    assert _read_png(target).shape == (32, 32)
