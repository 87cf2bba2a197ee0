"""A third-party package extends ganforge through the ``ganforge.plugins`` entry point.

The package is real: written to a temporary folder, installed into this environment with pip (no
network: no dependencies, no build isolation) and uninstalled afterwards. A fresh interpreter then
finds its model variant, its objective and its dataset in the registries and trains with them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = "ganforge_toy_plugin"

PYPROJECT = f"""
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "ganforge-toy-plugin"
version = "0.1.0"

[project.entry-points."ganforge.plugins"]
toy = "{PLUGIN}"
broken = "{PLUGIN}.missing_module"

[tool.setuptools]
packages = ["{PLUGIN}"]
"""

MODULE = '''
"""Registers a model variant, an objective (the gan game with a louder D) and a dataset."""
from dataclasses import dataclass

import numpy as np
import torch

from ganforge.data.base import ArrayDataset
from ganforge.objectives.gan import AdversarialObjective, GANOptions
from ganforge.registry import register_dataset, register_objective, register_variant

register_variant("plugin_mlp", base="mlp", description="a plugin's mlp", z_dim=4, hidden=16, depth=1)


@dataclass(frozen=True)
class LoudOptions(GANOptions):
    d_scale: float = 2.0


@register_objective("plugin_loud", description="gan with D's loss scaled")
class LoudObjective(AdversarialObjective):
    Options = LoudOptions

    def __init__(self, nets, ctx, options):
        super().__init__(nets, ctx, options)
        self.d_scale = options.d_scale

    def d_step(self, batch):
        out = super().d_step(batch)
        return {**out, "loss": self.d_scale * out["loss"]}


@register_dataset("plugin_line", native_resolution=None, channels=None, description="points on a line")
def plugin_line(n: int = 512, seed: int = 0) -> ArrayDataset:
    t = np.random.default_rng(seed).uniform(-1, 1, size=(n, 1))
    return ArrayDataset(x=torch.tensor(np.hstack([t, 0.5 * t]), dtype=torch.float32), name="plugin_line")
'''

PROBE = """
import json, warnings, sys
import ganforge
from ganforge.registry import MODELS, OBJECTIVES, DATASETS, load_plugins, _load_builtins
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    _load_builtins()
run = ganforge.train(
    {"model": {"name": "plugin_mlp"}, "data": {"name": "plugin_line", "batch_size": 32},
     "objective": {"name": "plugin_loud", "d_scale": 3.0},
     "train": {"steps": 3, "progress": False, "log_every": 1}},
    out=sys.argv[1],
)
print(json.dumps({
    "plugins": load_plugins(),
    "model": MODELS.get("plugin_mlp").meta["variant_of"],
    "objective": "plugin_loud" in OBJECTIVES, "dataset": "plugin_line" in DATASETS,
    "warnings": [str(w.message) for w in caught], "steps": run.metrics()[-1]["step"],
}))
"""


@pytest.fixture
def installed_plugin(tmp_path: Path):
    root = tmp_path / "plugin"
    (root / PLUGIN).mkdir(parents=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (root / PLUGIN / "__init__.py").write_text(textwrap.dedent(MODULE))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    install = subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", "--no-index", str(root)],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        pytest.skip(f"cannot install a package into this environment: {install.stderr.strip()[-300:]}")
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", "ganforge-toy-plugin"], capture_output=True, check=False)


def test_a_plugin_registers_a_family_that_trains_and_a_broken_one_is_named(installed_plugin, tmp_path):
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "run")], capture_output=True, text=True, check=True
    )
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert found["plugins"] == ["toy"]  # the broken entry point is skipped ...
    assert found["model"] == "mlp" and found["objective"] and found["dataset"]
    assert any("'broken'" in w and "failed to load" in w for w in found["warnings"])  # ... and named
    assert found["steps"] == 3
