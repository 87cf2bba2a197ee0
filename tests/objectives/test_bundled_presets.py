"""Every bundled preset loads and trains two steps (tiny model variants, small batches, CPU)."""

from __future__ import annotations

import math

import pytest
import torch
from objective_helpers import final_checkpoint, read_metrics

import ganforge
from ganforge.config import bundled_configs, load_config
from ganforge.registry import MODELS

# What a preset promises beyond training: keys it must log, checks on its final checkpoint.
LOGGED = {"image/wgan_gp": ("gp",), "image/r3gan_style": ("r1", "r2")}


def tiny_overrides(name: str) -> list[str]:
    cfg = load_config(name)
    overrides = [
        "train.steps=2",
        "train.device=cpu",
        "train.precision=fp32",
        "train.progress=false",
        "train.log_every=1",
        "train.ckpt_every=2",
        "train.sample_every=2",
        "train.n_samples=4",
        f"data.batch_size={min(cfg.data.batch_size, 32)}",
    ]
    tiny = f"{cfg.model.name}_tiny"
    # The tiny variant where it takes every model key the preset sets (mlp_tiny has no mixture latent).
    if tiny in MODELS and set(cfg.model.params) <= set(MODELS.get(tiny).parameters()):
        overrides.append(f"model.name={tiny}")
    if cfg.train.eval_every:  # the periodic evaluation runs too, on few samples
        overrides.append("train.eval_n=100")
    if cfg.data.name == "stacked_mnist":  # 512 stacks, not the preset's 128,000
        overrides.append("data.n=512")
    if "pretrain_steps" in cfg.objective.params:  # SRGAN: both steps in the adversarial stage
        overrides.append("objective.pretrain_steps=0")
    if cfg.data.name == "sr_patches":
        overrides.append("data.n_patches=64")
    return overrides


@pytest.mark.parametrize("name", bundled_configs())
def test_preset_trains_two_steps(name, tmp_path) -> None:
    run = ganforge.train(name, out=tmp_path / "run", overrides=tiny_overrides(name))
    lines = read_metrics(run.path)
    assert [m["step"] for m in lines] == [1, 2]
    if run.config.train.eval_every:
        assert (run.path / "checkpoints" / "best.safetensors").is_file()
    assert all(math.isfinite(m["loss_d"]) and math.isfinite(m["loss_g"]) for m in lines)
    for key in LOGGED.get(name, ()):
        assert all(math.isfinite(m[key]) and m[key] > 0 for m in lines), key
    tensors, _ = final_checkpoint(run.path)
    if run.config.objective.params.get("clip_value"):
        clip = run.config.objective.params["clip_value"]
        weights = [v for k, v in tensors.items() if k.startswith("nets.d.") and ".running_" not in k]
        d = torch.cat(
            [v.flatten() for v in weights if v.is_floating_point()]
        )  # parameters, not BN statistics
        assert d.abs().max().item() <= clip
    if run.config.model.spectral_norm in ("d", "both"):
        assert any(".parametrizations.weight.original" in k for k in tensors if k.startswith("nets.d."))


def test_image_presets_are_bundled() -> None:
    names = set(bundled_configs())
    assert {"image/wgan_clip", "image/wgan_gp", "image/sngan", "image/r3gan_style"} <= names
    assert load_config("image/sngan").model.spectral_norm == "d"
    assert load_config("image/wgan_clip").optim.d.name == "rmsprop"
