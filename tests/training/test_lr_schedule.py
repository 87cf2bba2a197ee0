"""Learning-rate schedules: their shape, that the trainer follows them, resume and the guard."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from training_helpers import assert_tensors_equal, final_checkpoint, make_config, read_metrics

import ganforge
from ganforge.config import load_config
from ganforge.errors import ConfigError
from ganforge.training.build import build_session
from ganforge.training.schedules import build_lr_schedule
from ganforge.training.trainer import Trainer

TOY = {"name": "toy2d", "kind": "ring", "n": 4096}


def test_constant_is_no_schedule_at_all():
    assert build_lr_schedule("constant", 100, 0.5) is None


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_decay_holds_then_falls_monotonically_to_near_zero(name):
    factor = build_lr_schedule(name, 100, 0.5)
    assert factor is not None
    values = [factor(s) for s in range(100)]
    assert values[:50] == [1.0] * 50
    assert all(a > b for a, b in itertools.pairwise(values[49:]))
    assert 0.0 < values[-1] < 0.05
    if name == "linear":  # equal steps down: 50 decay steps spread over 51 intervals
        assert values[50] == pytest.approx(50 / 51) and values[-1] == pytest.approx(1 / 51)


def test_decay_from_the_first_step():
    factor = build_lr_schedule("linear", 10, 0.0)
    assert factor is not None and factor(0) < 1.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.lr_schedule=exponential"], "lr_schedule"),
        (["train.lr_schedule=linear", "train.lr_decay_start=1.0"], "lr_decay_start"),
    ],
)
def test_bad_schedule_settings_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_session(load_config(make_config(train={"steps": 4}), overrides), None)


def test_the_logged_lr_follows_the_schedule(tmp_path):
    raw = make_config(train={"steps": 20, "log_every": 5, "lr_schedule": "linear", "lr_decay_start": 0.5})
    ganforge.train(raw, out=tmp_path / "run")
    lrs = [m["lr_g"] for m in read_metrics(tmp_path / "run")]
    base = load_config(raw).optim.g.lr
    # Logged at steps 5, 10, 15, 20: the lr of the last step in each window.
    assert lrs[0] == base and lrs[1] == base
    assert lrs[2] == pytest.approx(base * 6 / 11) and lrs[3] == pytest.approx(base * 1 / 11)


def interrupt_resume_and_rerun(
    raw: dict, tmp_path, monkeypatch, stop_at: int, before_step: Callable[[Trainer], None] | None = None
) -> None:
    """Train ``raw`` into ``a/``, killed as step ``stop_at`` begins, then resume it to the end; train
    it uninterrupted into ``b/``. ``before_step(trainer)`` runs before each step of the killed run."""
    train_step = Trainer.train_step

    def interrupted(self: Trainer) -> None:
        if before_step is not None:
            before_step(self)
        if self.state.step == stop_at:
            raise KeyboardInterrupt
        train_step(self)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ganforge.train(raw, out=tmp_path / "a")
    monkeypatch.undo()
    ganforge.train(raw, out=tmp_path / "a", resume=True)
    ganforge.train(raw, out=tmp_path / "b")


def test_a_scheduled_run_resumes_bit_for_bit(tmp_path, monkeypatch):
    raw = make_config(
        batch_size=16,
        train={"steps": 12, "deterministic": True, "log_every": 2, "ckpt_every": 4, "sample_every": 4,
               "lr_schedule": "cosine", "lr_decay_start": 0.25},
    )  # fmt: skip
    # Killed after the step-4 checkpoint, inside the decay.
    interrupt_resume_and_rerun(raw, tmp_path, monkeypatch, stop_at=7)
    (tensors_a, meta_a), (tensors_b, meta_b) = (
        final_checkpoint(tmp_path / "a"),
        final_checkpoint(tmp_path / "b"),
    )
    assert_tensors_equal(tensors_a, tensors_b)
    assert meta_a["optim"] == meta_b["optim"]  # base_lr and the decayed lr of every group
    strip = [
        {k: v for k, v in m.items() if k not in ("time", "img_per_s")} for m in read_metrics(tmp_path / "a")
    ]
    assert strip == [
        {k: v for k, v in m.items() if k not in ("time", "img_per_s")} for m in read_metrics(tmp_path / "b")
    ]


def test_a_rollback_halves_the_scheduled_base_lr(tmp_path):
    raw = make_config(train={"steps": 20, "lr_schedule": "linear", "lr_decay_start": 0.0})
    trainer = build_session(load_config(raw), None).trainer
    assert trainer.guard is not None
    for _ in range(3):
        trainer.train_step()
    trainer.guard.snapshot(trainer)
    trainer.train_step()
    trainer.guard.rollback(trainer, "test")
    trainer.train_step()  # step 3 again, now at half the scheduled lr
    base = load_config(raw).optim.g.lr
    factor = build_lr_schedule("linear", 20, 0.0)
    assert factor is not None
    assert trainer.learning_rates()["lr_g"] == pytest.approx(base / 2 * factor(3))


def test_an_annealed_latent_follows_training_progress_and_resumes_bit_for_bit(tmp_path, monkeypatch):
    """Modules with ``set_progress`` (here the mlp's mixture latent) are told step / steps before
    every step: the width shrinks on schedule, the EMA copy and checkpoints carry it, and a run
    interrupted mid-anneal resumes to the same tensors (the learnt island weights and their Adam
    state included)."""
    latent = {"latent_components": 16, "latent_scale": 0.05, "latent_anneal": 0.5}
    latent["latent_learn_weights"] = True
    raw = make_config(
        "mlp",
        batch_size=16,
        model_params={"z_dim": 8, "hidden": 32, "depth": 2, **latent},
        train={"steps": 12, "deterministic": True, "log_every": 2, "ckpt_every": 4, "sample_every": 4},
    )
    widths: list[float] = []

    def record_width(trainer: Trainer) -> None:
        if trainer.state.step == 3:  # inside the anneal, before the step-4 checkpoint
            widths.append(float(trainer.nets["g"].latent.width))

    interrupt_resume_and_rerun(raw, tmp_path, monkeypatch, stop_at=5, before_step=record_width)
    assert widths == [pytest.approx(0.05 ** (2 / 12 / 0.5))]  # set by step 2, the last one run
    (tensors_a, _), (tensors_b, _) = final_checkpoint(tmp_path / "a"), final_checkpoint(tmp_path / "b")
    assert_tensors_equal(tensors_a, tensors_b)
    assert tensors_a["nets.g.latent.weight_logits"].abs().sum() > 0  # they learnt
    assert float(tensors_a["ema.g.latent.width"]) == pytest.approx(0.05)  # sampling uses the final width
