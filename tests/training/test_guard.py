"""The divergence guard: a NaN or an exploding gradient costs a rollback and half the learning rate,
never the run; a run that keeps diverging stops with one clear error; a healthy run is untouched."""

from __future__ import annotations

import json
import math
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file
from training_helpers import (
    PYTHON,
    SUBPROCESS_ENV,
    assert_tensors_equal,
    final_checkpoint,
    free_port,
    make_config,
    read_metrics,
)

from ganforge.cli.main import main
from ganforge.config import load_config
from ganforge.testing import intercept_phases
from ganforge.training.build import Session, build_session
from ganforge.training.guard import DivergenceGuard

TOY = {"name": "toy2d", "kind": "ring", "n": 4096}
MNIST = {"name": "mnist"}
CLOCK_KEYS = ("time", "img_per_s")


def session_for(raw: dict[str, Any], run_dir: Path | None) -> Session:
    return build_session(load_config(raw), run_dir)


def poison(session: Session, at_call: int, factor: float, phase: str = "D", times: int = 1) -> None:
    """Multiply the loss of the ``at_call``-th ``phase`` step (and the next ``times - 1``) by ``factor``."""
    calls = {"n": 0}

    def poisoned(name: str, batch: dict[str, torch.Tensor], step: Any) -> dict[str, torch.Tensor]:
        out = step(batch)
        if name == phase:
            calls["n"] += 1
            if at_call <= calls["n"] < at_call + times:
                out = {**out, "loss": out["loss"] * factor}
        return out

    intercept_phases(session.trainer, poisoned)


