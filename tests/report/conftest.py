"""Tiny trained runs and their reports, shared by the report tests (trained once per session, read-only)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from report_helpers import EVENT

import ganforge

# dcgan_tiny on the embedded MNIST digits: 6 steps, a log line and a sample grid every 2 (3 grids).
IMAGE_CONFIG: dict[str, Any] = {
    "model": {"name": "dcgan_tiny"},
    "data": {"name": "mnist", "batch_size": 16},
    "train": {"steps": 6, "log_every": 2, "sample_every": 2, "progress": False},
}
# mlp_tiny on the ring of 8 Gaussians: 20 steps, one grid at the end.
TOY_CONFIG: dict[str, Any] = {
    "model": {"name": "mlp_tiny"},
    "data": {"name": "toy2d", "kind": "ring", "batch_size": 32},
    "train": {"steps": 20, "log_every": 5, "sample_every": 20, "progress": False},
}


def _train(cfg: dict[str, Any], out: Path) -> Path:
    return ganforge.train(json.loads(json.dumps(cfg)), out=out).path


@pytest.fixture(scope="session")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished dcgan_tiny run plus what a report reads besides training output: one warning in
    ``logs/events.jsonl``, two periodic evaluations in ``logs/evals.jsonl``, one ``eval/*.json``."""
    run = _train(IMAGE_CONFIG, tmp_path_factory.mktemp("report_image") / "run")
    with (run / "logs" / "events.jsonl").open("a") as fh:
        fh.write(json.dumps(EVENT) + "\n")
    (run / "logs" / "evals.jsonl").write_text(
        json.dumps({"step": 2, "kimg": 0.032, "fid": 310.5, "kid": 0.31}) + "\n"
        + json.dumps({"step": 6, "kimg": 0.096, "fid": 287.25, "kid": 0.27}) + "\n"
    )  # fmt: skip
    record = {
        "step": 6,
        "generator": "ema",
        "n": 500,
        "seed": 0,
        "metrics": {"fid": {"extractor": "inception", "values": {"fid": 280.0}}},
    }
    (run / "eval").mkdir()
    (run / "eval" / "20250101-000000.json").write_text(json.dumps(record))
    return run


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(TOY_CONFIG, tmp_path_factory.mktemp("report_toy") / "run")


@pytest.fixture(scope="session")
def image_report(image_run: Path) -> tuple[Path, str]:
    """The image run's report: its path and its text."""
    from ganforge.report import write_report

    path = write_report(image_run)
    return path, path.read_text()


@pytest.fixture(scope="session")
def toy_report(toy_run: Path) -> tuple[Path, str]:
    from ganforge.report import write_report

    path = write_report(toy_run)
    return path, path.read_text()


@pytest.fixture
def copy_run(tmp_path: Path) -> Callable[[Path], Path]:
    """``copy_run(run)`` -> a private copy of a run dir, for tests that change it."""

    def make(run: Path) -> Path:
        return Path(shutil.copytree(run, tmp_path / run.parent.name))

    return make
