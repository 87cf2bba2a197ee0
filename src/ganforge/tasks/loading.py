"""Loading a run: its resolved config and a checkpoint's weights into the ``g`` network.

Low enough that evaluation, the report, the API and the CLI all use it without importing each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from ganforge.config import Config
from ganforge.errors import CheckpointError, RunDirError
from ganforge.rundir import read_run_config
from ganforge.training.build import build_networks
from ganforge.training.checkpoint import load_checkpoint, load_latest_checkpoint, load_module_state


def load_run_generator(
    run_dir: str | Path, ema: bool = True, checkpoint: str | Path | None = None
) -> tuple[Config, Path, nn.Module, dict[str, Any]]:
    """A run's config, checkpoint path, ``g`` network with the checkpoint's (EMA) weights, and the
    checkpoint's ``info`` (the data's shape, and what a task's handle needs: a table's encoding)."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    if checkpoint:  # the one the user named: no fallback
        ckpt = Path(checkpoint)
        tensors, meta = load_checkpoint(ckpt)
    else:  # the newest that reads back whole (a damaged newer one is skipped with a warning)
        found = load_latest_checkpoint(run_dir / "checkpoints")
        if found is None:
            raise RunDirError(f"run '{run_dir}' has no checkpoint yet")
        ckpt, tensors, meta = found
    info = meta.get("info", {})
    g = generator_of(cfg, info, ckpt)
    prefix = "ema.g" if ema and any(k.startswith("ema.g.") for k in tensors) else "nets.g"
    load_module_state(g, prefix, tensors, ckpt)
    return cfg, ckpt, g, info


def generator_of(cfg: Config, info: dict[str, Any], source: str | Path) -> nn.Module:
    """The untrained ``g`` network of a run of ``cfg`` whose checkpoint recorded ``info`` (the
    data's shape and classes, and the ``model_inputs`` of families built from the data's layout);
    ``source`` names where ``info`` came from in the error when it lacks the shape."""
    return networks_of(cfg, info, source)["g"]


def networks_of(cfg: Config, info: dict[str, Any], source: str | Path) -> dict[str, nn.Module]:
    """Every network of a run of ``cfg`` (``g``, ``d``, ...), untrained, as ``generator_of`` builds them."""
    if "data_shape" not in info:
        raise CheckpointError(f"checkpoint '{source}' does not record the data shape it was trained on")
    return build_networks(
        cfg, tuple(info["data_shape"]), int(info.get("num_classes", 0)), info.get("model_inputs")
    )
