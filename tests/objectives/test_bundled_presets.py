"""Every bundled preset loads and trains two steps (tiny model variants, small batches, CPU)."""

from __future__ import annotations

import math

import pytest
import torch

import ganforge
from ganforge.config import bundled_configs, load_config
from ganforge.testing import final_checkpoint, read_metrics, tiny_overrides

# What a preset promises beyond training: keys it must log, checks on its final checkpoint.
LOGGED = {"image/wgan_gp": ("gp",), "image/r3gan_style": ("r1", "r2")}


# Presets whose tiny run is slow on a CPU: folder_1024 trains StyleGAN2 at 1024 px (~30 s for 2 steps).
SLOW = {"image/folder_1024"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in bundled_configs()]
)
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
