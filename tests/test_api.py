"""The Python API: ``ganforge.train`` returns a Run, ``ganforge.load`` a generator that samples repeatably."""

from __future__ import annotations

import math

import pytest
import torch
import yaml

import ganforge
from ganforge.config import load_config
from ganforge.errors import ConfigError, RunDirError
from ganforge.rundir import read_run_config

METRIC_KEYS = {
    "step", "loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "lr_g", "lr_d", "img_per_s",
}  # fmt: skip


def test_metrics_have_one_line_per_log_step_with_every_documented_key(tiny_run):
    lines = tiny_run.metrics()
    assert [m["step"] for m in lines] == [5, 10, 15, 20]
    for line in lines:
        assert set(line) >= METRIC_KEYS, METRIC_KEYS - set(line)
        assert all(math.isfinite(line[k]) for k in METRIC_KEYS)
        assert line["lr_g"] == line["lr_d"] == pytest.approx(2e-4)
        assert line["grad_norm_d"] > 0 and line["grad_norm_g"] > 0 and line["img_per_s"] > 0
    assert tiny_run.summary["step"] == 20


def test_run_dir_follows_the_contract(tiny_run):
    run = tiny_run.path
    assert (run / "config.yaml").is_file()
    assert (run / "logs" / "metrics.jsonl").is_file()
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*")) == [
        "step_000010.json", "step_000010.safetensors", "step_000020.json", "step_000020.safetensors",
    ]  # fmt: skip
    assert (run / "checkpoints" / "latest").read_text().strip() == "step_000020"
    assert tiny_run.latest_samples == run / "samples" / "step_000020.png"


def test_resolved_config_is_saved_and_loads_back_equal(tiny_run):
    assert read_run_config(tiny_run.path) == tiny_run.config
    assert load_config(tiny_run.path / "config.yaml") == tiny_run.config
    assert tiny_run.config.train.steps == 20 and tiny_run.config.model.name == "mlp_tiny"


@pytest.mark.parametrize(
    ("model", "data", "resolution", "shape"),
    [
        ("mlp_tiny", "toy2d", None, (2,)),
        ("dcgan_tiny", "faces", 32, (1, 32, 32)),  # 25x25 faces, DCGAN supports 32/64/128
        ("dcgan_tiny", "digits", 32, (1, 32, 32)),  # 8x8 digits
    ],
)
def test_naming_only_model_and_data_trains_with_defaults(tmp_path, model, data, resolution, shape):
    path = tmp_path / "minimal.yaml"
    path.write_text(yaml.safe_dump({"model": {"name": model}, "data": {"name": data}}))
    fast = ["train.steps=2", "train.progress=false", "data.batch_size=8"]
    run = ganforge.train(path, out=tmp_path / "run", overrides=fast)
    saved = yaml.safe_load((run.path / "config.yaml").read_text())
    assert saved["data"]["resolution"] == resolution
    assert saved["train"]["precision"] == "fp32" and saved["objective"]["loss"] == "ns"
    assert read_run_config(run.path) == run.config
    x = ganforge.load(run.path).sample(3, seed=0)
    assert tuple(x.shape) == (3, *shape)
    assert torch.isfinite(x).all()
    if len(shape) == 3:
        assert x.min() >= -1 and x.max() <= 1


def test_load_samples_deterministically(tiny_run):
    gen = ganforge.load(tiny_run.path)
    a, b, c = gen.sample(32, seed=3), gen.sample(32, seed=3), gen.sample(32, seed=4)
    assert a.shape == (32, 2)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # batching is not part of the draw: the same latents whatever the batch size
    torch.testing.assert_close(gen.sample(32, seed=3, batch_size=5), a)
    # a fresh load of the same run draws the same samples
    assert torch.equal(ganforge.load(tiny_run.path).sample(32, seed=3), a)


def test_ema_and_raw_generators_differ(tiny_run):
    ema = ganforge.load(tiny_run.path).sample(8, seed=0)
    raw = ganforge.load(tiny_run.path, ema=False).sample(8, seed=0)
    assert not torch.equal(ema, raw)


def test_load_rejects_what_is_not_a_run(tmp_path):
    with pytest.raises(RunDirError, match="does not exist"):
        ganforge.load(tmp_path / "nope")
    with pytest.raises(RunDirError, match=r"no config\.yaml"):
        ganforge.load(tmp_path)


def test_train_takes_overrides_and_leaves_the_callers_dict_alone(tmp_path, tiny_config):
    before = yaml.safe_dump(tiny_config)
    run = ganforge.train(tiny_config, out=tmp_path / "run", overrides=["train.steps=3", "train.seed=5"])
    assert yaml.safe_dump(tiny_config) == before
    assert (run.config.train.steps, run.config.train.seed) == (3, 5)
    assert run.metrics()[-1]["step"] == 3


def test_train_applies_overrides_to_a_config_object(tmp_path, tiny_config):
    cfg = load_config(tiny_config)
    run = ganforge.train(cfg, out=tmp_path / "run", overrides=["train.steps=2"])
    assert run.config.train.steps == 2
    assert read_run_config(run.path).train.steps == 2
    assert cfg.train.steps == 20


def test_train_rejects_a_bad_key_before_writing_anything(tmp_path, tiny_config):
    with pytest.raises(ConfigError, match="did you mean 'steps'"):
        ganforge.train(tiny_config, out=tmp_path / "run", overrides=["train.stpes=3"])
    assert not (tmp_path / "run").exists()


def test_every_metrics_line_has_grad_norms_even_when_log_every_does_not_divide_steps(tmp_path, tiny_config):
    run = ganforge.train(tiny_config, out=tmp_path / "run", overrides=["train.steps=7"])
    lines = run.metrics()
    assert [m["step"] for m in lines] == [5, 7]
    for line in lines:
        assert set(line) >= METRIC_KEYS, METRIC_KEYS - set(line)
