"""Users' own callbacks (``ganforge.train(..., callbacks=[...])``): called at every event after the
built-in ones, with the newest log line to read, and able to end the run early."""

from __future__ import annotations

import pytest
from training_helpers import final_checkpoint, make_config

import ganforge
from ganforge.errors import ConfigError


class Recorder(ganforge.Callback):
    """Records the events it sees (and whether the run's files are written by then) and stops the
    run after step ``stop_at``."""

    def __init__(self, run_dir, stop_at: int) -> None:
        self.run_dir, self.stop_at = run_dir, stop_at
        self.events, self.metrics_steps, self.written = [], [], []

    def on_train_start(self, trainer):
        self.events.append(("start", trainer.state.step))

    def on_step_end(self, trainer):
        self.events.append(("step", trainer.state.step))
        self.metrics_steps.append(trainer.last_metrics.get("step"))
        if trainer.state.step == self.stop_at:
            trainer.request_stop("the user's callback said so")

    def on_train_end(self, trainer):
        self.events.append(("end", trainer.state.step))
        files = ("summary.json", "checkpoints/step_000008.json")
        self.written = [(self.run_dir / f).is_file() for f in files]


def test_user_callbacks_see_every_step_and_can_stop_training(tmp_path):
    recorder = Recorder(tmp_path / "run", stop_at=7)
    run = ganforge.train(make_config(train={"steps": 20}), out=tmp_path / "run", callbacks=[recorder])
    assert recorder.events == [("start", 0), *(("step", s) for s in range(1, 9)), ("end", 8)]
    assert recorder.metrics_steps == [None, None, None, None, 5, 5, 5, 8]  # log_every 5, and the last step
    assert run.summary["step"] == 8 and run.summary["stopped_early"] == "the user's callback said so"
    assert final_checkpoint(run.path)[1]["step"] == 8
    assert recorder.written == [True, True]  # the built-in callbacks ran first


def test_a_callback_without_hooks_or_a_class_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="has none of the hooks on_train_start"):
        ganforge.train(make_config(), out=tmp_path / "run", callbacks=[lambda trainer: None])
    with pytest.raises(ConfigError, match=r"callback Recorder is a class: pass an instance"):
        ganforge.train(make_config(), out=tmp_path / "run", callbacks=[Recorder])
    assert not (tmp_path / "run").exists()
