"""The ``stylegan2`` objective: its phases as the paper schedules them, style mixing, path length and
lazy R1, and whole runs of ``stylegan2_tiny`` that learn, save, load and resume exactly."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from objective_helpers import cpu_context, final_checkpoint

import ganforge
from ganforge.config import load_config
from ganforge.errors import ConfigError
from ganforge.objectives.stylegan2 import StyleGAN2Objective, mix_styles
from ganforge.registry import create_model, create_objective
from ganforge.testing import intercept_phases
from ganforge.training.build import build_session

BATCH = 16


def objective(num_classes: int = 0, **params: Any) -> StyleGAN2Objective:
    torch.manual_seed(0)
    nets = create_model("stylegan2_tiny", shape=(1, 32, 32), num_classes=num_classes)
    return create_objective("stylegan2", nets, cpu_context(0), **params)


def quadrant_digits(path: Path, n: int = 512, seed: int = 0) -> Path:
    """Two classes of 32x32 images: a bright 10x10 square on the left (class 0) or right (class 1)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = np.full((n, 32, 32), -1.0, np.float32)
    for i, (dx, dy) in enumerate(rng.integers(-2, 3, (n, 2))):
        left = 4 if y[i] == 0 else 18
        x[i, 8 + dy : 18 + dy, left + dx : left + 10 + dx] = 1.0
    np.savez(path, x=x, y=y)
    return path


def run_config(data: Path, steps: int, **train: Any) -> dict[str, Any]:
    return {
        "model": {"name": "stylegan2_tiny"},
        "data": {"name": "npz", "path": str(data), "batch_size": BATCH},
        "objective": {"name": "stylegan2", "r1_gamma": 0.1},
        "optim": {"g": {"lr": 2e-3, "betas": [0.0, 0.99]}, "d": {"lr": 2e-3, "betas": [0.0, 0.99]}},
        "train": {
            "device": "cpu",
            "steps": steps,
            "progress": False,
            "log_every": 20,
            "ckpt_every": 1000,
            "sample_every": 1000,
            "n_samples": 4,
            "ema_kimg": 1,
            **train,
        },
    }


@pytest.fixture(scope="module")
def quadrants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return quadrant_digits(tmp_path_factory.mktemp("quadrants") / "quadrants.npz")


@pytest.fixture(scope="module")
def trained(quadrants: Path, tmp_path_factory: pytest.TempPathFactory) -> ganforge.Run:
    """200 steps on the two-quadrant data (~16 s on one thread). Read-only."""
    return ganforge.train(run_config(quadrants, 200), out=tmp_path_factory.mktemp("sg2") / "run")


# --- phases ---------------------------------------------------------------------------------------


def test_phases_are_gmain_greg_every_4_dmain_dreg_every_16_on_one_batch():
    phases = objective().phases()
    assert [(p.name, p.trains, p.every) for p in phases] == [
        ("Gmain", "g", 1),
        ("Greg", "g", 4),
        ("Dmain", "d", 1),
        ("Dreg", "d", 16),
    ]
    # Gmain draws the step's batch; the other phases reuse it (the paper's one batch per step).
    assert [p.fresh_batch for p in phases] == [True, False, False, False]
    assert all(p.repeats == 1 and p.keep_graph == () for p in phases)
    names = [p.name for p in objective(pl_weight=0, r1_gamma=0).phases()]
    assert names == ["Gmain", "Dmain"]
    assert [p.every for p in objective(pl_every=8, r1_every=4).phases()] == [1, 8, 1, 4]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"r1_every": 0}, "objective.r1_every"),
        ({"pl_weight": -1.0}, "objective.pl_weight"),
        ({"style_mixing": 1.5}, "objective.style_mixing"),
        ({"pl_decay": 0.0}, "objective.pl_decay"),
    ],
)
def test_bad_settings_are_config_errors(params, needle):
    with pytest.raises(ConfigError, match=needle):
        objective(**params)


def test_the_objective_needs_a_stylegan2_generator():
    nets = create_model("dcgan_tiny", shape=(1, 32, 32))
    with pytest.raises(ConfigError, match="mapping and a synthesis"):
        create_objective("stylegan2", nets, cpu_context(0))


