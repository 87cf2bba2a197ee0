"""Fixtures for the training-spine tests (helpers live in training_helpers.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch


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
