"""Helpers for tests and guard-rail scripts: tiny runs of bundled presets and checkpoint digests.

They live in the package (as diffusers' ``testing_utils``) so the test suite and
``scripts/preset_checksums.py`` share one definition of "a tiny run of a preset".
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ganforge.config import load_config
from ganforge.registry import DATASETS, MODELS, _load_builtins


def plain(text: str) -> str:
    """Text without ANSI colour codes (rich adds them when FORCE_COLOR is set, even into a pipe)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def tiny_overrides(name: str, steps: int = 2) -> list[str]:
    """``--set`` overrides that make bundled preset ``name`` a quick CPU run of ``steps`` steps:
    its model's tiny variant (where it takes every model key the preset sets), small batches,
    a log line every step and one checkpoint at the end."""
    _load_builtins()
    cfg = load_config(name)
    overrides = [
        f"train.steps={steps}",
        "train.unit=step",
        "train.device=cpu",
        "train.precision=fp32",
        "train.progress=false",
        "train.log_every=1",
        f"train.ckpt_every={steps}",
        f"train.sample_every={steps}",
        "train.n_samples=4",
        f"data.batch_size={min(cfg.data.batch_size, 32)}",
    ]
    tiny = f"{cfg.model.name}_tiny"
    # The tiny variant, where the family has one that takes every model key the preset sets.
    if tiny in MODELS and set(cfg.model.params) <= set(MODELS.get(tiny).parameters()):
        overrides.append(f"model.name={tiny}")
    if cfg.train.eval_every:  # the periodic evaluation runs too, on few samples
        overrides.append("train.eval_n=100")
    # The dataset's own small size (its ``tiny`` registry metadata, e.g. 512 StackedMNIST stacks).
    overrides += [f"data.{k}={v}" for k, v in DATASETS.get(cfg.data.name).meta.get("tiny", {}).items()]
    if "pretrain_steps" in cfg.objective.params:  # SRGAN: every step in the adversarial stage
        overrides.append("objective.pretrain_steps=0")
    if cfg.data.name == "folder":  # one's-own-photos presets: sample photos, the tiny model at full size
        overrides += folder_overrides(cfg)
    return overrides


def folder_overrides(cfg: Any) -> list[str]:
    """What a preset on a ``folder`` of one's own images needs for a tiny run: ``data.path`` (a folder
    of sample photos, ``sample_photo_folder``), the tiny variant's defaults for every model key the
    preset sets (its paper-sized widths would make even a 2-step run take minutes; the resolution
    stays the preset's), a batch of 8 (2 at 512 px and above; the folder has 16 photos), no DataLoader
    worker processes
    (their start-up would cost more than two tiny steps)."""
    overrides = [f"data.path={sample_photo_folder()}", "data.workers=0"]
    tiny = f"{cfg.model.name}_tiny"
    if tiny in MODELS:
        defaults = MODELS.get(tiny).parameters()
        overrides += [f"model.{k}={defaults[k].default}" for k in sorted(cfg.model.params) if k in defaults]
    small = 2 if (cfg.data.params.get("resolution") or 0) >= 512 else 8
    return [*overrides, f"data.batch_size={min(cfg.data.batch_size, small)}"]


SAMPLE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "colorwheel")


