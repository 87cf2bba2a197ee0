"""The Python API: ``ganforge.train(...)`` returns a Run; ``ganforge.load(run_dir)`` a GeneratorHandle."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.config import Config, load_config
from ganforge.errors import CheckpointError, ConfigError, DataError, RunDirError
from ganforge.models.base import Generator
from ganforge.models.translation import TranslationGenerator, check_condition
from ganforge.rundir import read_run_config
from ganforge.training.build import build_networks, build_session, resolve_device
from ganforge.training.callbacks import sample_fixed
from ganforge.training.checkpoint import latest_checkpoint, load_checkpoint, load_module_state
from ganforge.utils.distributed import shutdown
from ganforge.utils.images import save_samples_picture


@dataclass
class Run:
    """A finished (or resumed-and-finished) training run and its run dir."""

    path: Path
    config: Config
    summary: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> list[dict[str, Any]]:
        """Every line of ``logs/metrics.jsonl`` as dicts."""
        path = self.path / "logs" / "metrics.jsonl"
        return (
            [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            if path.exists()
            else []
        )

    @property
    def latest_samples(self) -> Path | None:
        found = sorted((self.path / "samples").glob("step_*.png"))
        return found[-1] if found else None

    def generator(self, ema: bool = True) -> GeneratorHandle:
        return load(self.path, ema=ema)


def default_run_dir(config: str | Path | dict | None) -> Path:
    stem = Path(str(config)).stem if isinstance(config, (str, Path)) else "run"
    return Path("runs") / stem


def train(
    config: str | Path | dict[str, Any] | Config | None = None,
    out: str | Path | None = None,
    overrides: list[str] | None = None,
    resume: bool = False,
    force: bool = False,
) -> Run:
    """Train from a YAML path, preset name, dict or Config; write everything into ``out``."""
    if isinstance(config, Config):
        cfg = load_config(config.to_dict(), overrides) if overrides else config
    else:
        cfg = load_config(config, overrides)
    run_dir = (
        Path(out) if out is not None else default_run_dir(config if not isinstance(config, Config) else None)
    )
    session = build_session(cfg, run_dir, resume=resume, force=force)
    try:
        session.trainer.fit()
    finally:
        shutdown(session.dist)
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return Run(run_dir, session.config, summary)


class GeneratorHandle:
    """A trained generator ready to sample: ``load("runs/quickstart").sample(16, seed=0)``."""

    def __init__(self, generator: Generator, config: Config, checkpoint: Path, device: torch.device) -> None:
        self.generator = generator.eval()
        self.config, self.checkpoint, self.device = config, checkpoint, device

    @property
    def num_classes(self) -> int:
        """Classes the generator is conditioned on; 0 for an unconditional one (labels ignored)."""
        if not getattr(self.generator, "conditional", False):
            return 0
        return int(getattr(self.generator, "num_classes", 0))

    @torch.no_grad()
    def sample(
        self, n: int, seed: int = 0, labels: Any = None, batch_size: int = 256, truncation: float = 1.0
    ) -> torch.Tensor:
        """``n`` samples on the CPU, (N, C, H, W) in [-1, 1] or (N, D); same seed, same samples.

        ``truncation`` ψ < 1 trades variety for fidelity (``Generator.generate``). A conditional
        generator given no ``labels`` draws classes 0..K-1 in turn (class-balanced, as the training
        grids), so metrics that know nothing of labels (FID, ...) score every class equally.
        """
        if n <= 0:
            raise ValueError(f"n must be positive, got {n}")
        if labels is None and self.num_classes:
            labels = torch.arange(n) % self.num_classes
        if labels is not None:
            labels = (
                torch.as_tensor(labels, dtype=torch.long).expand(n)
                if np.ndim(labels) == 0
                else torch.as_tensor(labels)
            )
        gen = torch.Generator().manual_seed(seed)
        z = self.generator.sample_z(n, generator=gen)
        out = []
        for start in range(0, n, batch_size):
            y = labels[start : start + batch_size].to(self.device) if labels is not None else None
            zb = z[start : start + batch_size].to(self.device)
            out.append(self.generator.generate(zb, y, truncation=truncation).float().cpu())
        return torch.cat(out).contiguous()

    def save(
        self, path: str | Path, n: int, seed: int = 0, labels: Any = None, truncation: float = 1.0
    ) -> Path:
        """``.png`` -> a grid (or scatter plot); ``.npz`` -> arrays ``x`` (and ``y``)."""
        path = Path(path)
        if path.suffix.lower() not in (".png", ".npz"):
            raise ConfigError(f"cannot write samples to '{path}': the name must end in .png or .npz")
        x = self.sample(n, seed=seed, labels=labels, truncation=truncation)
        if path.suffix.lower() == ".npz":
            arrays = {"x": x.numpy()}
            if labels is not None:
                arrays["y"] = np.broadcast_to(np.asarray(labels), (n,)).astype(np.int64)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, **arrays)
            return path
        return save_samples_picture(x, path)


def _run_generator(run_dir: str | Path, ema: bool, checkpoint: str | Path | None) -> tuple[Config, Path, Any]:
    """A run's config, checkpoint path and ``g`` network with the checkpoint's (EMA) weights."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    ckpt = Path(checkpoint) if checkpoint else latest_checkpoint(run_dir / "checkpoints")
    if ckpt is None:
        raise RunDirError(f"run '{run_dir}' has no checkpoint yet")
    tensors, meta = load_checkpoint(ckpt)
    info = meta.get("info", {})
    if "data_shape" not in info:
        raise CheckpointError(f"checkpoint '{ckpt}' does not record the data shape it was trained on")
    g = build_networks(cfg, tuple(info["data_shape"]), int(info.get("num_classes", 0)))["g"]
    prefix = "ema.g" if ema and any(k.startswith("ema.g.") for k in tensors) else "nets.g"
    load_module_state(g, prefix, tensors, ckpt)
    return cfg, ckpt, g


