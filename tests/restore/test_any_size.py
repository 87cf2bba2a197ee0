"""Restoration at any size (issue 18, item 4): ``upscale``, ``translate``, ``inpaint`` and ``edit``
return the input's own size (times the scale), whole or by blended tiles, with clear errors.

Tiny runs of the bundled presets (``testing.tiny_overrides``) on odd-sized 301×199 photos; the tiling
arithmetic itself is checked on small hand-made networks whose answers are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata
from torch import nn

import ganforge
from ganforge.api import load_translator
from ganforge.cli.main import main
from ganforge.tasks.tiling import probe_size_plan, run_any_size
from ganforge.testing import tiny_overrides

W, H = 301, 199  # the photo's width x height, odd both ways


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("any-size")

    def tiny(preset: str, *extra: str) -> Path:
        out = tmp / preset.replace("/", "_")
        return ganforge.train(preset, out=out, overrides=[*tiny_overrides(preset), *extra]).path

    return {
        "sr": tiny("restore/sr4x_patches", "model.ngf=8", "model.n_blocks=1"),  # RGB, 16 -> 64 px
        "pix2pix": tiny("i2i/edges2digits"),  # grey U-Net, stride 8
        "inpaint": tiny("restore/inpaint_digits"),  # gated convs + a class head: training-size tiles
        "edit": tiny("i2i/thickness_edit"),  # FiLM ResNet, instance norm
    }


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("photos")
    rgb = Image.fromarray(skdata.astronaut()).resize((W, H), Image.Resampling.LANCZOS)
    rgb.save(tmp / "rgb.png")
    rgb.convert("L").save(tmp / "grey.png")
    return {"rgb": tmp / "rgb.png", "grey": tmp / "grey.png"}


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "\n" not in err, err
    return err


def test_upscale_returns_the_input_size_times_the_scale(
    runs: dict[str, Path], photos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for kind, photo in photos.items():
        out = tmp_path / f"{kind}.png"
        assert main(["upscale", str(runs["sr"]), str(photo), "-o", str(out)]) == 0
        assert _size(out) == (4 * W, 4 * H)  # 301x199 -> 1204x796, RGB or grey in
        assert Image.open(out).mode == "RGB"
    assert "upscaled 1 image(s) at their own size, whole" in capsys.readouterr().out
    main(["upscale", str(runs["sr"]), str(photos["rgb"]), "-o", str(tmp_path / "tiled.png"), "--tile", "64"])
    assert "in 64 px tiles overlapping by 16 px" in capsys.readouterr().out
    tiled, whole = (np.asarray(Image.open(tmp_path / n), dtype=int) for n in ("tiled.png", "rgb.png"))
    assert tiled.shape == whole.shape and np.abs(tiled - whole).max() <= 1  # uint8 rounding at most
    main(["upscale", str(runs["sr"]), str(photos["rgb"]), "-o", str(tmp_path / "old.png"), "--resize"])
    assert _size(tmp_path / "old.png") == (64, 64)  # the old behaviour, asked for


def test_translate_edit_inpaint_keep_the_size(
    runs: dict[str, Path], photos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["translate", str(runs["pix2pix"]), str(photos["rgb"]), "-o", str(tmp_path / "t.png")]) == 0
    assert _size(tmp_path / "t.png") == (W, H) and Image.open(tmp_path / "t.png").mode == "L"
    edit = ["edit", str(runs["edit"]), str(photos["grey"]), "--attr", "3", "-o", str(tmp_path / "e.png")]
    assert main(edit) == 0 and _size(tmp_path / "e.png") == (W, H)
    hole = np.zeros((H, W), np.uint8)
    hole[60:110, 100:190] = 255  # white = missing
    Image.fromarray(hole).save(tmp_path / "hole.png")
    args = ["inpaint", str(runs["inpaint"]), str(photos["grey"]), "--mask", str(tmp_path / "hole.png")]
    capsys.readouterr()
    assert main([*args, "-o", str(tmp_path / "i.png")]) == 0
    assert "in 32x32 tiles, the training size (its fully connected layers read" in capsys.readouterr().out
    filled, grey = (np.asarray(Image.open(p)) for p in (tmp_path / "i.png", photos["grey"]))
    assert filled.shape == (H, W)
    np.testing.assert_array_equal(filled[hole == 0], grey[hole == 0])  # known pixels, exactly
    assert (filled[hole > 0] != grey[hole > 0]).any()


def test_a_mask_of_another_size_is_a_one_line_error(
    runs: dict[str, Path], photos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Image.fromarray(np.zeros((H, W - 1), np.uint8)).save(tmp_path / "hole.png")
    argv = ["inpaint", str(runs["inpaint"]), str(photos["rgb"]), "--mask", str(tmp_path / "hole.png")]
    assert main([*argv, "-o", str(tmp_path / "out.png")]) == 2
    err = _one_line_error(capsys)
    assert "mask is 300x199 pixels" in err and "is 301x199" in err and "must be the size of its image" in err
    assert not (tmp_path / "out.png").exists()


def test_bad_tiles_are_one_line_errors(
    runs: dict[str, Path], photos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["translate", str(runs["pix2pix"]), str(photos["grey"]), "-o", str(tmp_path / "o.png")]
    assert main([*argv, "--tile", "4"]) == 2  # the U-Net halves three times: sides divide by 8
    assert "--tile must be at least 8 px" in _one_line_error(capsys)
    assert main([*argv, "--tile", "32", "--tile-overlap", "32"]) == 2
    assert "--tile-overlap must be at least 0 and below the tile size 32" in _one_line_error(capsys)
    assert main([*argv, "--tile", "-1"]) == 2
    assert "--tile must be a number of pixels" in _one_line_error(capsys)
    assert not (tmp_path / "o.png").exists()


def test_tiled_equals_whole_for_trained_networks(runs: dict[str, Path]) -> None:
    """A network whose receptive radius fits in a quarter of the overlap gives the whole-image
    result from tiles (SRResNet: to float rounding); the deeper U-Net differs only slightly."""
    gen = torch.Generator().manual_seed(0)
    sr = load_translator(runs["sr"])
    low = torch.rand(1, 3, 61, 83, generator=gen) * 2 - 1
    whole = sr.translate_any(low)
    assert whole.shape == (1, 3, 244, 332)
    assert (sr.translate_any(low, tile=32, overlap=24) - whole).abs().max() < 1e-5
    assert sr.translate_any(low[:, :, :16, :16]).allclose(sr.translate(low[:, :, :16, :16]))  # training size
    pix = load_translator(runs["pix2pix"])
    x = torch.rand(2, 1, H, W, generator=gen) * 2 - 1
    assert pix.size_plan(x).multiple == 8
    assert (pix.translate_any(x, tile=64, overlap=32) - pix.translate_any(x)).abs().max() < 1e-3


# ------------------------------------------------------------------ tiling on hand-made networks


def _run(net: nn.Module):
    return lambda x, cond: net(x)


class PooledHead(nn.Module):
    """A conv whose output is shifted by a linear function of the global average: global context."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 1, 3, padding=1), nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.fc(x.mean(dim=(2, 3)))[:, :, None, None]