def sample_photo_folder(n: int = 16) -> Path:
    """A folder of ``n`` small photos for tests of one's-own-images training, made once and reused.

    Crops of scikit-image's sample photos (astronaut, coffee, chelsea, ...), squares and rectangles at
    several sizes, alternately PNG and JPEG, in ``<tempdir>/ganforge-sample-photos-<n>-v1``. The
    folder is written under a private name and renamed into place, so concurrent tests (pytest-xdist
    workers, another checkout) either make it or use the finished one, never a half-written one.
    """
    import os
    import shutil
    import tempfile

    import numpy as np
    from PIL import Image

    from ganforge.utils.optional import require

    root = Path(tempfile.gettempdir()) / f"ganforge-sample-photos-{n}-v1"
    if root.is_dir():
        return root
    skimage_data = require("skimage.data", "examples", "the sample photo folder (scikit-image's photos)")
    work = Path(tempfile.mkdtemp(prefix=f"{root.name}.", dir=root.parent))
    for i in range(n):
        photo = np.asarray(getattr(skimage_data, SAMPLE_PHOTOS[i % len(SAMPLE_PHOTOS)])())
        h, w = photo.shape[:2]
        side = min(h, w) * (4 + i % 3) // 6  # 2/3, 5/6 or all of the shorter side
        top, left = (h - side) * (i % 4) // 3, (w - side) * ((i // 2) % 4) // 3
        crop = photo[top : top + side, left : left + side + (side // 4 if i % 5 == 4 else 0)]
        image = Image.fromarray(crop[..., :3])
        if i % 2:
            image.save(work / f"photo_{i:03d}.jpg", quality=90)
        else:
            image.save(work / f"photo_{i:03d}.png")
    try:
        os.rename(work, root)
    except OSError:  # another process finished first: use its folder
        shutil.rmtree(work, ignore_errors=True)
    return root


def quick_train(**train: Any) -> dict[str, Any]:
    """The ``train`` section of a short, quiet CPU run: no progress bar, no checkpoint or sample grid
    before the end (1,000 steps apart), four samples; ``train`` overrides or adds keys."""
    quiet = {"device": "cpu", "progress": False, "log_every": 50, "ckpt_every": 1000, "sample_every": 1000}
    return {**quiet, "n_samples": 4, **train}


def tiny_config(
    model: str,
    data: dict[str, Any],
    objective: dict[str, Any] | None = None,
    optim: dict[str, Any] | None = None,
    **train: Any,
) -> dict[str, Any]:
    """A run config for a short, quiet CPU run: ``model`` on ``data``, the ``objective`` and
    ``optim`` sections where given, and ``quick_train(**train)`` as its train section.

    One definition of how a test's run config is put together, so a test file states only what is
    particular to it (its model, dataset keys, objective keys, learning rates). Every section is a
    fresh copy: a test may edit the dict it gets without touching another test's."""
    raw: dict[str, Any] = {"model": {"name": model}, "data": copy.deepcopy(data)}
    if objective is not None:
        raw["objective"] = copy.deepcopy(objective)
    if optim is not None:
        raw["optim"] = copy.deepcopy(optim)
    raw["train"] = quick_train(**train)
    return raw


def final_checkpoint(run_dir: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, metadata) of a run's newest checkpoint; an AssertionError when it has none."""
    from ganforge.training.checkpoint import latest_checkpoint, load_checkpoint

    path = latest_checkpoint(Path(run_dir) / "checkpoints")
    assert path is not None, f"no checkpoint in {run_dir}"
    return load_checkpoint(path)


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The run's ``logs/metrics.jsonl`` as a list of dicts."""
    path = Path(run_dir) / "logs" / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def state_digest(tensors: dict[str, torch.Tensor], meta: dict[str, Any] | None = None) -> str:
    """SHA-256 of every tensor (name, dtype, shape, bytes) and of the objective's JSON state: equal
    digests mean bit-identical training state."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous().reshape(-1)
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    if meta is not None:
        h.update(json.dumps(meta.get("objective", {}), sort_keys=True).encode())
    return h.hexdigest()


def intercept_phases(trainer: Any, around: Callable[[str, dict[str, torch.Tensor], Callable], Any]) -> None:
    """Route each of ``trainer``'s phase steps through ``around(phase_name, batch, step)``, which
    calls ``step(batch)`` itself: how tests spy on the schedule or poison a loss."""

    def wrapped(phase: Any) -> Any:
        return dataclasses.replace(phase, step=lambda batch: around(phase.name, batch, phase.step))

    trainer.phases = [wrapped(p) for p in trainer.phases]


class StopAfter:
    """A callback that interrupts training after ``step`` steps, as a kill after a checkpoint would
    (the run ends there with a checkpoint, and ``--resume`` continues it)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer: Any) -> None:
        if trainer.state.step == self.step - 1:
            trainer.request_stop("interrupted by the test")  # the next step is the last
