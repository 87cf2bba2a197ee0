"""One battery for every objective ganforge ships (walks the registry, as timm's model tests do).

Each case runs an objective on the tiny variant of a bundled preset (``testing.tiny_overrides``),
with overrides that switch on the state worth resuming (LeCam, history pools, mask streams, ...):
its phases are well formed, its checkpointed state survives a round trip, and a run resumed from a
checkpoint is bit-identical to the uninterrupted one (every tensor: networks, EMA, optimiser moments,
RNG states, the objective's own state such as history pools, mask streams or ADA's p).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import nn

import ganforge
from ganforge.config import load_config
from ganforge.registry import OBJECTIVES, _load_builtins
from ganforge.testing import StopAfter, final_checkpoint, read_metrics, state_digest, tiny_overrides
from ganforge.training.build import build_session

CLOCK_KEYS = ("time", "img_per_s")


@dataclass(frozen=True)
class Case:
    """An objective on the tiny variant of a bundled preset, with overrides that switch on the state
    worth resuming, and the checkpoint keys that prove that state is there."""

    preset: str
    overrides: tuple[str, ...] = ()
    state_keys: frozenset[str] = frozenset()

    @property
    def objective(self) -> str:
        return load_config(self.preset).objective.name

    def config(self, steps: int, *extra: str) -> Any:
        return load_config(self.preset, [*tiny_overrides(self.preset, steps), *self.overrides, *extra])


CASES = {
    # gan: class embeddings and conditional BN in both nets (projection cGAN) and LeCam's EMAs
    "gan-projection-lecam": Case(
        "image/mnist_conditional",
        ("objective.lecam_lambda=0.1",),
        frozenset({"objective.lecam.ema_real", "nets.g.embed.weight", "ema.g.norms.0.gain.weight"}),
    ),
    # acgan: LeCam's EMAs live in the composed gan objective; the class head in D
    "acgan-lecam": Case(
        "image/mnist_acgan",
        ("objective.lecam_lambda=0.1",),
        frozenset({"objective.lecam.ema_real", "nets.d.classify.weight"}),
    ),
    # stylegan2: resumed between path-length steps (0, 4), which need the running mean
    "stylegan2": Case("image/mnist_stylegan2", (), frozenset({"objective.pl_mean"})),
    "pix2pix": Case("i2i/edges2digits"),
    # cyclegan: a history pool that fills (5 images, batch 4) and swaps after the resume
    "cyclegan-pool": Case(
        "i2i/thin2thick",
        ("objective.pool_size=5", "data.batch_size=4"),
        frozenset({"objective.pool_a.images", "objective.pool_b.images", "objective.pool_a.rng"}),
    ),
    "attr_edit": Case("i2i/thickness_edit", (), frozenset({"objective.rng"})),
    # inpaint: masks and the warp draw from one checkpointed stream; G has a class head
    "inpaint-warp-class": Case("restore/inpaint_digits", (), frozenset({"objective.mask_rng"})),
    "srgan": Case("restore/sr4x_digits"),
    # ctgan: training-by-sampling draws its own batches; its stream state is checkpointed
    "ctgan": Case("tabular/ctgan"),
    "gain": Case("tabular/gain"),
    "ganomaly": Case("anomaly/mnist_ganomaly"),
    # fanogan: stage 1 (WGAN-GP) for 3 steps, then the encoder; the resume at 3 crosses the boundary
    "fanogan-stages": Case("anomaly/mnist_fanogan", ("objective.gan_steps=3",)),
    # text_gan: the matching-aware D's text mapping and G's null prompt are checkpointed like any weight
    "text_gan": Case(
        "text/captioned_digits", (), frozenset({"nets.d.mapping.null", "ema.g.mapping.net.0.weight"})
    ),
}


def shipped_objectives() -> list[str]:
    _load_builtins()
    return [e.name for e in OBJECTIVES.entries() if e.builder.__module__.startswith("ganforge.")]


def test_every_shipped_objective_is_in_the_battery() -> None:
    missing = set(shipped_objectives()) - {case.objective for case in CASES.values()}
    assert not missing, f"objectives without a battery case: {sorted(missing)}"


@pytest.mark.parametrize("case", CASES)
def test_phases_are_well_formed(case: str) -> None:
    obj = build_session(CASES[case].config(2), None).trainer.objective
    nets = obj.networks()
    assert nets and all(isinstance(net, nn.Module) for net in nets.values())
    phases = obj.phases()
    assert phases and len({p.name for p in phases}) == len(phases)
    for phase in phases:
        assert callable(phase.step), phase.name
        assert phase.trains in nets and set(phase.keep_graph) <= set(nets), phase.name
        assert phase.every >= 1 and phase.repeats >= 1, phase.name


@pytest.mark.parametrize("case", CASES)
def test_state_round_trips(case: str) -> None:
    trained = build_session(CASES[case].config(2), None).trainer
    trained.fit()
    state = trained.objective.state_dict()
    fresh = build_session(CASES[case].config(2), None).trainer.objective
    fresh.load_state_dict({k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in state.items()})
    again = fresh.state_dict()
    assert set(again) == set(state)
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(again[key].cpu(), value.cpu()), key
        else:
            assert again[key] == value, key


@pytest.mark.parametrize("case", CASES)
def test_resume_is_bit_identical(case: str, tmp_path) -> None:
    """Six steps of the preset's tiny variant, interrupted after three and resumed, equal six in a row
    (the same config both times: schedules that depend on train.steps stay the same)."""
    extra = ("train.deterministic=true", "train.ckpt_every=3", "train.sample_every=2", "train.ema_kimg=1")
    cfg = CASES[case].config(6, *extra)
    build_session(cfg, tmp_path / "a", extra_callbacks=(lambda c, d, data: StopAfter(3),)).trainer.fit()
    assert final_checkpoint(tmp_path / "a")[1]["step"] == 3
    ganforge.train(cfg, out=tmp_path / "a", resume=True)
    ganforge.train(cfg, out=tmp_path / "b")
    (ta, ma), (tb, mb) = final_checkpoint(tmp_path / "a"), final_checkpoint(tmp_path / "b")
    assert ma["step"] == mb["step"] == 6 and ma.get("data") == mb.get("data")
    assert any(k.startswith("optim.") for k in ta) and any(k.startswith("ema.g.") for k in ta)
    assert CASES[case].state_keys <= set(ta) and set(ta) == set(tb)
    assert state_digest(ta, ma) == state_digest(tb, mb)
    logs = [
        [{k: v for k, v in m.items() if k not in CLOCK_KEYS} for m in read_metrics(tmp_path / r)]
        for r in "ab"
    ]
    assert logs[0] == logs[1]
