"""``model.spectral_norm`` (Miyato et al. 2018): σ(W) = 1 for every wrapped layer, on the networks
chosen, through training, checkpoints, resume and loading a generator for sampling."""

from __future__ import annotations

import math

import pytest
import torch
from objective_helpers import MNIST, final_checkpoint, read_metrics, run_config
from torch import nn
from torch.nn.utils import parametrize

import ganforge
from ganforge.config import load_config
from ganforge.errors import ConfigError
from ganforge.nn.spectral import SPECTRAL_NORM_LAYERS, apply_spectral_norm
from ganforge.registry import create_model
from ganforge.training.build import build_networks

TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def top_singular_value(weight: torch.Tensor, layer: nn.Module) -> float:
    """σ₁ of the weight viewed as spectral norm views it: (out, rest); transposed convs' out is dim 1."""
    dim = 1 if isinstance(layer, TRANSPOSED) else 0
    return torch.linalg.matrix_norm(weight.detach().movedim(dim, 0).flatten(1), ord=2).item()


def wrapped_layers(net: nn.Module) -> list[bool]:
    return [
        parametrize.is_parametrized(m, "weight") for m in net.modules() if isinstance(m, SPECTRAL_NORM_LAYERS)
    ]


@pytest.mark.parametrize(("model", "shape"), [("dcgan_tiny", (1, 32, 32)), ("mlp_tiny", (2,))])
def test_every_wrapped_weight_has_unit_spectral_norm(model, shape) -> None:
    torch.manual_seed(0)
    nets = create_model(model, shape=shape)
    layers = [m for net in nets.values() for m in net.modules() if isinstance(m, SPECTRAL_NORM_LAYERS)]
    raw = [top_singular_value(m.weight, m) for m in layers]
    for net in nets.values():
        apply_spectral_norm(apply_spectral_norm(net)).train()  # a second call wraps nothing twice
    assert all(len(m.parametrizations.weight) == 1 for m in layers)
    with torch.no_grad():
        for _ in range(20):  # one power iteration per training-mode access (Alg. 1)
            for m in layers:
                m.weight  # noqa: B018
    sigmas = [top_singular_value(m.weight, m) for m in layers]
    assert sigmas == pytest.approx([1.0] * len(layers), abs=1e-2)
    assert max(abs(s - 1) for s in raw) > 0.2  # the unwrapped weights were not normalised already


@pytest.mark.parametrize("which", ["none", "d", "g", "both"])
def test_switch_wraps_exactly_the_chosen_networks(which) -> None:
    cfg = load_config(run_config("dcgan_tiny", MNIST), [f"model.spectral_norm={which}"])
    nets = build_networks(cfg, (1, 32, 32))
    for name, net in nets.items():
        flags = wrapped_layers(net)
        assert all(flags) if which in (name, "both") else not any(flags), name


def test_unknown_switch_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"'model\.spectral_norm' must be one of none, d, g, both"):
        load_config(run_config(), ["model.spectral_norm=D"])


def test_spectral_norm_run_trains_resumes_bit_exactly_and_loads(tmp_path) -> None:
    raw = run_config("dcgan_tiny", MNIST, {"loss": "hinge"}, steps=3, deterministic=True)
    raw["model"]["spectral_norm"] = "both"
    ganforge.train(raw, out=tmp_path / "a")
    early, _ = final_checkpoint(tmp_path / "a")
    ganforge.train(raw, out=tmp_path / "a", overrides=["train.steps=6"], resume=True)
    ganforge.train(raw, out=tmp_path / "b", overrides=["train.steps=6"])
    (ta, _), (tb, _) = final_checkpoint(tmp_path / "a"), final_checkpoint(tmp_path / "b")
    key = "nets.d.main.0.parametrizations.weight.original"
    assert {
        key,
        "nets.d.main.0.parametrizations.weight.0._u",
        "ema.g.main.0.parametrizations.weight.0._v",
    } <= set(ta)
    assert set(ta) == set(tb)
    differing = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not differing, differing[:5]
    assert not torch.equal(early[key], ta[key])  # D kept learning after the resume
    assert all(
        math.isfinite(m["loss_d"]) and math.isfinite(m["loss_g"]) for m in read_metrics(tmp_path / "a")
    )
    a, b = ganforge.load(tmp_path / "a").sample(4, seed=1), ganforge.load(tmp_path / "b").sample(4, seed=1)
    assert torch.equal(a, b) and torch.isfinite(a).all()
