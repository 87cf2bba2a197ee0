"""The ``ganforge`` command: train / sample / list, and the bad-input contract.

Bad input gets one sentence on stderr, exit status 2, no traceback, and leaves every file as it was.
Most tests call ``main([...])`` in-process (fast); one runs the installed console script.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from cli_helpers import assert_user_error, plain, snapshot
from PIL import Image

# ------------------------------------------------------------------------------------------ entry point


def test_console_script_reports_a_user_error_without_traceback(tmp_path):
    script = shutil.which("ganforge", path=str(Path(sys.executable).parent))
    assert script is not None, "the ganforge console script is not installed next to this Python"
    missing = tmp_path / "missing.yaml"
    proc = subprocess.run(
        [script, "train", str(missing), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_user_error(proc.returncode, plain(proc.stderr), f"config file '{missing}' does not exist")
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------------------ train


def test_train_writes_a_run_dir_with_overrides(cli, config_file, tmp_path):
    out = tmp_path / "run"
    rc, _, err = cli("train", config_file, "--out", out, "--set", "train.steps=4", "--set", "train.seed=3")
    assert rc == 0, err
    assert f"done: run dir {out}" in err
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert (saved["train"]["steps"], saved["train"]["seed"]) == (4, 3)
    assert (out / "checkpoints" / "step_000004.safetensors").is_file()
    assert (out / "samples" / "step_000004.png").is_file()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--set", "train.stpes=3"], ["unknown key 'train.stpes'", "did you mean 'steps'?"]),
        (["--set", "model.ngff=3", "--set", "model.name=dcgan_tiny"], ["'model.ngff'", "'ngf'"]),
        (["--set", "data.kindd=ring"], ["unknown key 'data.kindd'", "did you mean 'kind'?"]),
        (["--set", "train.steps=abc"], ["'train.steps' must be an integer, got 'abc'"]),
        (["--set", "train.precision=fp8"], ["'train.precision' must be one of fp32, bf16, fp16"]),
        (["--set", "data.name=folder", "--set", "data.path=/nonexistent"], ["'/nonexistent' does not exist"]),
        (["--set", "train.steps"], ["must look like section.key=value"]),
    ],
    ids=["bad-key", "bad-model-key", "bad-data-key", "wrong-type", "bad-literal", "no-folder", "no-value"],
)
def test_train_bad_input(cli, config_file, tmp_path, args, fragments):
    out = tmp_path / "run"
    rc, _, err = cli("train", config_file, "--out", out, *args)
    assert_user_error(rc, err, *fragments)
    assert not out.exists()


def test_train_missing_config_file(cli, tmp_path):
    rc, _, err = cli("train", tmp_path / "nope.yaml", "--out", tmp_path / "run")
    assert_user_error(rc, err, f"'{tmp_path / 'nope.yaml'}' does not exist")
    assert not (tmp_path / "run").exists()


def test_train_empty_dataset_folder(cli, config_file, tmp_path):
    (tmp_path / "empty").mkdir()
    sets = ["--set", "data.name=folder", "--set", f"data.path={tmp_path / 'empty'}"]
    rc, _, err = cli("train", config_file, "--out", tmp_path / "run", *sets)
    assert_user_error(rc, err, "no images found")
    assert not (tmp_path / "run").exists()


def test_error_message_is_printed_verbatim_even_with_brackets(cli, tmp_path):
    """Messages quote user paths; rich must not read ``[/x]`` in them as markup (or crash on it)."""
    weird = tmp_path / "[/x]" / "[bold]cfg.yaml"
    rc, _, err = cli("train", weird, "--out", tmp_path / "run")
    assert_user_error(rc, err, f"'{weird}' does not exist")


def test_long_error_message_stays_on_one_line(cli, tmp_path):
    deep = tmp_path.joinpath(*["a_rather_long_folder_name"] * 6, "config.yaml")
    rc, _, err = cli("train", deep)
    assert_user_error(rc, err, str(deep))


# ------------------------------------------------------------------------------------------ run dir


def test_train_refuses_an_out_dir_holding_another_run(cli, config_file, tiny_run_copy):
    before = snapshot(tiny_run_copy)
    rc, _, err = cli("train", config_file, "--out", tiny_run_copy, "--set", "train.seed=1")
    assert_user_error(rc, err, "already holds a run", "--resume", "--force")
    assert snapshot(tiny_run_copy) == before


def test_force_replaces_the_run(cli, config_file, tiny_run_copy):
    rc, _, err = cli("train", config_file, "--out", tiny_run_copy, "--force", "--set", "train.steps=3")
    assert rc == 0, err
    assert yaml.safe_load((tiny_run_copy / "config.yaml").read_text())["train"]["steps"] == 3
    assert sorted(p.name for p in (tiny_run_copy / "checkpoints").glob("*.safetensors")) == [
        "step_000003.safetensors"
    ]
    steps = [yaml.safe_load(line)["step"] for line in (tiny_run_copy / "logs" / "metrics.jsonl").open()]
    assert steps == [3]


def test_resume_with_a_different_model_names_the_key(cli, config_file, tiny_run_copy):
    before = snapshot(tiny_run_copy)
    rc, _, err = cli("train", config_file, "--out", tiny_run_copy, "--resume", "--set", "model.name=mlp")
    assert_user_error(rc, err, "different config (model.name)")
    assert snapshot(tiny_run_copy) == before


def test_resume_continues_to_more_steps(cli, config_file, tiny_run_copy):
    rc, _, err = cli("train", config_file, "--out", tiny_run_copy, "--resume", "--set", "train.steps=25")
    assert rc == 0, err
    assert (tiny_run_copy / "checkpoints" / "latest").read_text().strip() == "step_000025"
    steps = [yaml.safe_load(line)["step"] for line in (tiny_run_copy / "logs" / "metrics.jsonl").open()]
    assert steps == [5, 10, 15, 20, 25]


def test_resume_and_force_are_exclusive(cli, config_file, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli("train", config_file, "--out", tmp_path / "run", "--resume", "--force")
    assert exit_info.value.code == 2


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbled-header":
        path.write_bytes(b"\xff" * 8 + data[8:])
    else:
        path.write_bytes(b"")


@pytest.mark.parametrize("how", ["truncated", "garbled-header", "empty"])
def test_corrupt_checkpoint_is_a_clear_error_for_sample_and_resume(cli, config_file, tiny_run_copy, how):
    """With every checkpoint damaged (with one still whole, they fall back to it:
    tests/training/test_damaged_checkpoints.py)."""
    for ckpt in (tiny_run_copy / "checkpoints").glob("step_*.safetensors"):
        damage(ckpt, how)
    before = snapshot(tiny_run_copy)

    rc, _, err = cli("sample", tiny_run_copy, "-n", 4, "-o", tiny_run_copy.parent / "s.npz")
    assert_user_error(rc, err, "step_000020.safetensors' is corrupt or unreadable")
    assert not (tiny_run_copy.parent / "s.npz").exists()

    rc, _, err = cli("train", config_file, "--out", tiny_run_copy, "--resume")
    assert_user_error(rc, err, "step_000020.safetensors' is corrupt or unreadable")
    assert snapshot(tiny_run_copy) == before


def test_failed_resume_does_not_rewrite_config(cli, config_file, tiny_run_copy):
    for ckpt in (tiny_run_copy / "checkpoints").glob("step_*.safetensors"):
        damage(ckpt, "truncated")
    before = snapshot(tiny_run_copy)
    rc, _, err = cli("train", config_file, "--out", tiny_run_copy, "--resume", "--set", "train.steps=40")
    assert_user_error(rc, err, "corrupt")
    assert snapshot(tiny_run_copy) == before


# ------------------------------------------------------------------------------------------ sample


def test_sample_png_grid_of_images(cli, tiny_image_run, tmp_path):
    out = tmp_path / "grid.png"
    rc, _, err = cli("sample", tiny_image_run.path, "-n", 64, "-o", out, "--seed", 1)
    assert rc == 0, err
    assert f"wrote 64 samples to {out}" in err
    with Image.open(out) as image:
        assert image.format == "PNG"
        width, height = image.size
    # an 8x8 grid of 32x32 images (plus padding, maybe upscaled): at least 256 px a side, square
    assert 256 <= width <= 2048 and width == height


def test_sample_png_scatter_of_vectors(cli, tiny_run, tmp_path):
    out = tmp_path / "scatter.png"
    rc, _, err = cli("sample", tiny_run.path, "-n", 64, "-o", out)
    assert rc == 0, err
    with Image.open(out) as image:
        assert image.format == "PNG" and min(image.size) >= 128


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def test_sample_npz_of_images(cli, tiny_image_run, tmp_path):
    rc, _, err = cli("sample", tiny_image_run.path, "-n", 12, "-o", tmp_path / "a.npz", "--seed", 5)
    assert rc == 0, err
    arrays = read_npz(tmp_path / "a.npz")
    x = arrays["x"]
    assert "y" not in arrays  # digits have labels, but the unconditional DCGAN ignores them
    assert x.shape == (12, 1, 32, 32) and x.dtype == np.float32
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0

    rc, _, _ = cli("sample", tiny_image_run.path, "-n", 12, "-o", tmp_path / "b.npz", "--seed", 5)
    rc2, _, _ = cli("sample", tiny_image_run.path, "-n", 12, "-o", tmp_path / "c.npz", "--seed", 6)
    assert rc == rc2 == 0
    np.testing.assert_array_equal(read_npz(tmp_path / "b.npz")["x"], x)
    assert not np.array_equal(read_npz(tmp_path / "c.npz")["x"], x)


def test_sample_npz_of_vectors(cli, tiny_run, tmp_path):
    rc, _, err = cli("sample", tiny_run.path, "-n", 30, "-o", tmp_path / "v.npz")
    assert rc == 0, err
    arrays = read_npz(tmp_path / "v.npz")
    assert arrays["x"].shape == (30, 2)
    assert np.isfinite(arrays["x"]).all()
    assert "y" not in arrays  # the MLP ignores labels, so no labels are claimed


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["-n", "0"], ["-n must be a positive number of samples, got 0"]),
        (["-o", "{tmp}/grid.jpg"], ["must end in .png or .npz"]),
        (["--label", "3"], ["--label 3", "unconditional (its generator ignores labels)"]),
    ],
    ids=["zero", "bad-suffix", "bad-label"],
)
def test_sample_bad_input(cli, tiny_run, tmp_path, args, fragments):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "out.png")]
    rc, _, err = cli("sample", tiny_run.path, *args)
    assert_user_error(rc, err, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_sample_from_what_is_not_a_run(cli, tmp_path):
    rc, _, err = cli("sample", tmp_path / "nope", "-o", tmp_path / "s.png")
    assert_user_error(rc, err, "does not exist")
    (tmp_path / "empty").mkdir()
    rc, _, err = cli("sample", tmp_path / "empty", "-o", tmp_path / "s.png")
    assert_user_error(rc, err, "is not a ganforge run")
    assert not (tmp_path / "s.png").exists()


def test_sample_from_a_run_without_checkpoints(cli, tiny_run_copy, tmp_path):
    shutil.rmtree(tiny_run_copy / "checkpoints")
    rc, _, err = cli("sample", tiny_run_copy, "-o", tmp_path / "s.png")
    assert_user_error(rc, err, "has no checkpoint yet")


# ------------------------------------------------------------------------------------------ list


@pytest.mark.parametrize(
    ("kind", "names"),
    [
        ("models", ["dcgan", "dcgan_tiny", "mlp", "mlp_tiny"]),
        ("losses", ["ns", "hinge", "wasserstein", "lsgan", "minimax"]),
        ("datasets", ["mnist", "digits", "faces", "toy2d", "folder", "npz"]),
        ("objectives", ["gan"]),
        ("configs", ["quickstart"]),
    ],
)
def test_list(cli, kind, names):
    rc, out, _ = cli("list", kind)
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == f"{kind}:"
    listed = {line.split()[0] for line in lines[1:]}
    assert set(names) <= listed


def test_list_everything(cli):
    rc, out, _ = cli("list")
    assert rc == 0
    headings = [line for line in out.splitlines() if not line.startswith(" ")]
    assert headings == [
        "models:",
        "losses:",
        "datasets:",
        "objectives:",
        "augments:",
        "extractors:",
        "tasks:",
        "configs:",
    ]
    tasks = out.split("tasks:")[1].split("configs:")[0]
    assert "generation" in tasks and "translation" in tasks
    assert "DCGAN (Radford et al. 2015)" in out
