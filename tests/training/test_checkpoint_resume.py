"""Checkpoints and resume: a resumed run is the uninterrupted run, bit for bit.

Every tensor of the final checkpoint is compared with ``torch.equal``: both networks, the EMA
generator (with BatchNorm buffers for DCGAN), both optimisers' moments and the RNG states. The
metrics log of a resumed run must also read like the uninterrupted one: same steps, no duplicates,
same values.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from training_helpers import (
    PYTHON,
    SUBPROCESS_ENV,
    assert_tensors_equal,
    final_checkpoint,
    make_config,
    read_metrics,
)

import ganforge
from ganforge.training.checkpoint import load_checkpoint

TOY = {"name": "toy2d", "kind": "ring", "n": 4096}
MNIST = {"name": "mnist"}
# What a log line may legitimately differ in between two runs: wall-clock quantities.
CLOCK_KEYS = ("time", "img_per_s")


def comparable(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k not in CLOCK_KEYS} for m in lines]


def assert_same_run(resumed: Path, whole: Path) -> None:
    tensors_a, meta_a = final_checkpoint(resumed)
    tensors_b, meta_b = final_checkpoint(whole)
    assert any(k.startswith("optim.") for k in tensors_a)
    assert_tensors_equal(tensors_a, tensors_b)
    for key in ("step", "images_seen", "data", "rng", "optim"):
        assert meta_a[key] == meta_b[key], key
    steps = [m["step"] for m in read_metrics(resumed)]
    assert len(steps) == len(set(steps)), f"duplicate log lines after resume: {steps}"
    assert comparable(read_metrics(resumed)) == comparable(read_metrics(whole))


@pytest.mark.parametrize(
    ("model", "data", "extra"),
    [
        pytest.param("mlp_tiny", TOY, {}, id="mlp_tiny-toy2d"),
        pytest.param("dcgan_tiny", MNIST, {}, id="dcgan_tiny-mnist-ema"),
        # No EMA: the sample grids come from the live G, whose BatchNorm must not notice them.
        pytest.param("dcgan_tiny", MNIST, {"ema_kimg": 0}, id="dcgan_tiny-mnist-no-ema"),
    ],
)
def test_in_process_resume_equals_uninterrupted_run_bit_for_bit(tmp_path, model, data, extra):
    n = 6
    raw = make_config(
        model,
        data,
        batch_size=16,
        # Run a also samples and checkpoints at its end (step 6), run b does not: neither may
        # perturb training (sampling must not update BatchNorm statistics or draw from the RNG).
        train={"deterministic": True, "log_every": 2, "sample_every": 4, "ckpt_every": 4, **extra},
    )
    ganforge.train(raw, out=tmp_path / "a", overrides=[f"train.steps={n}"])
    assert final_checkpoint(tmp_path / "a")[1]["step"] == n
    ganforge.train(raw, out=tmp_path / "a", overrides=[f"train.steps={2 * n}"], resume=True)
    ganforge.train(raw, out=tmp_path / "b", overrides=[f"train.steps={2 * n}"])
    assert final_checkpoint(tmp_path / "a")[1]["step"] == 2 * n
    if extra.get("ema_kimg") == 0:
        assert not any(k.startswith("ema.") for k in final_checkpoint(tmp_path / "a")[0])
    assert_same_run(tmp_path / "a", tmp_path / "b")


def cli_train(config: Path, out: Path, steps: int, *extra: str) -> list[str]:
    return [PYTHON, "-m", "ganforge", "train", str(config), "--out", str(out),
            "--set", f"train.steps={steps}", *extra]  # fmt: skip


def test_resume_after_sigkill_equals_uninterrupted_run_bit_for_bit(tmp_path):
    n = 30  # about 0.4 s of training between checkpoints: ample time to kill between them
    raw = make_config(
        "dcgan_tiny",
        MNIST,
        batch_size=16,
        train={"deterministic": True, "log_every": 5, "sample_every": 10, "ckpt_every": n, "keep_last": 0},
    )
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(raw))
    killed, whole = tmp_path / "killed", tmp_path / "whole"

    proc = subprocess.Popen(cli_train(config, killed, 4 * n), env=SUBPROCESS_ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    latest = killed / "checkpoints" / "latest"
    deadline = time.monotonic() + 120
    try:
        while not (latest.is_file() and latest.read_text().strip() == f"step_{n:06d}"):
            assert proc.poll() is None, f"training exited early: {proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, "no checkpoint after 120 s"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "checkpoints" / f"step_{2 * n:06d}.safetensors").exists(), "killed too late"
    # A crash mid-write leaves a temporary file behind; resuming must neither load nor keep it.
    (killed / "checkpoints" / f".step_{2 * n:06d}.safetensors.x1y2z3.tmp").write_bytes(b"half a file")

    resume = subprocess.run(cli_train(config, killed, 2 * n, "--resume"), env=SUBPROCESS_ENV,
                            capture_output=True, text=True)  # fmt: skip
    assert resume.returncode == 0, resume.stderr
    # In-process, on one thread like the subprocesses: the same arithmetic, one interpreter start less.
    ganforge.train(raw, out=whole, overrides=[f"train.steps={2 * n}"])

    assert_same_run(killed, whole)
    assert not list(killed.rglob("*.tmp")), "temporary files left in the run dir"
    assert (killed / "checkpoints" / "latest").read_text().strip() == f"step_{2 * n:06d}"


def test_checkpoints_keep_last_k_point_latest_and_leave_no_temporary_files(tmp_path):
    raw = make_config(batch_size=16, train={"steps": 10, "ckpt_every": 2, "keep_last": 2})
    run = ganforge.train(raw, out=tmp_path / "run")
    ckpt_dir = run.path / "checkpoints"
    assert sorted(p.name for p in ckpt_dir.iterdir()) == [
        "latest",
        "step_000008.json",
        "step_000008.safetensors",
        "step_000010.json",
        "step_000010.safetensors",
    ]
    assert (ckpt_dir / "latest").read_text().strip() == "step_000010"
    tensors, meta = load_checkpoint(ckpt_dir / "step_000010.safetensors")
    assert meta["step"] == 10 and meta["images_seen"] == 10 * 16
    assert {k.split(".")[0] for k in tensors} == {"nets", "ema", "optim", "rng"}
    hidden = [p.name for p in run.path.rglob(".*")]
    assert not list(run.path.rglob("*.tmp")) and hidden == [
        ".lock"
    ]  # the run-dir lock stays (rundir.RunLock)
    # atomic writes go through a private temporary file, but the result has a plain file's mode
    plain = tmp_path / "plain"
    plain.write_text("")
    for path in (ckpt_dir / "latest", ckpt_dir / "step_000010.safetensors", run.path / "config.yaml"):
        assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode), path.name


def test_resume_starts_from_the_checkpoint_latest_names(tmp_path):
    raw = make_config(
        batch_size=16, train={"steps": 10, "ckpt_every": 2, "keep_last": 0, "deterministic": True}
    )
    run = ganforge.train(raw, out=tmp_path / "run")
    ckpt_dir = run.path / "checkpoints"
    original, _ = load_checkpoint(ckpt_dir / "step_000010.safetensors")
    (ckpt_dir / "latest").write_text("step_000006\n")  # as if the run had died after step 6
    (ckpt_dir / "step_000010.safetensors").unlink()
    ganforge.train(raw, out=run.path, resume=True)
    assert (ckpt_dir / "latest").read_text().strip() == "step_000010"
    assert_tensors_equal(load_checkpoint(ckpt_dir / "step_000010.safetensors")[0], original)
    steps = [m["step"] for m in read_metrics(run.path)]
    assert steps == [5, 10]


def test_every_checkpoint_records_the_versions(tiny_run):
    _, meta = final_checkpoint(tiny_run.path)
    assert meta["versions"] == {"ganforge": ganforge.__version__, "torch": torch.__version__}
