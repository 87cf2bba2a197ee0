"""Evaluation during training (``train.eval_every``): the log, the best checkpoint, resume, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ganforge
from ganforge.errors import ConfigError, EvalError
from ganforge.evaluation import evaluate
from ganforge.testing import tiny_config


def config(steps: int = 40, **train: Any) -> dict[str, Any]:
    """A toy2d ring run evaluated every 10 steps. Its train section is its own, not quick_train's:
    these tests were written against the Trainer's defaults for the device (auto), the sample grid
    and the checkpoint interval, and they keep them."""
    raw = tiny_config(
        "mlp_tiny",
        data={"name": "toy2d", "kind": "ring", "batch_size": 64},
        optim={"g": {"lr": 2e-3}, "d": {"lr": 2e-3}},
    )
    return {**raw, "train": {"steps": steps, "eval_every": 10, "progress": False, "log_every": 10, **train}}


def evals(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "logs" / "evals.jsonl").read_text().splitlines()]


def test_every_eval_step_is_logged_and_the_best_one_is_kept(tmp_path):
    run = ganforge.train(config(ckpt_every=20), out=tmp_path / "run")
    lines = evals(run.path)
    assert [m["step"] for m in lines] == [10, 20, 30, 40]
    assert all({"modes_covered", "hq_fraction", "reverse_kl", "n", "best"} <= set(m) for m in lines)
    assert lines[0]["best"] and all(m["n"] == 2500 for m in lines)
    best_step = max((m for m in lines if m["best"]), key=lambda m: m["step"])["step"]
    best = run.summary["best"]
    assert best["metric"] == "modes" and best["step"] == best_step
    assert best["value"] == max(m["modes_covered"] for m in lines)
    # The best checkpoint is a full one: loading it and evaluating reproduces the logged value.
    ckpt = run.path / "checkpoints" / "best.safetensors"
    assert json.loads(ckpt.with_suffix(".json").read_text())["step"] == best_step
    handle = ganforge.load(run.path, checkpoint=ckpt)
    assert handle.sample(8).shape == (8, 2)
    final = evaluate(run.path, "modes", write=False).values
    assert final["modes_covered"] == lines[-1]["modes_covered"]  # same protocol as ganforge eval


def test_periodic_eval_does_not_change_training(tmp_path):
    with_eval = ganforge.train(config(deterministic=True), out=tmp_path / "a")
    plain = ganforge.train(config(deterministic=True, eval_every=0), out=tmp_path / "b")
    strip = ("time", "img_per_s")
    a = [{k: v for k, v in m.items() if k not in strip} for m in with_eval.metrics()]
    b = [{k: v for k, v in m.items() if k not in strip} for m in plain.metrics()]
    assert a == b
    assert not (plain.path / "logs" / "evals.jsonl").exists()


def test_resume_keeps_the_best_so_far_and_drops_stale_eval_lines(tmp_path):
    out = tmp_path / "run"
    ganforge.train(config(steps=20, ckpt_every=20), out=out)
    first_best = json.loads((out / "summary.json").read_text())["best"]
    ganforge.train(config(steps=40, ckpt_every=20), out=out, resume=True)
    lines = evals(out)
    assert [m["step"] for m in lines] == [10, 20, 30, 40]
    best = json.loads((out / "summary.json").read_text())["best"]
    assert best["value"] >= first_best["value"]
    if not any(m["best"] for m in lines[2:]):  # nothing better after the resume: the old best stands
        assert best == first_best


@pytest.mark.parametrize(
    ("train", "error", "message"),
    [
        ({"eval_metrics": "fdi"}, ConfigError, "did you mean 'fid'"),
        ({"eval_metrics": "fid"}, EvalError, "use --metrics modes instead"),
        ({"eval_every": -1}, ConfigError, "eval_every must be >= 0"),
    ],
)
def test_bad_eval_settings_fail_before_training(tmp_path, train, error, message):
    with pytest.raises(error, match=message):
        ganforge.train(config(**train), out=tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_metrics_with_the_same_keys_are_refused_together(tiny_run):
    with pytest.raises(ConfigError, match="both report 'modes_covered'"):
        evaluate(tiny_run.path, "modes,stacked_modes", write=False)


def test_the_headline_decides_the_best_checkpoint():
    from ganforge.evaluation import get_metric, register_metric

    stacked = get_metric("stacked_modes")
    assert stacked.headline == "kl" and not stacked.higher_is_better  # all 1,000 modes saturate
    assert get_metric("fid").headline == "fid" and not get_metric("fid").higher_is_better
    assert get_metric("modes").headline == "modes_covered" and get_metric("modes").higher_is_better
    with pytest.raises(ValueError, match="headline 'kl' is not one of its keys"):
        register_metric("bad_headline", keys=("x",), headline="kl")(lambda ctx: {"x": 0.0})


def test_evaluating_in_an_extractor_does_not_change_image_training(tmp_path):
    """Building mnist-cnn draws from the global RNG that training's noise comes from: the
    evaluation must not shift it (a DCGAN on MNIST trains identically with and without it)."""

    def raw(eval_every: int) -> dict[str, Any]:
        return {
            "model": {"name": "dcgan_tiny"},
            "data": {"name": "mnist", "batch_size": 16},
            "train": {"steps": 6, "eval_every": eval_every, "eval_n": 50, "log_every": 2,
                      "progress": False, "deterministic": True},
        }  # fmt: skip

    with_eval = ganforge.train(raw(3), out=tmp_path / "a")
    plain = ganforge.train(raw(0), out=tmp_path / "b")
    assert len(evals(with_eval.path)) == 2 and "fid" in evals(with_eval.path)[0]
    strip = ("time", "img_per_s")
    a = [{k: v for k, v in m.items() if k not in strip} for m in with_eval.metrics()]
    b = [{k: v for k, v in m.items() if k not in strip} for m in plain.metrics()]
    assert a == b
