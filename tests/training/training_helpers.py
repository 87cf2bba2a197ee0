"""Helpers shared by the training-spine tests: tiny configs, run-dir readers, exact comparisons.

A plain module (not conftest.py) so test files can import it: ``from training_helpers import ...``.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import torch

from ganforge.testing import final_checkpoint, quick_train, read_metrics  # noqa: F401  (re-exported for the tests)

# Subprocesses (CLI, torchrun) get one thread each: the test machines have two cores, shared.
SUBPROCESS_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
PYTHON = sys.executable


def make_config(
    model: str = "mlp_tiny",
    data: dict[str, Any] | None = None,
    batch_size: int = 32,
    train: dict[str, Any] | None = None,
    optim: dict[str, Any] | None = None,
    objective: dict[str, Any] | None = None,
    model_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A nested config dict for a short, quiet CPU run (no progress bar, samples rarely)."""
    data = dict(data) if data is not None else {"name": "toy2d", "kind": "ring", "n": 4096}
    raw: dict[str, Any] = {
        "model": {"name": model, **(model_params or {})},
        "data": {**data, "batch_size": batch_size},
        "train": {**quick_train(log_every=5, n_samples=16), **(train or {})},
    }
    if optim:
        raw["optim"] = optim
    if objective:
        raw["objective"] = objective
    return raw


def assert_tensors_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], skip: tuple[str, ...] = ()):
    """Same keys, and every tensor identical bit for bit (dtype, shape and values)."""
    keys_a = {k for k in a if not k.startswith(skip)} if skip else set(a)
    keys_b = {k for k in b if not k.startswith(skip)} if skip else set(b)
    assert keys_a == keys_b, f"key sets differ: {sorted(keys_a ^ keys_b)[:10]}"
    differing = [k for k in sorted(keys_a) if a[k].dtype != b[k].dtype or not torch.equal(a[k], b[k])]
    assert not differing, f"{len(differing)} of {len(keys_a)} tensors differ, e.g. {differing[:8]}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