def test_trainer_runs_each_phase_on_schedule_with_only_its_network_trainable(quadrants):
    session = build_session(load_config(run_config(quadrants, 17)), None)
    trainer, obj = session.trainer, session.trainer.objective
    calls: list[tuple[str, bool, bool]] = []

    def spy(phase: str, batch: dict[str, torch.Tensor], step: Any) -> dict[str, torch.Tensor]:
        g_grad = all(p.requires_grad for p in obj.g.parameters())
        d_grad = any(p.requires_grad for p in obj.d.parameters())
        calls.append((phase, g_grad, d_grad))
        return step(batch)

    intercept_phases(trainer, spy)
    trainer.fit()
    names = [c[0] for c in calls]
    assert {n: names.count(n) for n in set(names)} == {"Gmain": 17, "Greg": 5, "Dmain": 17, "Dreg": 2}
    assert names[:4] == ["Gmain", "Greg", "Dmain", "Dreg"]  # step 0 runs all four, in this order
    assert {(name, g, d) for name, g, d in calls} == {
        ("Gmain", True, False),
        ("Greg", True, False),
        ("Dmain", False, True),
        ("Dreg", False, True),
    }
    assert trainer.state.images_seen == 17 * BATCH  # one real batch per step, shared by the phases


# --- style mixing, path length, R1 ----------------------------------------------------------------


def test_mix_styles_switches_from_the_first_to_the_second_w_at_one_crossover():
    n, num_ws = 256, 8
    w1, w2 = torch.randn(n, 5), torch.randn(n, 5)
    u = torch.rand(n, 2, generator=torch.Generator().manual_seed(0))
    ws = mix_styles(w1, w2, num_ws, 0.9, u)
    assert ws.shape == (n, num_ws, 5)
    from_second = (ws == w2[:, None]).all(dim=2)  # (n, num_ws)
    assert torch.equal((ws == w1[:, None]).all(dim=2), ~from_second)
    cutoffs = num_ws - from_second.sum(dim=1)
    mixed = cutoffs < num_ws
    # Layers before the crossover take w1, the rest w2; a crossover of 0 would not be a mix.
    assert torch.equal(from_second, torch.arange(num_ws)[None] >= cutoffs[:, None])
    assert cutoffs[mixed].min() >= 1 and cutoffs[mixed].max() <= num_ws - 1
    assert len(set(cutoffs[mixed].tolist())) == num_ws - 1  # every crossover 1..7 occurs
    assert 0.8 < mixed.float().mean() < 0.97
    assert not mix_styles(w1, w2, num_ws, 0.0, u).eq(w2[:, None]).all(dim=2).any()


def test_training_styles_hold_two_different_ws_when_mixing():
    obj = objective(style_mixing=1.0)
    ws = obj.styles(4, None)
    assert ws.shape == (4, obj.g.num_ws, obj.g.w_dim)
    for sample in ws:
        distinct = torch.unique(sample, dim=0)
        assert len(distinct) == 2
        assert torch.equal(sample[0], distinct[0]) or torch.equal(sample[0], distinct[1])
    single = objective(style_mixing=0.0).styles(4, None)
    assert all(len(torch.unique(sample, dim=0)) == 1 for sample in single)


def test_path_length_penalty_is_positive_and_its_running_mean_moves_and_round_trips():
    obj = objective(pl_decay=0.5)
    batch = {"x": torch.zeros(BATCH, 1, 32, 32)}
    assert obj.pl_mean.item() == 0.0
    out = obj.step("Greg", batch)
    first = obj.pl_mean.item()
    assert out["pl_penalty"] > 0 and first > 0
    assert out["loss"].item() == pytest.approx(out["pl_penalty"].item() * 2.0 * 4, rel=1e-5)
    out["loss"].backward()  # the penalty reaches G's weights (double backward through synthesis)
    assert obj.g.blocks[-1].conv1.conv.weight.grad.abs().sum() > 0
    obj.step("Greg", batch)
    assert obj.pl_mean.item() != first  # a = running mean of the lengths, updated every Greg
    state = obj.state_dict()
    other = objective()
    other.load_state_dict(state)
    assert torch.equal(other.pl_mean, obj.pl_mean)


