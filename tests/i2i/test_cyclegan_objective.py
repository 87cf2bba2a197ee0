"""CycleGAN through the one Trainer: the history pool, learning, and a bit-exact resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import ganforge
from ganforge.errors import ConfigError
from ganforge.objectives.base import Context
from ganforge.objectives.translation import ImagePool
from ganforge.registry import create_model, create_objective
from ganforge.testing import tiny_config

# ---------------------------------------------------------------- history pool


def _images(n: int, start: int = 0) -> torch.Tensor:
    return (start + torch.arange(n, dtype=torch.float32)).reshape(n, 1, 1, 1)


def test_pool_fills_first_then_returns_past_images_half_the_time() -> None:
    pool = ImagePool(size=3, seed=0)
    assert torch.equal(pool.query(_images(3)), _images(3)) and len(pool) == 3
    seen = set(range(3))
    old = 0
    for step in range(1000):
        new = _images(2, start=10 + 2 * step)
        out = pool.query(new)
        for value, fresh in zip(out.flatten().tolist(), new.flatten().tolist(), strict=True):
            if value != fresh:
                assert value in seen  # a past fake (maybe one stored earlier in this batch), never a new one
                old += 1
            seen.add(fresh)
        assert len(pool) == 3
    assert 0.45 < old / 2000 < 0.55
    # a swapped-out image leaves the pool: every stored value is distinct and was queried
    stored = pool.images.flatten().tolist()
    assert len(set(stored)) == 3 and set(stored) <= seen


def test_pool_of_size_zero_passes_fakes_through() -> None:
    pool = ImagePool(size=0)
    x = torch.randn(4, 1, 2, 2)
    assert torch.equal(pool.query(x), x) and len(pool) == 0
    with pytest.raises(ConfigError, match="pool_size"):
        ImagePool(size=-1)


def test_pool_state_round_trip_replays_the_same_draws() -> None:
    pool = ImagePool(size=4, seed=7)
    for i in range(5):
        pool.query(_images(3, start=10 * i))
    state = {k: v.clone() for k, v in pool.state_dict().items()}
    clone = ImagePool(size=4, seed=123)
    clone.load_state_dict(state)
    for i in range(5, 10):
        assert torch.equal(pool.query(_images(3, start=10 * i)), clone.query(_images(3, start=10 * i)))
    assert torch.equal(pool.images, clone.images)


# ---------------------------------------------------------------- objective


def test_cycle_loss_decreases_in_a_short_run(tmp_path: Path) -> None:
    raw = tiny_config(
        "cyclegan_tiny",
        data={"name": "thin2thick", "batch_size": 8},
        objective={"name": "cyclegan", "loss": "lsgan"},
        optim={"g": {"lr": 1e-3}, "d": {"lr": 1e-3}},
        steps=50,
        log_every=10,
    )
    run = ganforge.train(raw, out=tmp_path / "run")
    lines = run.metrics()
    assert [m["step"] for m in lines] == [10, 20, 30, 40, 50]
    assert lines[-1]["cycle"] < 0.5 * lines[0]["cycle"], [m["cycle"] for m in lines]
    assert lines[-1]["identity"] < 0.5 * lines[0]["identity"]
    assert all(k in lines[-1] for k in ("loss_d", "loss_g", "d_real", "d_fake", "d_acc"))


def test_objective_checks_its_networks_and_weights() -> None:
    ctx = Context(device=torch.device("cpu"), randn=torch.randn)
    with pytest.raises(ConfigError, match="cyclegan"):
        create_objective("cyclegan", create_model("pix2pix_tiny", shape=(1, 32, 32)), ctx)
    with pytest.raises(ConfigError, match="lambda_cyc"):
        create_objective("cyclegan", create_model("cyclegan_tiny", shape=(1, 32, 32)), ctx, lambda_cyc=-1.0)


def test_phases_identity_switch_and_preview() -> None:
    ctx = Context(device=torch.device("cpu"), randn=torch.randn)
    torch.manual_seed(0)
    nets = create_model("cyclegan_tiny", shape=(1, 32, 32))
    objective = create_objective("cyclegan", nets, ctx, identity=0.0, pool_size=2)
    assert [(p.name, p.trains, p.fresh_batch) for p in objective.phases()] == [
        ("G", "g", True),
        ("D", "d", False),
    ]
    batch = {"x": torch.rand(3, 1, 32, 32) * 2 - 1, "a": torch.rand(3, 1, 32, 32) * 2 - 1}
    g_out = objective.step("G", batch)
    assert "identity" not in g_out and {"loss_g", "cycle"} <= set(g_out)
    d_out = objective.step("D", batch)
    assert len(objective.pool_a) == len(objective.pool_b) == 2
    assert torch.isfinite(d_out["loss"]) and d_out["loss"].requires_grad
    panels = objective.preview(nets["g"], batch)
    assert panels.shape == (3, 6, 1, 32, 32)
    assert torch.equal(panels[:, 0], batch["a"]) and torch.equal(panels[:, 3], batch["x"])
