"""Run length in epochs (``train.unit``) and early stopping on the periodic evaluation
(``train.patience``): generic keys of every run, not only of tables."""

from __future__ import annotations

import json
import re

import pytest

import ganforge
from ganforge.config import load_config
from ganforge.errors import ConfigError
from ganforge.rundir import read_run_config
from ganforge.testing import quick_train

TOY = {"model": {"name": "mlp_tiny"}, "data": {"name": "toy2d", "kind": "ring", "n": 640, "batch_size": 64}}


def test_epochs_resolve_to_steps_and_the_run_dir_records_steps(tmp_path):
    cfg = {**TOY, "train": quick_train(unit="epoch", steps=3, log_every=1, ckpt_every=2, sample_every=3)}
    run = ganforge.train(cfg, out=tmp_path / "run")
    recorded = read_run_config(run.path).train
    assert (recorded.unit, recorded.steps, recorded.log_every, recorded.ckpt_every) == ("step", 30, 10, 20)
    assert run.summary["step"] == 30
    lines = [json.loads(x) for x in (run.path / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [10, 20, 30]  # one log line an epoch
    again = ganforge.train(cfg, out=tmp_path / "run", resume=True)  # the same user config resumes
    assert again.summary["step"] == 30 and read_run_config(run.path) == read_run_config(again.path)
    assert len((run.path / "logs" / "metrics.jsonl").read_text().splitlines()) == 3  # nothing retrained


def test_patience_stops_a_run_that_no_longer_improves(tmp_path):
    train = quick_train(steps=400, eval_every=5, eval_n=500, patience=2, eval_metrics="modes")
    run = ganforge.train({**TOY, "train": train}, out=tmp_path / "run")
    best, stopped = run.summary["best"], run.summary["stopped_early"]
    assert "did not improve for 2 evaluations" in stopped and run.summary["step"] < 400
    assert run.summary["step"] == best["step"] + 2 * 5 + 1  # stops the step after the 2nd stale evaluation
    assert (run.path / "checkpoints" / "best.safetensors").is_file()


def test_patience_needs_evaluations():
    needs = re.escape("'train.patience' stops on evaluations: set 'train.eval_every'")
    with pytest.raises(ConfigError, match=needs):
        load_config({**TOY, "train": {"patience": 3}})
    with pytest.raises(ConfigError, match=re.escape("'train.patience' must be >= 0")):
        load_config({**TOY, "train": {"patience": -1, "eval_every": 5}})
    with pytest.raises(ConfigError, match=r"train\.unit"):
        load_config({**TOY, "train": {"unit": "epochs"}})
