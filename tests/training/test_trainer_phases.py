"""The Trainer runs an Objective's phases as declared: repeats, ``every``, requires_grad, data use.

A spy objective (the real adversarial objective plus a log of what it saw inside each ``step``)
drives a bare Trainer, so these checks hold for any objective, not just the GAN one.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from training_helpers import make_config, read_metrics

import ganforge
from ganforge.config import OptimizerConfig, load_config
from ganforge.data import build_dataset
from ganforge.data.loader import BatchStream
from ganforge.objectives.base import Batch, Context, Phase
from ganforge.objectives.gan import AdversarialObjective, GANOptions
from ganforge.registry import MODELS
from ganforge.training.build import build_session, make_randn
from ganforge.training.trainer import Trainer
from ganforge.utils.distributed import DistInfo

CPU = torch.device("cpu")
BATCH = 16


def no_step(batch: Batch) -> dict[str, torch.Tensor]:
    """The step of a test-only phase whose body the spy objective supplies."""
    raise AssertionError("replaced by SpyObjective")


def flat(net: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).clone() for p in net.parameters()])


class SpyObjective(AdversarialObjective):
    """The GAN objective, recording each call: phase, requires_grad of both nets, batch, weights."""

    def __init__(self, *args: Any, extra_phases: tuple[Phase, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extra_phases = extra_phases
        self.calls: list[dict[str, Any]] = []

    def phases(self) -> list[Phase]:
        phases = [
            *super().phases(),
            *(dataclasses.replace(p, step=self.greg_step) for p in self.extra_phases),
        ]
        return [dataclasses.replace(p, step=self.spy(p)) for p in phases]

    def spy(self, phase: Phase) -> Callable[[Batch], dict[str, torch.Tensor]]:
        """``phase.step``, recording each call first."""

        def step(batch: Batch) -> dict[str, torch.Tensor]:
            self.calls.append(
                {
                    "phase": phase.name,
                    "g_grad": {p.requires_grad for p in self.g.parameters()},
                    "d_grad": {p.requires_grad for p in self.d.parameters()},
                    "batch": batch,
                    "g": flat(self.g),
                    "d": flat(self.d),
                }
            )
            return phase.step(batch)

        return step

    def greg_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """A stand-in lazy regulariser on G: pull its outputs toward 0."""
        return {"loss": self.g(self.ctx.randn(len(batch["x"]), self.g.z_dim)).square().mean()}


class CountingStream:
    """Wraps a batch stream and counts the batches drawn."""

    def __init__(self, inner: Iterator[Batch]) -> None:
        self.inner, self.drawn = inner, 0

    def __iter__(self) -> CountingStream:
        return self

    def __next__(self) -> Batch:
        self.drawn += 1
        return next(self.inner)


def spy_trainer(
    steps: int, n_critic: int = 1, extra_phases: tuple[Phase, ...] = (), reuse_fakes: bool = True
):
    torch.manual_seed(0)
    data = build_dataset("toy2d", kind="ring", n=512)
    nets = MODELS.build("mlp_tiny", shape=(2,))
    ctx = Context(device=CPU, randn=make_randn(CPU, DistInfo()))
    options = GANOptions(n_critic=n_critic, reuse_fakes=reuse_fakes)
    objective = SpyObjective(nets, ctx, options, extra_phases=extra_phases)
    stream = CountingStream(BatchStream(data, BATCH, seed=0))
    optim = {"g": OptimizerConfig(), "d": OptimizerConfig()}
    trainer = Trainer(objective, stream, optim, steps=steps, batch_size=BATCH, device=CPU, ema_kimg=0)
    return trainer, objective, stream


def test_n_critic_runs_the_d_phase_n_times_per_g_step():
    trainer, spy, stream = spy_trainer(steps=3, n_critic=5)
    trainer.fit()
    assert [c["phase"] for c in spy.calls] == (["D"] * 5 + ["G"]) * 3
    assert stream.drawn == 15  # one fresh real batch per critic step, none for G
    assert trainer.state.images_seen == 15 * BATCH


@pytest.mark.parametrize("n_critic", [1, 5])
def test_n_critic_from_the_config_consumes_n_critic_batches_per_step(tmp_path, n_critic):
    raw = make_config(batch_size=16, train={"steps": 10}, objective={"n_critic": n_critic})
    run = ganforge.train(raw, out=tmp_path / "run")
    last = read_metrics(run.path)[-1]
    assert last["step"] == 10
    assert last["kimg"] == pytest.approx(10 * n_critic * 16 / 1000)


def test_phase_every_skips_steps():
    lazy = Phase("Greg", trains="g", step=no_step, every=4, fresh_batch=False)
    trainer, spy, _ = spy_trainer(steps=9, extra_phases=(lazy,))
    trainer.fit()
    phases = [c["phase"] for c in spy.calls]
    assert phases.count("D") == phases.count("G") == 9
    assert phases.count("Greg") == 3  # steps 0, 4 and 8
    steps_with_greg = [phases[:i].count("G") - 1 for i, p in enumerate(phases) if p == "Greg"]
    assert steps_with_greg == [0, 4, 8]


def test_phase_start_and_stop_bound_its_stage():
    """A staged phase (SRGAN's content pre-training, then the adversarial stage) runs on
    ``start <= step < stop`` only, and ``every`` still counts from step 0."""
    warmup = Phase("Greg", trains="g", step=no_step, stop=3, fresh_batch=False)
    late = Phase("Greg_late", trains="g", step=no_step, start=5, every=2, fresh_batch=False)
    trainer, spy, _ = spy_trainer(steps=9, extra_phases=(warmup, late))
    trainer.fit()
    phases = [c["phase"] for c in spy.calls]
    step_of = [phases[:i].count("G") - 1 for i in range(len(phases))]
    assert [s for s, p in zip(step_of, phases, strict=True) if p == "Greg"] == [0, 1, 2]
    assert [s for s, p in zip(step_of, phases, strict=True) if p == "Greg_late"] == [6, 8]
    staged = Phase("x", trains="g", step=no_step, start=2, stop=4)
    assert [staged.due(s) for s in range(5)] == [False, False, True, True, False]


@pytest.mark.parametrize("reuse_fakes", [False, True])
def test_requires_grad_is_on_only_for_the_phase_network_and_its_keep_graph(reuse_fakes):
    lazy = Phase("Greg", trains="g", step=no_step, every=2, fresh_batch=False)
    trainer, spy, _ = spy_trainer(steps=4, n_critic=2, extra_phases=(lazy,), reuse_fakes=reuse_fakes)
    trainer.fit()
    for call in spy.calls:
        trains_d = call["phase"] == "D"
        assert call["d_grad"] == {trains_d}, call["phase"]
        # With reuse_fakes the D phase keeps G's graph for the G phase (Phase.keep_graph), not its update.
        assert call["g_grad"] == {not trains_d or reuse_fakes}, call["phase"]


def test_reused_fakes_leave_no_gradient_on_g_after_the_d_phase():
    trainer, spy, _ = spy_trainer(steps=1)
    d_phase = trainer.phases[0]
    trainer.run_phase(d_phase, measure=False)
    assert all(p.grad is None for p in spy.g.parameters())
    assert spy._pending_fake is not None and spy._pending_fake.requires_grad


def test_each_phase_updates_only_its_network():
    trainer, spy, _ = spy_trainer(steps=4, n_critic=2)
    trainer.fit()
    snapshots = [*spy.calls, {"phase": "end", "g": flat(spy.g), "d": flat(spy.d)}]
    for call, after in itertools.pairwise(snapshots):
        trained, frozen = ("d", "g") if call["phase"] == "D" else ("g", "d")
        assert not torch.equal(call[trained], after[trained]), f"{call['phase']} left {trained} unchanged"
        assert torch.equal(call[frozen], after[frozen]), f"{call['phase']} changed {frozen}"


def test_the_g_phase_reuses_the_last_real_batch_instead_of_drawing_one():
    trainer, spy, stream = spy_trainer(steps=5, n_critic=3)
    trainer.fit()
    for prev, call in itertools.pairwise(spy.calls):
        if call["phase"] == "G":
            assert prev["phase"] == "D" and call["batch"] is prev["batch"]
        else:
            assert call["batch"] is not prev["batch"]
    assert stream.drawn == sum(c["phase"] == "D" for c in spy.calls) == 15


def test_trainer_equals_a_hand_written_gan_loop_bit_for_bit():
    """The whole spine (build, stream, noise, phases, optimisers) reduces to the textbook loop."""
    steps, batch = 12, 32
    raw = make_config(batch_size=batch, train={"steps": steps, "ema_kimg": 0})
    session = build_session(load_config(raw), None)
    trainer = session.trainer
    g, d = copy.deepcopy(trainer.nets["g"]), copy.deepcopy(trainer.nets["d"])
    x = trainer.batches.x.clone()
    # The stream's epoch-0 order for seed 0 (it seeds each epoch with seed * 1_000_003 + epoch).
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    rng = torch.get_rng_state()
    trainer.fit()

    torch.set_rng_state(rng)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    for i in range(steps):  # the PyTorch DCGAN example's loop: one fake batch serves D and G
        real = x[perm[i * batch : (i + 1) * batch]]
        fake = g(torch.randn(batch, g.z_dim))
        loss_d = F.softplus(-d(real)).mean() + F.softplus(d(fake.detach())).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-d(fake)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    for name, ours, theirs in (("g", trainer.nets["g"], g), ("d", trainer.nets["d"], d)):
        assert torch.equal(flat(ours), flat(theirs)), f"{name} differs from the reference loop"