def load(
    run_dir: str | Path, ema: bool = True, checkpoint: str | Path | None = None, device: str = "cpu"
) -> GeneratorHandle:
    """Rebuild a run's generator from ``config.yaml`` and its newest (or given) checkpoint."""
    cfg, ckpt, g = _run_generator(run_dir, ema, checkpoint)
    dev = resolve_device(device)
    if isinstance(g, TranslationGenerator):
        raise CheckpointError(
            f"model '{cfg.model.name}' translates images rather than sampling them;"
            " use ganforge.api.load_translator or `ganforge translate`"
        )
    if not isinstance(g, Generator):
        raise CheckpointError(f"model '{cfg.model.name}' has no sampling generator")
    return GeneratorHandle(g.to(dev), cfg, ckpt, dev)


class TranslatorHandle:
    """A trained image-to-image translator: ``load_translator("runs/edges2digits").translate(x)``.

    Takes and returns (N, C, H, W) tensors in [-1, 1] (or one (C, H, W) image) at the size the
    model was trained on; ``directions`` lists what it can do (pix2pix: ``AtoB``; CycleGAN: both).
    The generator runs in eval mode: BatchNorm uses its running statistics and dropout is off, so
    the same input always gives the same output.
    """

    def __init__(
        self, generator: TranslationGenerator, config: Config, checkpoint: Path, device: torch.device
    ) -> None:
        self.generator = generator.eval()
        self.config, self.checkpoint, self.device = config, checkpoint, device

    @property
    def directions(self) -> tuple[str, ...]:
        return tuple(self.generator.directions)

    def input_shape(self, direction: str = "AtoB") -> tuple[int, ...]:
        """(C, H, W) of the images ``translate`` takes in ``direction``."""
        self._check_direction(direction)
        return tuple(self.generator.input_shape(direction))

    def _check_direction(self, direction: str) -> None:
        if direction not in self.directions:
            raise ConfigError(
                f"this run's model translates {' and '.join(self.directions)} only, not {direction!r}"
            )

    @property
    def conditions(self) -> tuple[str, ...]:
        """What ``translate`` needs besides the images: ``("mask",)`` (inpainting), ``("attr",)``
        (attribute editing), or nothing."""
        return tuple(self.generator.conditions)

    @torch.no_grad()
    def translate(
        self, x: Any, direction: str = "AtoB", batch_size: int = 64, **conditions: Any
    ) -> torch.Tensor:
        """Translate images ``x`` in ``direction``; the result is on the CPU, in [-1, 1].

        ``conditions`` are the model's ``conditions`` by name, e.g. ``mask=`` (1 = missing) for an
        inpainting run or ``attr=`` (target attribute values) for an editing run; one row is
        broadcast to every image.
        """
        c, h, w = self.input_shape(direction)
        x = torch.as_tensor(x, dtype=torch.float32)
        single = x.ndim == 3
        x = x[None] if single else x
        if x.ndim != 4 or len(x) == 0:
            raise DataError(f"translate needs (N, C, H, W) or (C, H, W) images, got shape {tuple(x.shape)}")
        if x.shape[1] != c:
            raise DataError(
                f"this translator takes {c}-channel images ({direction}), got {x.shape[1]} channel(s)"
            )
        if tuple(x.shape[-2:]) != (h, w):
            raise DataError(f"this translator takes {h}x{w} images, got {x.shape[-2]}x{x.shape[-1]}")
        if not torch.isfinite(x).all() or x.abs().max() > 1 + 1e-3:
            raise DataError("images to translate must be finite values in [-1, 1]")
        needed = self.conditions if direction == "AtoB" else ()
        missing = [k for k in needed if conditions.get(k) is None]
        unknown = [k for k in conditions if k not in needed]
        if missing or unknown:
            what = f"needs {', '.join(f'{k}=' for k in needed)}" if needed else "takes no conditions"
            raise ConfigError(
                f"this run's translator ({direction}) {what}; missing {missing}, unexpected {unknown}"
            )
        cond = {k: check_condition(k, conditions[k], len(x), (h, w)) for k in needed}
        step = max(1, batch_size)
        out = [
            self.generator(
                x[i : i + step].to(self.device),
                direction,
                **{k: v[i : i + step].to(self.device) for k, v in cond.items()},
            )
            .float()
            .cpu()
            for i in range(0, len(x), step)
        ]
        y = torch.cat(out).clamp_(-1.0, 1.0)
        return y[0] if single else y


def load_translator(
    run_dir: str | Path, ema: bool = True, checkpoint: str | Path | None = None, device: str = "cpu"
) -> TranslatorHandle:
    """Rebuild a translation run's generators (pix2pix, CycleGAN) from its newest (or given) checkpoint."""
    cfg, ckpt, g = _run_generator(run_dir, ema, checkpoint)
    if not isinstance(g, TranslationGenerator):
        raise CheckpointError(
            f"model '{cfg.model.name}' is not an image-to-image translator; use ganforge.load to sample it"
        )
    dev = resolve_device(device)
    return TranslatorHandle(g.to(dev), cfg, ckpt, dev)


__all__ = ["GeneratorHandle", "Run", "TranslatorHandle", "load", "load_translator", "sample_fixed", "train"]