def test_probe_finds_stride_scale_and_fixed_size_networks() -> None:
    strided = nn.Sequential(
        nn.Conv2d(1, 4, 4, 2, 1), nn.Conv2d(4, 4, 4, 2, 1), nn.ConvTranspose2d(4, 4, 4, 2, 1)
    )
    strided.append(nn.ConvTranspose2d(4, 1, 4, 2, 1))
    plan = probe_size_plan(strided, _run(strided), 1, (32, 32), {})
    assert (plan.multiple, plan.scale, plan.fixed) == (4, 1, None)
    shuffle = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.PixelShuffle(2))
    assert probe_size_plan(shuffle, _run(shuffle), 1, (8, 8), {}).scale == 2
    pooled = PooledHead()
    plan = probe_size_plan(pooled, _run(pooled), 1, (32, 32), {})
    assert plan.fixed == (32, 32) and "read the whole image" in plan.reason
    flat = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.Unflatten(1, (1, 8, 8)))
    plan = probe_size_plan(flat, _run(flat), 1, (8, 8), {})
    assert plan.fixed == (8, 8)
    y = run_any_size(_run(flat), torch.zeros(2, 1, 13, 21), {}, plan)  # tiles of 8x8
    assert y.shape == (2, 1, 13, 21)


def test_tiles_are_exact_for_a_local_network_and_seamless_for_a_global_one() -> None:
    torch.manual_seed(0)
    local = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 1, 5, padding=2)).eval()
    plan = probe_size_plan(local, _run(local), 1, (16, 16), {})  # receptive radius 3
    x = torch.rand(1, 1, 45, 67) * 2 - 1
    with torch.no_grad():
        whole = run_any_size(_run(local), x, {}, plan)
        tiled = run_any_size(_run(local), x, {}, plan, tile=24, overlap=12)  # outer quarter: 3 px
    assert (tiled - whole).abs().max() < 1e-6
    # Per-tile instance norm on a smooth ramp: each tile has its own statistics. Abutting tiles jump
    # at their borders; blended ones change no faster there than anywhere else.
    norm = nn.InstanceNorm2d(1)
    ramp = torch.linspace(-1, 1, 97)[None, None, None, :].expand(1, 1, 40, 97) * 0.9
    step = {}
    for overlap in (0, 16):
        y = run_any_size(
            _run(norm), ramp, {}, probe_size_plan(norm, _run(norm), 1, (16, 16), {}), 32, overlap
        )
        step[overlap] = (y[..., 1:] - y[..., :-1]).abs().amax(dim=(0, 1, 2))  # per column border
    interior = step[16].median()
    assert step[0].max() > 10 * interior  # the seam the blending removes
    assert step[16].max() < 3 * interior