def test_lazy_r1_is_gamma_over_2_times_the_interval_on_real_images():
    obj = objective(r1_gamma=3.0, r1_every=16)
    real = torch.rand(BATCH, 1, 32, 32) * 2 - 1
    out = obj.step("Dreg", {"x": real})
    assert out["r1"] > 0
    assert out["loss"].item() == pytest.approx(out["r1"].item() * 1.5 * 16, rel=1e-5)


def test_relativistic_losses_work_too():
    obj = objective(num_classes=2, loss="rpgan")
    batch = {"x": torch.rand(BATCH, 1, 32, 32) * 2 - 1, "y": torch.arange(BATCH) % 2}
    for phase in ("Gmain", "Dmain"):
        assert math.isfinite(obj.step(phase, batch)["loss"].item())


# --- whole runs -----------------------------------------------------------------------------------


def square_brightness(images: torch.Tensor) -> tuple[float, float, float]:
    """Mean brightness of the left square, the right square and the empty bottom rows."""
    x = images[:, 0]
    return x[:, 8:18, 4:14].mean().item(), x[:, 8:18, 18:28].mean().item(), x[:, 22:].mean().item()


def test_conditional_stylegan2_learns_where_each_class_puts_its_square(trained):
    """Untrained, G paints everything grey-to-bright; after 200 steps the background is dark and
    each label draws its own square (margins 0.77-1.5 over 4 seeds)."""
    torch.manual_seed(0)
    untrained = create_model("stylegan2_tiny", shape=(1, 32, 32), num_classes=2)["g"].eval()
    z = untrained.sample_z(64, generator=torch.Generator().manual_seed(1))
    g = trained.generator()
    for label, (own, other) in ((0, (0, 1)), (1, (1, 0))):
        with torch.no_grad():
            before = square_brightness(untrained(z, torch.full((64,), label)))
        assert before[2] > -0.5, (label, before)  # far from the data's black background
        sides = square_brightness(g.sample(64, seed=1, labels=label))
        assert sides[own] - sides[other] > 0.6, (label, sides)
        assert sides[2] < -0.8, (label, sides)  # the background stays dark
    losses = [m["loss_d"] for m in trained.metrics()]
    assert all(math.isfinite(v) for v in losses)
    last = trained.metrics()[-1]
    assert last["pl_mean"] > 0 and last["r1"] > 0


def test_a_loaded_generator_samples_what_the_trained_ema_generator_samples(trained):
    tensors, _ = final_checkpoint(trained.path)
    assert tensors["objective.pl_mean"].item() > 0  # the path-length mean is checkpointed
    ema_w_avg = tensors["ema.g.w_avg"]
    assert ema_w_avg.abs().sum() > 0 and torch.equal(ema_w_avg, tensors["nets.g.w_avg"])
    handle = ganforge.load(trained.path)
    g = handle.generator
    assert torch.equal(g.w_avg, ema_w_avg) and torch.equal(g.w_avg_class, tensors["ema.g.w_avg_class"])
    a = handle.sample(8, seed=3, labels=[0, 1] * 4)
    assert torch.equal(a, handle.sample(8, seed=3, labels=[0, 1] * 4))  # const noise: deterministic
    z = g.sample_z(8, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, g(z, torch.tensor([0, 1] * 4)))
    centre = handle.sample(4, seed=5, labels=1, truncation=0.0)
    torch.testing.assert_close(centre, centre[:1].expand_as(centre))
    assert square_brightness(centre)[1] > square_brightness(centre)[0]  # the class-1 centre image


def test_bf16_training_runs_both_double_backward_regularisers(quadrants, tmp_path):
    run = ganforge.train(run_config(quadrants, 2, precision="bf16", log_every=1), out=tmp_path / "bf16")
    first = run.metrics()[0]
    for key in ("loss_d", "loss_g", "pl_penalty", "r1", "grad_norm_g", "grad_norm_d"):
        assert math.isfinite(first[key]) and first[key] != 0, key
