"""Runs the latent CLI tests load: a conditional r3gan_tiny run (trained here) and the unconditional
dcgan_tiny ``tiny_image_run`` of tests/conftest.py. Both are read-only and trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

import ganforge


@pytest.fixture(scope="session")
def conditional_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """r3gan_tiny on the sklearn digits (32x32, 10 classes), 3 steps: conditional, with EMA weights."""
    cfg = {
        "model": {"name": "r3gan_tiny"},
        "data": {"name": "digits", "batch_size": 16},
        "objective": {"loss": "rpgan", "r1_gamma": 0.5, "r2_gamma": 0.5},
        "train": {"steps": 3, "progress": False},
    }
    return ganforge.train(cfg, out=tmp_path_factory.mktemp("latent_cond") / "run").path