def events(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "logs" / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize(("model", "data"), [("mlp_tiny", TOY), ("dcgan_tiny", MNIST)])
def test_guard_rolls_back_an_injected_nan_and_training_continues(tmp_path, model, data):
    raw = make_config(model, data, batch_size=16, train={"steps": 30, "log_every": 5, "guard_every": 5})
    session = session_for(raw, tmp_path / "run")
    trainer = session.trainer
    lrs = trainer.learning_rates()
    poison(session, at_call=12, factor=float("nan"))  # the D step of step 12 (0-based 11)
    trainer.fit()

    assert trainer.state.step == 30
    nets = [*trainer.nets.values(), *(e.model for e in trainer.ema.values())]
    assert all(torch.isfinite(p).all() for net in nets for p in net.state_dict().values())
    assert trainer.learning_rates() == {k: v / 2 for k, v in lrs.items()}
    # Fused Adam walks parameter and moment memory in lockstep: the restored moments must keep the
    # parameters' (channels_last) layout.
    for opt in trainer.optimizers.values():
        for p, state in opt.state.items():
            assert state["exp_avg"].stride() == p.stride() and state["exp_avg_sq"].stride() == p.stride()
    [event] = events(tmp_path / "run")
    assert (event["step"], event["kind"], event["values"]["to_step"]) == (15, "rollback", 10)
    assert "NaN" in event["message"] and "halved" in event["message"]
    lines = read_metrics(tmp_path / "run")
    assert [m["step"] for m in lines] == [5, 10, 15, 20, 25, 30]  # step 15 logged once, after the rollback
    assert all(math.isfinite(v) for m in lines for v in m.values())
    assert [m["lr_d"] for m in lines] == [lrs["lr_d"]] * 2 + [lrs["lr_d"] / 2] * 4
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [w["kind"] for w in summary["warnings"]] == ["rollback"]


@pytest.mark.parametrize(("factor", "rollbacks"), [(10.0, 1), (0.0, 0)])  # 0 turns the check off
def test_an_exploding_gradient_norm_is_rolled_back(factor, rollbacks):
    raw = make_config(batch_size=16, train={"steps": 40, "log_every": 5})
    session = session_for(raw, None)
    trainer = session.trainer
    guard = trainer.guard = DivergenceGuard(every=5, max_grad_norm_factor=factor, min_history=10)
    poison(session, at_call=30, factor=1e4)  # a finite loss whose gradient is 10,000x too large
    trainer.fit()
    assert guard.rollbacks == rollbacks
    assert trainer.state.step == 40
    assert all(torch.isfinite(p).all() for net in trainer.nets.values() for p in net.parameters())


def test_rollback_restores_the_snapshot_exactly_and_the_snapshot_survives_it():
    raw = make_config("dcgan_tiny", MNIST, batch_size=16, train={"steps": 20})
    trainer = session_for(raw, None).trainer
    guard = trainer.guard
    assert guard is not None
    for _ in range(3):
        trainer.train_step()
    guard.snapshot(trainer)
    tensors, meta = trainer.state_tensors()
    expected, data_state = {k: v.clone() for k, v in tensors.items()}, dict(meta["data"])
    for lr_scale in (0.5, 0.25):  # a second rollback to the same snapshot must find it intact
        for _ in range(4):
            trainer.train_step()
        guard.rollback(trainer, "test")
        tensors, now = trainer.state_tensors()
        assert_tensors_equal(tensors, expected)  # weights, EMA, moments, RNG states
        assert trainer.state.step == 3 and now["data"] == data_state
        assert trainer.learning_rates()["lr_g"] == pytest.approx(2e-4 * lr_scale)


def test_repeated_divergence_stops_with_a_clear_error_and_cli_status_2(tmp_path, capsys):
    sgd = {"name": "sgd", "lr": 1e30}  # every step overflows, whatever the lr is halved to
    raw = make_config(batch_size=16, train={"steps": 50, "max_rollbacks": 2}, optim={"g": sgd, "d": sgd})
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(raw))
    rc = main(["train", str(config), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "training diverged" in err and "after 2 rollbacks" in err and "Traceback" not in err
    assert [e["kind"] for e in events(tmp_path / "run")] == ["rollback", "rollback", "diverged"]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["error"].startswith("training diverged") and len(summary["warnings"]) == 3


@pytest.mark.parametrize(
    ("model", "data", "extra"),
    [
        pytest.param("mlp_tiny", TOY, {}, id="mlp_tiny-toy2d"),
        # No EMA: the diversity probe samples the live G, whose BatchNorm must not notice.
        pytest.param("dcgan_tiny", MNIST, {"ema_kimg": 0}, id="dcgan_tiny-mnist-no-ema"),
    ],
)
def test_guard_and_diagnostics_do_not_change_a_healthy_run_bit_for_bit(tmp_path, model, data, extra):
    train = {"steps": 12, "deterministic": True, "log_every": 4, "guard_every": 3, **extra}
    raw = make_config(model, data, batch_size=16, train=train)
    on = session_for(raw, tmp_path / "on")
    on.trainer.fit()
    assert on.trainer.guard is not None and on.trainer.guard.rollbacks == 0
    off_raw = make_config(model, data, batch_size=16, train={**train, "guard": False, "diagnostics": False})
    session_for(off_raw, tmp_path / "off").trainer.fit()

    (tensors_on, meta_on), (tensors_off, meta_off) = (
        final_checkpoint(tmp_path / "on"),
        final_checkpoint(tmp_path / "off"),
    )
    assert_tensors_equal(tensors_on, tensors_off)
    for key in ("step", "images_seen", "data", "rng", "optim"):
        assert meta_on[key] == meta_off[key], key
    strip = ("diversity", *CLOCK_KEYS)
    lines_on, lines_off = read_metrics(tmp_path / "on"), read_metrics(tmp_path / "off")
    assert all("diversity" in m for m in lines_on)
    assert [{k: v for k, v in m.items() if k not in strip} for m in lines_on] == [
        {k: v for k, v in m.items() if k not in CLOCK_KEYS} for m in lines_off
    ]


# Each rank trains through the CLI; rank 1 alone gets a NaN loss once. Both must roll back together.
NAN_ON_ONE_RANK = textwrap.dedent(
    """
    import json, os, sys
    from safetensors.torch import save_file
    from ganforge.cli.main import main
    from ganforge.objectives.gan import AdversarialObjective
    from ganforge.training.trainer import Trainer

    states, config, out = sys.argv[1:4]
    rank, calls = int(os.environ["RANK"]), [0]
    d_step = AdversarialObjective.d_step

    def poisoned(self, batch):
        result = d_step(self, batch)
        calls[0] += 1
        if rank == 1 and calls[0] == 12:
            result = {**result, "loss": result["loss"] * float("nan")}
        return result

    AdversarialObjective.d_step = poisoned
    fit = Trainer.fit

    def fit_and_save(self):
        fit(self)
        tensors = {k: v.detach().contiguous().cpu() for k, v in self.state_tensors()[0].items()}
        save_file(tensors, os.path.join(states, f"rank{rank}.safetensors"))
        with open(os.path.join(states, f"rank{rank}.json"), "w") as fh:
            json.dump({"rollbacks": self.guard.rollbacks, "lr": self.learning_rates()}, fh)

    Trainer.fit = fit_and_save
    sys.exit(main(["train", config, "--out", out]))
    """
)


def test_all_ranks_roll_back_together_when_one_diverges(tmp_path):
    raw = make_config(batch_size=32, train={"steps": 20, "log_every": 5, "guard_every": 5})
    config, script, states = tmp_path / "run.yaml", tmp_path / "rank_main.py", tmp_path / "states"
    config.write_text(yaml.safe_dump(raw))
    script.write_text(NAN_ON_ONE_RANK)
    states.mkdir()
    launch = [PYTHON, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1"]
    args = [str(script), str(states), str(config), str(tmp_path / "run")]
    cmd = [*launch, f"--master_port={free_port()}", *args]
    proc = subprocess.run(cmd, env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    reports = [json.loads((states / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert reports[0] == reports[1] and reports[0]["rollbacks"] == 1
    rank0, rank1 = (load_file(str(states / f"rank{r}.safetensors")) for r in (0, 1))
    assert_tensors_equal(rank0, rank1)
    assert all(torch.isfinite(v).all() for k, v in rank0.items() if v.is_floating_point())
    assert [(e["step"], e["kind"]) for e in events(tmp_path / "run")] == [(15, "rollback")]
