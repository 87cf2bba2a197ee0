"""``ganforge upscale | inpaint | edit``: one translator path, each command supplying what its model
needs (nothing, a mask, an attribute), refusing runs of the wrong kind and bad input before writing."""

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
from ganforge.data.degrade import avg_downsample, center_mask
from ganforge.data.embedded import mnist_arrays
from ganforge.errors import ConfigError, DataError


def _run(tmp: Path, name: str, model: str, data: dict, objective: dict) -> Path:
    cfg = {
        "model": {"name": model},
        "data": {**data, "batch_size": 8},
        "objective": objective,
        "train": {"steps": 2, "progress": False, "log_every": 1},
    }
    return ganforge.train(cfg, out=tmp / name).path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("restore-cli")
    sr_data = {
        "name": "degraded",
        "base": "mnist",
        "degradation": "downsample",
        "degradation_params": {"factor": 4},
    }
    return {
        "sr": _run(tmp, "sr", "srgan_tiny", sr_data, {"name": "srgan", "pretrain_steps": 1}),
        "inpaint": _run(tmp, "inpaint", "inpaint_tiny", {"name": "mnist"}, {"name": "inpaint"}),
        "edit": _run(tmp, "edit", "attr_edit_tiny", {"name": "thickness_digits"}, {"name": "attr_edit"}),
    }


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return mnist_arrays("test")[0][:4]


def cli(command: str, *argv: object) -> int:
    parser = argparse.ArgumentParser(prog="ganforge")
    add_translate_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([command, *map(str, argv)])
    return args.func(args)


def _npz(path: Path, **arrays: torch.Tensor) -> Path:
    np.savez(path, **{k: v.numpy() for k, v in arrays.items()})
    return path


def _load(path: Path) -> np.ndarray:
    with np.load(path) as f:
        return f["x"]


def test_upscale_npz(runs: dict[str, Path], digits: torch.Tensor, tmp_path: Path, capsys) -> None:
    small = avg_downsample(digits, 4)
    assert cli("upscale", runs["sr"], _npz(tmp_path / "small.npz", x=small), "-o", tmp_path / "big.npz") == 0
    assert "upscaled 4 image(s)" in capsys.readouterr().out
    big = _load(tmp_path / "big.npz")
    assert big.shape == (4, 1, 32, 32)
    np.testing.assert_allclose(big, load_translator(runs["sr"]).translate(small).numpy(), atol=1e-6)


def test_inpaint_keeps_known_pixels_and_reads_an_image_mask(
    runs: dict[str, Path], digits: torch.Tensor, tmp_path: Path
) -> None:
    mask = center_mask(32, 12)
    Image.fromarray((mask[0, 0].numpy() * 255).astype(np.uint8)).save(tmp_path / "hole.png")
    src = _npz(tmp_path / "in.npz", x=digits)
    assert (
        cli("inpaint", runs["inpaint"], src, "--mask", tmp_path / "hole.png", "-o", tmp_path / "out.npz") == 0
    )
    out = torch.from_numpy(_load(tmp_path / "out.npz"))
    known = mask.expand_as(digits) < 0.5
    assert torch.equal(out[known], digits[known])  # only the hole is generated
    # The same through an .npz mask, one mask for all images.
    cli(
        "inpaint",
        runs["inpaint"],
        src,
        "--mask",
        _npz(tmp_path / "m.npz", mask=mask),
        "-o",
        tmp_path / "o2.npz",
    )
    np.testing.assert_array_equal(_load(tmp_path / "o2.npz"), out.numpy())


def test_edit_sets_the_attribute(runs: dict[str, Path], digits: torch.Tensor, tmp_path: Path) -> None:
    src = _npz(tmp_path / "in.npz", x=digits)
    assert cli("edit", runs["edit"], src, "--attr", "4.5", "-o", tmp_path / "thick.npz") == 0
    expected = load_translator(runs["edit"]).translate(digits, attr=4.5)
    np.testing.assert_allclose(_load(tmp_path / "thick.npz"), expected.numpy(), atol=1e-6)


def test_wrong_kind_of_run_is_refused(runs: dict[str, Path], digits: torch.Tensor, tmp_path: Path) -> None:
    src = _npz(tmp_path / "in.npz", x=digits)
    with pytest.raises(ConfigError, match="super-resolution"):
        cli("upscale", runs["inpaint"], src, "-o", tmp_path / "a.npz")
    with pytest.raises(ConfigError, match="inpainting"):
        cli(
            "inpaint",
            runs["edit"],
            src,
            "--mask",
            _npz(tmp_path / "m.npz", mask=center_mask(32, 12)),
            "-o",
            tmp_path / "b.npz",
        )
    with pytest.raises(ConfigError, match="attribute-editing"):
        cli("edit", runs["inpaint"], src, "--attr", "3", "-o", tmp_path / "c.npz")
    with pytest.raises(ConfigError, match="mask"):  # translate does not guess a mask
        cli("translate", runs["inpaint"], src, "-o", tmp_path / "d.npz")
    assert not list(tmp_path.glob("[abcd].npz"))


def test_bad_input_writes_nothing(runs: dict[str, Path], digits: torch.Tensor, tmp_path: Path) -> None:
    src = _npz(tmp_path / "in.npz", x=digits)
    wrong = _npz(tmp_path / "m.npz", mask=torch.ones(1, 1, 16, 16))
    with pytest.raises(DataError, match="mask must be"):
        cli("inpaint", runs["inpaint"], src, "--mask", wrong, "-o", tmp_path / "out.npz")
    with pytest.raises(DataError, match="mask"):
        cli("inpaint", runs["inpaint"], src, "--mask", tmp_path / "missing.png", "-o", tmp_path / "out.npz")
    with pytest.raises(ConfigError, match="--attr"):
        cli("edit", runs["edit"], src, "--attr", "thick", "-o", tmp_path / "out.npz")
    rgb = _npz(tmp_path / "rgb.npz", x=digits.expand(-1, 3, -1, -1).contiguous())
    with pytest.raises(DataError, match="channel"):
        cli("edit", runs["edit"], rgb, "--attr", "3", "-o", tmp_path / "out.npz")
    with pytest.raises(DataError, match="8x8"):  # the SR run takes its low-resolution size only
        cli("upscale", runs["sr"], src, "-o", tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()
