"""DiffAugment/ADA wired into the ``gan`` objective from the config: used, logged, checkpointed."""

from __future__ import annotations

import math

import pytest
import torch
from objective_helpers import MNIST, final_checkpoint, read_metrics, run_config

import ganforge
from ganforge.errors import ConfigError


def test_ada_p_is_logged_and_saved_in_the_checkpoint_and_resumes_exactly(tmp_path):
    objective = {"augment": "ada", "ada_kimg": 0.05, "ada_interval": 1, "ada_target": 0.01}
    cfg = run_config("dcgan_tiny", MNIST, objective, steps=6, deterministic=True)
    ganforge.train(cfg, out=tmp_path / "a", overrides=["train.steps=3"])
    ganforge.train(cfg, out=tmp_path / "a", resume=True)
    ganforge.train(cfg, out=tmp_path / "b")
    tensors_a, meta_a = final_checkpoint(tmp_path / "a")
    tensors_b, meta_b = final_checkpoint(tmp_path / "b")
    assert meta_a["objective"] == meta_b["objective"]
    p = meta_b["objective"]["augment.p"]
    # Target ~0 with a D that scores reals above 0 early on: p must have risen from 0.
    assert 0 < p < 1
    assert [m["aug_p"] for m in read_metrics(tmp_path / "b")][-1] == pytest.approx(p, abs=1e-6)
    for key in tensors_b:
        assert torch.equal(tensors_a[key], tensors_b[key]), key


def test_diffaug_trains_and_changes_what_d_sees(tmp_path):
    plain = read_metrics(ganforge.train(run_config("dcgan_tiny", MNIST, steps=2), out=tmp_path / "p").path)
    cfg = run_config("dcgan_tiny", MNIST, {"augment": "diffaug"}, steps=2)
    augmented = read_metrics(ganforge.train(cfg, out=tmp_path / "d").path)
    assert all(math.isfinite(m["loss_d"]) for m in augmented)
    assert augmented[0]["d_real"] != plain[0]["d_real"]  # same seed and weights: only the inputs differ


def test_augmenting_vector_data_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="augment"):
        ganforge.train(run_config(objective={"augment": "diffaug"}, steps=1), out=tmp_path / "v")
