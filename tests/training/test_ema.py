"""The generator EMA: a half-life in images, tracking the live weights, used for sampling and loading."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from training_helpers import final_checkpoint, make_config

import ganforge
from ganforge.config import load_config
from ganforge.training.build import build_session
from ganforge.training.ema import EMA


def flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).clone() for p in module.parameters()])


def test_beta_is_a_half_life_in_images_shortened_by_the_rampup():
    ema = EMA(nn.Linear(2, 2), half_life_kimg=1.0, rampup=None)
    # after half_life images (10 batches of 100), the old weights keep exactly half their weight
    assert ema.beta(batch_size=100, images_seen=10**6) ** 10 == pytest.approx(0.5)
    assert ema.beta(batch_size=50, images_seen=10**6) ** 20 == pytest.approx(0.5)  # batch-size free
    ramped = EMA(nn.Linear(2, 2), half_life_kimg=1.0, rampup=0.05)
    assert ramped.beta(100, images_seen=4000) ** 2 == pytest.approx(0.5)  # half-life 0.05 * 4000 = 200
    assert ramped.beta(100, images_seen=10**6) == pytest.approx(ema.beta(100, 10**6))


def test_ema_differs_from_but_tracks_the_live_generator():
    raw = make_config(batch_size=64, train={"steps": 100, "ema_kimg": 1.0})
    trainer = build_session(load_config(raw), None).trainer
    initial = flat(trainer.nets["g"])
    assert torch.equal(flat(trainer.ema["g"].model), initial)
    trainer.fit()
    live, ema = flat(trainer.nets["g"]), flat(trainer.ema["g"].model)
    assert not torch.equal(ema, live)
    assert (ema - live).norm() < 0.5 * (initial - live).norm()
    assert trainer.sampling_generator is trainer.ema["g"].model
    assert not any(p.requires_grad for p in trainer.ema["g"].model.parameters())


def test_load_samples_from_the_ema_weights_and_no_ema_means_none(tmp_path):
    raw = make_config(batch_size=32, train={"steps": 30, "ema_kimg": 0.5})
    run = ganforge.train(raw, out=tmp_path / "ema")
    tensors, _ = final_checkpoint(run.path)

    def weights(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}

    with_ema, without = ganforge.load(run.path, ema=True), ganforge.load(run.path, ema=False)
    for handle, prefix in ((with_ema, "ema.g"), (without, "nets.g")):
        state = handle.generator.state_dict()
        assert state.keys() == weights(prefix).keys()
        assert all(torch.equal(state[k], v) for k, v in weights(prefix).items()), prefix
    assert not torch.equal(with_ema.sample(8, seed=0), without.sample(8, seed=0))

    raw_no_ema = make_config(batch_size=32, train={"steps": 30, "ema_kimg": 0})
    run = ganforge.train(raw_no_ema, out=tmp_path / "no_ema")
    tensors, _ = final_checkpoint(run.path)
    assert not any(k.startswith("ema.") for k in tensors)
    fallback = ganforge.load(run.path, ema=True).generator.state_dict()
    assert all(torch.equal(fallback[k], v) for k, v in weights("nets.g").items())
