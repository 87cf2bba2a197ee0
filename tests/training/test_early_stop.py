"""Stopping before ``train.steps``: a wall-clock budget, or a callback's request (early stopping).
Either way the run ends normally: a final checkpoint and a summary that says why it stopped."""

from __future__ import annotations

import json
from typing import Any

import ganforge
from ganforge.training.build import build_session
from ganforge.training.checkpoint import latest_checkpoint, load_checkpoint


def test_time_budget_ends_the_run_early_with_a_final_checkpoint(tiny_config: dict[str, Any], tmp_path):
    tiny_config["train"].update(steps=100_000, max_seconds=0.5, ckpt_every=100_000)
    run = ganforge.train(tiny_config, out=tmp_path / "run")
    step = run.summary["step"]
    assert 0 < step < 100_000
    assert "time budget" in run.summary["stopped_early"]
    ckpt = latest_checkpoint(tmp_path / "run" / "checkpoints")
    assert ckpt is not None and load_checkpoint(ckpt)[1]["step"] == step
    assert ganforge.load(tmp_path / "run").sample(4).shape == (4, 2)


class StopAt:
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer) -> None:
        if trainer.state.step == self.step:
            trainer.request_stop("validation score stopped improving")


def test_a_callback_request_makes_the_next_step_the_last(tiny_config: dict[str, Any], tmp_path):
    cfg = ganforge.config.load_config(tiny_config)
    session = build_session(cfg, tmp_path / "run")
    session.trainer.callbacks.insert(0, StopAt(7))
    session.trainer.fit()
    assert session.trainer.state.step == 8
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["step"] == 8 and summary["stopped_early"] == "validation score stopped improving"
    assert load_checkpoint(latest_checkpoint(tmp_path / "run" / "checkpoints"))[1]["step"] == 8
