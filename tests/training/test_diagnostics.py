"""Diagnostics: each detector names its failure mode on a constructed log history and stays quiet
on a healthy one; end to end, a collapsed generator is reported in events.jsonl and summary.json."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from training_helpers import make_config, read_metrics

from ganforge.config import load_config
from ganforge.training.build import build_session
from ganforge.training.diagnostics import (
    DETECTORS,
    Diagnostics,
    EventLog,
    Thresholds,
    detect_d_overpowering,
    detect_mode_collapse,
    detect_oscillation,
    detect_vanishing_g_grad,
    mean_pairwise_distance,
)

T = Thresholds()


def healthy(n: int) -> list[dict[str, Any]]:
    """A plausible healthy run: noisy but steady losses, D near chance, G spreading out."""
    return [
        {
            "step": 50 * (i + 1),
            "loss_d": 1.3 + 0.02 * math.sin(1.7 * i),
            "loss_g": 0.8 + 0.03 * math.sin(2.3 * i),
            "d_acc": 0.6 + 0.05 * math.sin(i),
            "d_real": 0.3,
            "d_fake": -0.2,
            "grad_norm_g": 0.5 * (1 + 0.2 * math.sin(0.9 * i)),
            "diversity": min(0.05 * 1.2**i, 0.9),
        }
        for i in range(n)
    ]


def with_values(history: list[dict[str, Any]], start: int, **values: Any) -> list[dict[str, Any]]:
    return [{**r, **values} if i >= start else r for i, r in enumerate(history)]


def test_every_detector_is_quiet_on_a_healthy_history():
    history = healthy(40)
    for kind, detect in DETECTORS.items():
        fired = [len(prefix) for prefix in (history[:n] for n in range(1, 41)) if detect(prefix, T)]
        assert not fired, f"{kind} fired on a healthy history at window {fired[0]}"


def test_vanishing_generator_gradients_relative_to_early_training_and_absolute():
    history = healthy(10)
    assert detect_vanishing_g_grad(with_values(history, 8, grad_norm_g=1e-3), T) is None  # 2 windows
    finding = detect_vanishing_g_grad(with_values(history, 7, grad_norm_g=1e-3), T)
    assert finding is not None and finding.kind == "vanishing_g_grad"
    assert finding.values["grad_norm_g"] == 1e-3 and finding.values["early_median"] > 0.4
    # below the absolute floor from the very start: no early reference needed
    assert detect_vanishing_g_grad(with_values(history[:3], 0, grad_norm_g=1e-9), T) is not None


def test_discriminator_overpowering_needs_accuracy_and_margin_for_patience_windows():
    history = healthy(10)
    strong = {"d_acc": 1.0, "d_real": 4.0, "d_fake": -4.0}
    finding = detect_d_overpowering(with_values(history, 7, **strong), T)
    assert finding is not None and finding.values == {"d_acc": 1.0, "logit_gap": 8.0}
    assert detect_d_overpowering(with_values(history, 8, **strong), T) is None  # one window short
    assert detect_d_overpowering(with_values(history, 7, d_acc=1.0, d_real=1.0, d_fake=-1.0), T) is None
    assert detect_d_overpowering(with_values(history, 7, **{**strong, "d_acc": 0.9}), T) is None


def test_mode_collapse_fires_when_diversity_is_low_and_not_recovering():
    def run(ratios: list[float | None]) -> Any:
        return detect_mode_collapse(
            [{"step": i} if r is None else {"diversity": r} for i, r in enumerate(ratios)], T
        )

    finding = run([0.6, 0.5, 0.2, 0.1, 0.1])
    assert finding is not None and finding.values["diversity"] == 0.1
    assert run([0.0, 0.0, 0.0]) is not None  # a constant generator
    assert run([0.1, None, 0.1, None, 0.1]) is not None  # windows without a measurement are skipped
    assert run([0.001, 0.003, 0.01]) is None  # a young generator, spreading out: not a collapse
    assert run([0.9, 0.1, 0.1]) is None  # only two low measurements
    assert run([0.3, 0.3, 0.3]) is None  # diverse enough


def test_oscillation_needs_alternating_and_large_swings():
    history = healthy(16)
    swinging = [{**r, "loss_d": 1.0 + (0.6 if i % 2 else -0.6)} for i, r in enumerate(history)]
    finding = detect_oscillation(swinging, T)
    assert finding is not None and finding.values["loss"] == "loss_d" and finding.values["alternation"] == 1.0
    jitter = [{**r, "loss_d": 1.0 + (0.01 if i % 2 else -0.01)} for i, r in enumerate(history)]
    assert detect_oscillation(jitter, T) is None  # alternating, but tiny
    trend = [{**r, "loss_g": 5.0 - 0.4 * i} for i, r in enumerate(history)]
    assert detect_oscillation(trend, T) is None  # large changes, but one direction
    assert detect_oscillation(swinging[:13], T) is None  # too short for window + patience
    noisy = [{**r, "loss_d": 1.0 + (0.25 if i % 2 else -0.25)} for i, r in enumerate(history)]
    assert detect_oscillation(noisy, T) is None  # a healthy run's window noise: ~45% of its level


def test_diagnostics_callback_warns_once_per_repeat_interval(tmp_path):
    events = EventLog(tmp_path, console=SimpleNamespace(print=lambda *a, **k: None))  # type: ignore[arg-type]
    logger = SimpleNamespace(last={}, path=tmp_path / "no-metrics.jsonl")
    trainer = SimpleNamespace(state=SimpleNamespace(step=0))
    events.on_train_start(trainer)  # type: ignore[arg-type]
    diagnostics = Diagnostics(logger, events, every=5)  # type: ignore[arg-type]
    diagnostics.on_train_start(trainer)  # type: ignore[arg-type]
    for i, record in enumerate(healthy(30)):
        trainer.state.step = record["step"] = 5 * (i + 1)
        logger.last = {**record, "d_acc": 1.0, "d_real": 5.0, "d_fake": -5.0}
        diagnostics.on_step_end(trainer)  # type: ignore[arg-type]
    # patience 3 -> first at window 3; then at most every 10 windows (50 steps)
    assert [(e["step"], e["kind"]) for e in events.events] == [
        (15, "d_overpowering"),
        (65, "d_overpowering"),
        (115, "d_overpowering"),
    ]
    assert [
        json.loads(line) for line in (tmp_path / "logs" / "events.jsonl").read_text().splitlines()
    ] == events.events
    # A resumed run drops the events logged after its checkpoint, and remembers the ones before.
    trainer.state.step = 70
    events.on_train_start(trainer)  # type: ignore[arg-type]
    diagnostics.on_train_start(trainer)  # type: ignore[arg-type]
    assert [e["step"] for e in events.events] == [15, 65] and diagnostics.last_warned == {
        "d_overpowering": 65
    }


def test_mean_pairwise_distance_is_exact_and_pools_large_images():
    x = torch.randn(20, 5)
    brute = torch.stack([(x[i] - x[j]).norm() for i in range(20) for j in range(i + 1, 20)]).mean()
    assert torch.allclose(mean_pairwise_distance(x), brute)
    assert mean_pairwise_distance(torch.ones(8, 3)).item() == 0.0
    images = torch.randn(6, 3, 64, 64)
    pooled = torch.nn.functional.avg_pool2d(images, 2)
    assert torch.allclose(mean_pairwise_distance(images), mean_pairwise_distance(pooled))


def run_session(raw: dict[str, Any], run_dir: Any, setup: Any = None) -> dict[str, Any]:
    session = build_session(load_config(raw), run_dir)
    if setup is not None:
        setup(session.trainer)
    session.trainer.fit()
    return json.loads((run_dir / "summary.json").read_text())


def test_a_collapsed_generator_is_reported_end_to_end(tmp_path):
    raw = make_config(
        batch_size=32, train={"steps": 20, "log_every": 5, "ema_kimg": 0}, optim={"g": {"lr": 0.0}}
    )

    def collapse(trainer: Any) -> None:  # G's last layer outputs its bias alone: one point
        with torch.no_grad():
            trainer.nets["g"].net[-1].weight.zero_()

    summary = run_session(raw, tmp_path / "run", collapse)
    collapses = [e for e in summary["warnings"] if e["kind"] == "mode_collapse"]
    assert [e["step"] for e in collapses] == [15]  # patience 3: windows 5, 10, 15
    assert collapses[0]["values"]["diversity"] == 0.0 and "mode collapse" in collapses[0]["message"]
    logged = [
        json.loads(line) for line in (tmp_path / "run" / "logs" / "events.jsonl").read_text().splitlines()
    ]
    assert collapses[0] in logged
    assert [m["diversity"] for m in read_metrics(tmp_path / "run")] == [0.0] * 4


@pytest.mark.parametrize(
    ("model", "data"), [("mlp_tiny", None), ("dcgan_tiny", {"name": "mnist"})], ids=["mlp", "dcgan"]
)
def test_a_healthy_short_run_stays_quiet(tmp_path, model, data):
    raw = make_config(model, data, batch_size=32, train={"steps": 40, "log_every": 5})
    summary = run_session(raw, tmp_path / "run")
    assert summary["warnings"] == []
    assert (tmp_path / "run" / "logs" / "events.jsonl").read_text() == ""
    diversity = [m["diversity"] for m in read_metrics(tmp_path / "run")]
    assert len(diversity) == 8 and all(0 < d < 1 for d in diversity)
    assert diversity[-1] > diversity[0]  # the young generator spreads out
