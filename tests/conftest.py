"""Shared fixtures: small finished runs that many tests read (train once per session, copy to mutate)."""

from __future__ import annotations

import copy
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import ganforge

# mlp_tiny on the 2-D grid mixture: 20 steps, a log line every 5, checkpoints at 10 and 20 (< 1 s).
TINY_CONFIG: dict[str, Any] = {
    "model": {"name": "mlp_tiny"},
    "data": {"name": "toy2d", "batch_size": 16},
    "train": {"steps": 20, "log_every": 5, "ckpt_every": 10, "progress": False},
}


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """One intra-op thread for the whole session: on a shared 2-core machine tiny ops run ~2x faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _restored_global_rng_and_flags():
    """``ganforge.train`` seeds the global RNGs and ``train.deterministic`` flips process-wide torch
    flags; restore both after each test so no other test inherits them."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    benchmark = torch.backends.cudnn.benchmark
    rng = torch.get_rng_state(), random.getstate(), np.random.get_state()
    yield
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = benchmark
    torch.set_rng_state(rng[0])
    random.setstate(rng[1])
    np.random.set_state(rng[2])


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """``cli("train", ...)`` -> (exit status, stdout, stderr), colour codes removed."""
    from ganforge.cli.main import main
    from ganforge.testing import plain

    def run(*argv: object) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return rc, plain(out), plain(err)

    return run


@pytest.fixture
def tiny_config() -> dict[str, Any]:
    """The config of ``tiny_run`` as a fresh dict (safe to modify)."""
    return copy.deepcopy(TINY_CONFIG)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> ganforge.Run:
    """A finished ``TINY_CONFIG`` run. Shared by the session: read it, never write into it."""
    return ganforge.train(copy.deepcopy(TINY_CONFIG), out=tmp_path_factory.mktemp("tiny") / "run")


@pytest.fixture
def tiny_run_copy(tiny_run: ganforge.Run, tmp_path: Path) -> Path:
    """A private copy of ``tiny_run``'s run dir, for tests that damage, resume or replace it."""
    return Path(shutil.copytree(tiny_run.path, tmp_path / "run"))


@pytest.fixture(scope="session")
def tiny_image_run(tmp_path_factory: pytest.TempPathFactory) -> ganforge.Run:
    """dcgan_tiny on the 8x8 sklearn digits (upsized to 32x32, 10 classes), 3 steps. Read-only."""
    cfg = {
        "model": {"name": "dcgan_tiny"},
        "data": {"name": "digits", "batch_size": 16},
        "train": {"steps": 3, "progress": False},
    }
    return ganforge.train(cfg, out=tmp_path_factory.mktemp("tiny_image") / "run")
