"""Preemption: SIGTERM, SIGINT and SIGUSR1 end training after the current step with that step
checkpointed and summary.json written; ``ganforge train`` exits with 128 + the signal's number and
``--resume`` continues bit for bit. Real signals throughout (to this process, or to a CLI child)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from training_helpers import PYTHON, SUBPROCESS_ENV, assert_tensors_equal, final_checkpoint, make_config

import ganforge
from ganforge.training.interrupt import TrainingInterrupted

MNIST = {"name": "mnist"}
TRAIN = {"deterministic": True, "log_every": 2, "sample_every": 100, "ckpt_every": 100, "keep_last": 0}


class SignalAt(ganforge.Callback):
    """Sends ``signums`` to this very process at the end of step ``step``."""

    def __init__(self, step: int, *signums: int) -> None:
        self.step, self.signums = step, signums

    def on_step_end(self, trainer) -> None:
        if trainer.state.step == self.step:
            for signum in self.signums:
                os.kill(os.getpid(), signum)


def checkpoints(run: Path) -> list[str]:
    return sorted(p.stem for p in (run / "checkpoints").glob("step_*.safetensors"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGUSR1])
def test_a_signal_saves_the_step_it_came_in_and_resume_loses_nothing(tmp_path, signum):
    raw = make_config("dcgan_tiny", MNIST, batch_size=16, train=TRAIN)
    with pytest.raises(TrainingInterrupted) as stop:
        ganforge.train(raw, out=tmp_path / "a", overrides=["train.steps=10"], callbacks=[SignalAt(3, signum)])
    assert stop.value.step == 3 and stop.value.exit_status == 128 + signum
    assert checkpoints(tmp_path / "a") == ["step_000003"]  # ckpt_every 100: only the signal's save
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["step"] == 3 and summary["interrupted"] == signal.Signals(signum).name
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are put back

    ganforge.train(raw, out=tmp_path / "a", overrides=["train.steps=10"], resume=True)
    ganforge.train(raw, out=tmp_path / "b", overrides=["train.steps=10"])
    (resumed, meta_a), (whole, meta_b) = final_checkpoint(tmp_path / "a"), final_checkpoint(tmp_path / "b")
    assert meta_a["step"] == meta_b["step"] == 10
    assert_tensors_equal(resumed, whole)


def test_a_second_ctrl_c_stops_at_once_without_a_checkpoint(tmp_path):
    raw = make_config("dcgan_tiny", MNIST, batch_size=16, train=TRAIN)
    with pytest.raises(KeyboardInterrupt) as stop:
        callbacks = [SignalAt(3, signal.SIGINT, signal.SIGINT)]
        ganforge.train(raw, out=tmp_path / "a", overrides=["train.steps=10"], callbacks=callbacks)
    assert not isinstance(stop.value, TrainingInterrupted)
    assert checkpoints(tmp_path / "a") == []


def test_sigterm_to_the_cli_exits_143_after_saving(tmp_path):
    raw = make_config("dcgan_tiny", MNIST, batch_size=16, train={**TRAIN, "log_every": 1})
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(raw))
    run = tmp_path / "run"
    cmd = [PYTHON, "-m", "ganforge", "train", str(config), "--out", str(run), "--set", "train.steps=100000"]
    proc = subprocess.Popen(
        cmd, env=SUBPROCESS_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    metrics, deadline = run / "logs" / "metrics.jsonl", time.monotonic() + 120
    try:
        while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 3):
            assert proc.poll() is None, f"training exited early: {proc.stdout.read()}"
            assert time.monotonic() < deadline, "no log lines after 120 s"
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, out
    assert "SIGTERM" in out and "--resume" in out
    (saved,) = checkpoints(run)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["interrupted"] == "SIGTERM" and saved == f"step_{summary['step']:06d}"
    assert summary["step"] >= 3


class SignalGroupAt(ganforge.Callback):
    """At the end of ``step``, SIGINT to every child process (the decoding workers) and to this
    process: what Ctrl-C in a terminal does to the whole foreground process group."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer) -> None:
        if trainer.state.step == self.step:
            children = multiprocessing.active_children()
            assert children, "the streamed folder should decode in worker processes"
            for child in children:
                os.kill(child.pid, signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_to_the_whole_group_spares_the_decoding_workers(tmp_path):
    from ganforge.testing import sample_photo_folder

    data = {
        "name": "folder",
        "path": str(sample_photo_folder(16)),
        "resolution": 32,
        "cache": "none",
        "workers": 1,
    }
    raw = make_config("dcgan_tiny", data, batch_size=4, train=TRAIN)
    with pytest.raises(TrainingInterrupted) as stop:
        ganforge.train(raw, out=tmp_path / "a", overrides=["train.steps=10"], callbacks=[SignalGroupAt(3)])
    assert stop.value.step == 3 and checkpoints(tmp_path / "a") == ["step_000003"]
