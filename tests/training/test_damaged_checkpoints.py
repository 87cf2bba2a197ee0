"""A damaged newest checkpoint (truncated, or altered so that it still parses) is skipped with a
warning naming it: ``--resume``, ``load``/``sample`` fall back to the newest valid one; with none valid,
one clear error. One process at a time trains into a run dir (``RUN/.lock``)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from training_helpers import PYTHON, SUBPROCESS_ENV, assert_tensors_equal, final_checkpoint, make_config

import ganforge
from ganforge.errors import CheckpointError, RunDirError
from ganforge.rundir import RunLock

TRAIN = {"deterministic": True, "log_every": 2, "sample_every": 100, "ckpt_every": 2, "keep_last": 0}


def config() -> dict:
    return make_config("dcgan_tiny", {"name": "mnist"}, batch_size=16, train=TRAIN)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_byte(path: Path) -> None:
    """Alter one weight byte: the file still parses as safetensors; only the hash can tell."""
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [truncate, flip_a_byte], ids=["truncated", "altered"])
def test_resume_falls_back_to_the_newest_valid_checkpoint(tmp_path, damage):
    ganforge.train(config(), out=tmp_path / "a", overrides=["train.steps=6"])
    damage(tmp_path / "a" / "checkpoints" / "step_000006.safetensors")
    fallback = r"using 'step_000004.safetensors': newer checkpoints are damaged.*step_000006"
    with pytest.warns(UserWarning, match=fallback):
        ganforge.train(config(), out=tmp_path / "a", overrides=["train.steps=8"], resume=True)
    ganforge.train(config(), out=tmp_path / "b", overrides=["train.steps=8"])
    (resumed, meta_a), (whole, meta_b) = final_checkpoint(tmp_path / "a"), final_checkpoint(tmp_path / "b")
    assert meta_a["step"] == meta_b["step"] == 8 and len(meta_a["sha256"]) == 64
    assert_tensors_equal(resumed, whole)


def test_sampling_falls_back_and_names_the_damaged_file(tmp_path):
    run = ganforge.train(config(), out=tmp_path / "a", overrides=["train.steps=4"])
    flip_a_byte(run.path / "checkpoints" / "step_000004.safetensors")
    with pytest.warns(UserWarning, match="step_000004.safetensors' is damaged"):
        handle = ganforge.load(run.path)
    assert handle.sample(2, seed=0).shape == (2, 1, 32, 32)
    assert handle.checkpoint.name == "step_000002.safetensors"


def test_with_every_checkpoint_damaged_one_clear_error(tmp_path):
    run = ganforge.train(config(), out=tmp_path / "a", overrides=["train.steps=4"])
    for path in (run.path / "checkpoints").glob("step_*.safetensors"):
        truncate(path)
    with pytest.raises(CheckpointError, match=r"no readable checkpoint in .*step_000004.*step_000002"):
        ganforge.load(run.path)


def test_a_second_process_cannot_train_into_a_locked_run_dir(tmp_path):
    lock = RunLock(tmp_path / "a").acquire()
    try:
        with pytest.raises(RunDirError, match=r"being trained into by this process already"):
            ganforge.train(config(), out=tmp_path / "a", overrides=["train.steps=2"])
    finally:
        lock.release()
    ganforge.train(config(), out=tmp_path / "a", overrides=["train.steps=2"])  # free again


def test_the_lock_dies_with_a_killed_trainer(tmp_path):
    """A live CLI run holds the lock; after ``kill -9`` the kernel has dropped it, so --resume works."""
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**config(), "train": {**TRAIN, "log_every": 1}}))
    run = tmp_path / "run"
    cmd = [PYTHON, "-m", "ganforge", "train", str(path), "--out", str(run), "--set", "train.steps=100000"]
    proc = subprocess.Popen(cmd, env=SUBPROCESS_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list((run / "checkpoints").glob("step_*.json")):
            assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint from the CLI run"
            time.sleep(0.01)
        with pytest.raises(RunDirError, match=f"pid {proc.pid}"):
            ganforge.train(str(path), out=run, overrides=["train.steps=100000"], resume=True)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    resumed = ganforge.train(str(path), out=run, overrides=["train.steps=3"], resume=True)
    assert resumed.summary["step"] >= 2
