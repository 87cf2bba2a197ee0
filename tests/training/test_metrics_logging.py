"""``logs/metrics.jsonl`` and TensorBoard: every log line complete, finite, and written once; the
sample grids in TensorBoard too."""

from __future__ import annotations

import io
import math

import pytest
from PIL import Image
from training_helpers import make_config, read_metrics

import ganforge
from ganforge.training.callbacks import HEADLINE

REQUIRED = ("step", "kimg", "loss_d", "loss_g", "d_real", "d_fake", "d_acc",
            "grad_norm_d", "grad_norm_g", "lr_d", "lr_g", "img_per_s")  # fmt: skip


def test_every_log_line_is_complete_finite_and_consistent(tmp_path):
    raw = make_config(
        batch_size=32,
        train={"steps": 23, "log_every": 10},  # 23: the last line closes a short window
        optim={"g": {"lr": 1e-4}, "d": {"lr": 3e-4}},
    )
    run = ganforge.train(raw, out=tmp_path / "run")
    lines = read_metrics(run.path)
    assert [m["step"] for m in lines] == [10, 20, 23]
    for m in lines:
        missing = [k for k in REQUIRED if k not in m]
        assert not missing, f"step {m.get('step')} lacks {missing}"
        assert all(math.isfinite(v) for v in m.values()), m
        assert m["kimg"] == pytest.approx(m["step"] * 32 / 1000)
        assert m["img_per_s"] > 0
        assert 0.0 <= m["d_acc"] <= 1.0
        assert m["grad_norm_d"] > 0 and m["grad_norm_g"] > 0
        assert (m["lr_g"], m["lr_d"]) == (1e-4, 3e-4)
    assert tuple(lines[0])[:8] == HEADLINE  # the headline metrics first, in a fixed order
    assert run.metrics() == lines
    assert run.summary["last_metrics"]["step"] == 23


def test_tensorboard_gets_the_same_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = ganforge.train(make_config(train={"steps": 20, "log_every": 10}), out=tmp_path / "run")
    events = list((run.path / "logs").glob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(run.path / "logs"))
    acc.Reload()
    assert {"loss_d", "loss_g", "d_acc", "grad_norm_d", "img_per_s"} <= set(acc.Tags()["scalars"])
    lines = read_metrics(run.path)
    logged = [(e.step, e.value) for e in acc.Scalars("loss_d")]
    assert [s for s, _ in logged] == [10, 20]
    assert [v for _, v in logged] == pytest.approx([m["loss_d"] for m in lines], rel=1e-6)


def test_resume_does_not_duplicate_log_lines(tmp_path):
    raw = make_config(train={"steps": 20, "log_every": 5, "ckpt_every": 10})
    ganforge.train(raw, out=tmp_path / "run")
    # As if the run had been killed after logging step 20 but before checkpointing it.
    ckpt = tmp_path / "run" / "checkpoints"
    (ckpt / "latest").write_text("step_000010\n")
    (ckpt / "step_000020.safetensors").unlink()
    ganforge.train(raw, out=tmp_path / "run", overrides=["train.steps=25"], resume=True)
    lines = read_metrics(tmp_path / "run")
    assert [m["step"] for m in lines] == [5, 10, 15, 20, 25]
    # TensorBoard too: the resumed writer purges what the dead run logged after step 10.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "run" / "logs"))
    acc.Reload()
    logged = [(e.step, e.value) for e in acc.Scalars("loss_d")]
    assert [s for s, _ in logged] == [5, 10, 15, 20, 25]
    assert [v for _, v in logged] == pytest.approx([m["loss_d"] for m in lines], rel=1e-6)


def test_tensorboard_gets_the_sample_grids(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    raw = make_config(train={"steps": 10, "sample_every": 5})
    run = ganforge.train(raw, out=tmp_path / "run")
    acc = EventAccumulator(str(run.path / "logs"))
    acc.Reload()
    assert "samples" in acc.Tags()["images"]
    events = acc.Images("samples")
    assert [e.step for e in events] == [5, 10]
    logged = Image.open(io.BytesIO(events[-1].encoded_image_string))
    with logged, Image.open(run.path / "samples" / "step_000010.png") as on_disk:
        assert logged.size == on_disk.size  # the scatter plot on disk, as it is
