"""What a run reports besides its metrics log: plain progress lines where stdout is no terminal,
users' own callbacks, sample grids in TensorBoard, and the versions every checkpoint records."""

from __future__ import annotations

import io
import logging
import re

import pytest
from training_helpers import make_config

import ganforge
from ganforge.errors import ConfigError
from ganforge.training import callbacks as cb

LINE = re.compile(r"step (\d+)/(\d+) kimg \d+\.\d( loss_d \S+ loss_g \S+)? img/s \d+\.\d eta \d\d:\d\d:\d\d")


def progress_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ganforge.train"]


def test_progress_lines_where_stdout_is_no_terminal(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ganforge.train")
    raw = make_config(train={"steps": 6, "log_every": 2, "progress": True, "progress_every_s": 0})
    ganforge.train(raw, out=tmp_path / "run")  # pytest captures stdout: no terminal
    lines = progress_lines(caplog)
    assert [int(LINE.fullmatch(ln).group(1)) for ln in lines] == [1, 2, 3, 4, 5, 6], lines
    assert "loss_d" not in lines[0] and "loss_d" in lines[1]  # losses once a log line has them
    assert lines[-1].startswith("step 6/6 kimg 0.2 ") and lines[-1].endswith("eta 00:00:00")


def test_progress_lines_are_spaced_by_seconds_and_off_with_progress(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ganforge.train")
    raw = make_config(train={"steps": 6, "progress": True, "progress_every_s": 3600})
    ganforge.train(raw, out=tmp_path / "a")
    assert [ln.split(" kimg")[0] for ln in progress_lines(caplog)] == ["step 6/6"]  # the last step only
    caplog.clear()
    ganforge.train(make_config(train={"steps": 6, "progress": False}), out=tmp_path / "b")
    assert progress_lines(caplog) == []


def test_a_terminal_keeps_the_rich_bar(monkeypatch, tmp_path):
    logger = cb.MetricsLogger(tmp_path, every=1, tensorboard=False)
    monkeypatch.setattr(cb.sys, "stdout", io.StringIO())
    assert isinstance(cb.progress_display(logger, True, 30.0), cb.ProgressLog)
    monkeypatch.setattr(cb.sys.stdout, "isatty", lambda: True)
    assert isinstance(cb.progress_display(logger, True, 30.0), cb.ProgressBar)
    assert cb.progress_display(logger, False, 30.0) is None


def test_negative_progress_interval_is_refused():
    with pytest.raises(ConfigError, match=r"'train\.progress_every_s' must be >= 0"):
        ganforge.load_config(make_config(train={"progress_every_s": -1}))
