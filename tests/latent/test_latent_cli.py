"""``ganforge latent ...``: every tool writes its picture from a run dir; bad input is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge


@pytest.fixture
def unconditional_run(tiny_image_run: ganforge.Run) -> Path:
    return tiny_image_run.path


def assert_user_error(rc: int, err: str, *fragments: str) -> None:
    assert rc == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def cells(path: Path, rows: int, cols: int, size: int = 32, pad: int = 2, scale: int = 2) -> np.ndarray:
    """The (rows, cols, size, size) images of a grey grid picture written by ganforge."""
    pic = np.asarray(Image.open(path).convert("L"))
    assert pic.shape == ((rows * (size + pad) + pad) * scale, (cols * (size + pad) + pad) * scale)
    out = np.empty((rows, cols, size, size), np.uint8)
    for r in range(rows):
        for c in range(cols):
            top, left = scale * (pad + r * (size + pad)), scale * (pad + c * (size + pad))
            out[r, c] = pic[top : top + scale * size : scale, left : left + scale * size : scale]
    return out


def test_interpolate_writes_a_png_grid_and_a_looping_gif(cli, conditional_run, tmp_path):
    rc, out, err = cli(
        "latent", "interpolate", conditional_run, "-o", tmp_path / "i.png", "--steps", 5, "--rows", 3
    )
    assert rc == 0 and out == "" and "wrote" in err
    grid = cells(tmp_path / "i.png", 3, 5)
    assert (grid[:, 0] != grid[:, -1]).any()
    rc, _, _ = cli(
        "latent", "interpolate", conditional_run, "-o", tmp_path / "i.gif", "--steps", 5, "--method", "lerp"
    )
    assert rc == 0 and Image.open(tmp_path / "i.gif").n_frames == 5 + 3  # forth and back


def test_classes_ends_are_the_hard_label_samples(cli, conditional_run, tmp_path):
    rc, _, _ = cli("latent", "classes", conditional_run, "--from", 3, "--to", 8, "-o", tmp_path / "c.png",
                   "--rows", 2, "--steps", 4, "--seed", 5)  # fmt: skip
    assert rc == 0
    grid = cells(tmp_path / "c.png", 2, 4)
    handle = ganforge.load(conditional_run)
    z = handle.generator.sample_z(2, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        for col, label in ((0, 3), (3, 8)):
            images = handle.generator(z, torch.full((2,), label))
            expected = images.clamp(-1, 1).add(1).mul(127.5).round().numpy()[:, 0]
            assert np.abs(grid[:, col].astype(int) - expected.astype(int)).max() <= 1


def test_classes_on_an_unconditional_run_is_a_clear_error(cli, unconditional_run, tmp_path):
    rc, _, err = cli("latent", "classes", unconditional_run, "--from", 3, "--to", 8, "-o", tmp_path / "c.png")
    assert_user_error(rc, err, "class-conditional", "unconditional")
    assert not (tmp_path / "c.png").exists()


def test_truncation_rows_are_psis(cli, unconditional_run, tmp_path):
    rc, _, _ = cli(
        "latent", "truncation", unconditional_run, "-o", tmp_path / "t.png", "--psis", "1,0.5,0", "-n", 4
    )
    assert rc == 0
    grid = cells(tmp_path / "t.png", 3, 4)
    assert (grid[2] == grid[2, :1]).all()  # ψ = 0: every seed is the same image
    assert (grid[0] != grid[0, :1]).any()
    rc, _, _ = cli("latent", "truncation", unconditional_run, "-o", tmp_path / "t.gif", "--psis", "1,0.5,0")
    assert rc == 0 and Image.open(tmp_path / "t.gif").n_frames == 3 + 1


@pytest.mark.parametrize(("psis", "needle"), [("1,x", "numbers"), ("1.5", "[0, 1]"), ("", "at least one")])
def test_bad_psis_are_a_clear_error(cli, unconditional_run, tmp_path, psis, needle):
    rc, _, err = cli("latent", "truncation", unconditional_run, "-o", tmp_path / "t.png", "--psis", psis)
    assert_user_error(rc, err, "--psis", needle)


def test_walk_writes_a_gif_with_one_frame_per_step(cli, conditional_run, tmp_path):
    rc, _, err = cli("latent", "walk", conditional_run, "-o", tmp_path / "w.gif", "--steps", 12, "--rows", 2)
    assert rc == 0 and "12-frame" in err
    gif = Image.open(tmp_path / "w.gif")
    assert gif.n_frames == 12 and gif.info["loop"] == 0


def test_invert_prints_json_and_writes_target_beside_reconstruction(cli, conditional_run, tmp_path):
    handle = ganforge.load(conditional_run)
    x = handle.sample(2, seed=3, labels=[7, 7]).numpy()
    np.savez(tmp_path / "target.npz", x=x)
    rc, out, _ = cli("latent", "invert", conditional_run, tmp_path / "target.npz", "--index", 1, "--label", 7,
                     "--steps", 30, "--restarts", 2, "-o", tmp_path / "inv.png",
                     "--save-latent", tmp_path / "z.npz")  # fmt: skip
    assert rc == 0
    summary = json.loads(out)
    assert summary["space"] == "z" and summary["steps"] == 30 and summary["label"] == 7
    assert summary["mse"] < summary["initial_mse"]
    assert summary["psnr"] == pytest.approx(10 * np.log10(4 / summary["mse"]))
    pair = cells(tmp_path / "inv.png", 1, 2, scale=4)
    target = np.round((x[1, 0] + 1) * 127.5)
    assert np.abs(pair[0, 0].astype(int) - target.astype(int)).max() <= 1  # left: the target
    latent = np.load(tmp_path / "z.npz")["latent"]
    assert latent.shape == (handle.generator.z_dim,)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["MISSING", "--label", "1"], ("missing.png", "does not exist")),
        (["TARGET", "--space", "w", "--label", "1"], ("no w space",)),
        (["TARGET"], ("conditional", "--label")),
        (["TARGET", "--label", "1", "-o", "OUT_GIF"], ("must end in .png",)),
    ],
)
def test_invert_bad_input_is_a_clear_error(cli, conditional_run, tmp_path, args, fragments):
    target = tmp_path / "t.png"
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(target)
    paths = {"TARGET": target, "MISSING": tmp_path / "missing.png", "OUT_GIF": tmp_path / "out.gif"}
    argv = [str(paths.get(a, a)) for a in args]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "inv.png")]
    rc, out, err = cli("latent", "invert", conditional_run, *argv)
    assert_user_error(rc, err, *fragments)
    assert out == ""


def test_label_on_an_unconditional_run_and_bad_suffix_are_clear_errors(cli, unconditional_run, tmp_path):
    rc, _, err = cli("latent", "interpolate", unconditional_run, "--label", 3, "-o", tmp_path / "i.png")
    assert_user_error(rc, err, "unconditional")
    rc, _, err = cli("latent", "walk", unconditional_run, "-o", tmp_path / "w.mp4")
    assert_user_error(rc, err, ".png or .gif")
    rc, _, err = cli("latent", "walk", tmp_path / "nowhere", "-o", tmp_path / "w.gif")
    assert rc == 2 and "Traceback" not in err
