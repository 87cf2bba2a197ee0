"""Task ``generation``: noise (and a label) in, a sample out; scored on samples against the training data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.config import Config
from ganforge.errors import ConfigError
from ganforge.models.base import Generator
from ganforge.models.translation import TranslationGenerator
from ganforge.registry import DATASETS, register_task
from ganforge.tasks.base import Graph, Handle, Task
from ganforge.tasks.graphs import sampler_graph
from ganforge.tasks.sample_folder import check_sample_folder, is_folder_target, write_sample_folder
from ganforge.tasks.views import (
    INTERP_ROWS,
    INTERP_STEPS,
    SCATTER_N,
    SEED,
    GeneratedView,
    interpolation_strip,
    weights_of,
)
from ganforge.utils.figures import scatter_figure
from ganforge.utils.images import save_samples_picture


class GeneratorHandle(Handle):
    """A trained generator ready to sample: ``load("runs/quickstart").sample(16, seed=0)``."""

    generator: Generator

    @property
    def num_classes(self) -> int:
        """Classes the generator is conditioned on; 0 for an unconditional one (labels ignored)."""
        if not getattr(self.generator, "conditional", False):
            return 0
        return int(getattr(self.generator, "num_classes", 0))

    def labels_for(self, n: int, labels: Any = None) -> torch.Tensor | None:
        """The ``n`` samples' labels: ``labels`` (one for all, or one each), or for a conditional
        generator given none its classes 0..K-1 in turn; None for an unconditional one given none."""
        if labels is None and self.num_classes:
            return torch.arange(n) % self.num_classes
        if labels is None:
            return None
        if np.ndim(labels) == 0:
            return torch.as_tensor(labels, dtype=torch.long).expand(n)
        return torch.as_tensor(labels)

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
        labels = self.labels_for(n, labels)
        gen = torch.Generator().manual_seed(seed)
        z = self.generator.sample_z(n, generator=gen)
        out = []
        for start in range(0, n, batch_size):
            y = labels[start : start + batch_size].to(self.device) if labels is not None else None
            zb = z[start : start + batch_size].to(self.device)
            out.append(self.generator.generate(zb, y, truncation=truncation).float().cpu())
        return torch.cat(out).contiguous()

    def save(
        self,
        path: str | Path,
        n: int,
        seed: int = 0,
        labels: Any = None,
        truncation: float = 1.0,
        force: bool = False,
    ) -> Path:
        """``.png`` -> a grid (or scatter plot); ``.npz`` -> arrays ``x`` (and ``y``); a folder (a
        trailing ``/``, an existing folder, a name without suffix) -> one PNG per sample and, for a
        conditional generator, ``labels.csv`` (``tasks/sample_folder.py``; ``force`` replaces an
        earlier draw there). Returns the file or folder written."""
        if is_folder_target(path):
            folder = Path(path)
            check_sample_folder(folder, tuple(self.generator.out_shape), force)
            x = self.sample(n, seed=seed, labels=labels, truncation=truncation)
            write_sample_folder(folder, x, self.labels_for(n, labels) if self.num_classes else None)
            return folder
        path = Path(path)
        if path.suffix.lower() not in (".png", ".npz"):
            raise ConfigError(
                f"cannot write samples to '{path}': the name must end in .png or .npz, or name a folder"
                " (end it with /)"
            )
        x = self.sample(n, seed=seed, labels=labels, truncation=truncation)
        if path.suffix.lower() == ".npz":
            arrays = {"x": x.numpy()}
            if labels is not None:
                arrays["y"] = np.broadcast_to(np.asarray(labels), (n,)).astype(np.int64)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, **arrays)
            return path
        return save_samples_picture(x, path)


@register_task("generation", description="noise [+ label] -> sample: GANs that sample a latent")
class GenerationTask(Task):
    handle_class = GeneratorHandle
    report_title = "Latent interpolation"
    loader = "ganforge.load (or `ganforge sample`)"
    network = Generator

    def accepts(self, g: nn.Module) -> bool:
        return super().accepts(g) and not isinstance(g, TranslationGenerator)  # translators are Generators

    def eval_samples(self, ctx: Any) -> torch.Tensor:
        return ctx.generator().sample(ctx.n, seed=ctx.seed)

    def export_graph(self, handle: Any, direction: str = "AtoB", truncation: float = 1.0) -> Graph:
        return sampler_graph(handle.generator, handle.num_classes, truncation)

    def report_view(self, handle: GeneratorHandle) -> GeneratedView | None:
        """The interpolation strip for image generators, the scatter for vectors (over the mixture's
        centres when the dataset has ``mixture`` metadata); else ``None``."""
        shape = tuple(getattr(handle.generator, "out_shape", ()))
        which, step = weights_of(handle), handle.checkpoint.stem
        if len(shape) == 3:
            return GeneratedView(
                "interpolation",
                interpolation_strip(handle),
                f"{INTERP_ROWS} rows, each a spherical interpolation (slerp) in {INTERP_STEPS} steps between"
                f" two fixed-seed latents (seed {SEED}), {which} generator of {step}.",
            )
        if len(shape) == 1 and shape[0] >= 2:
            x = handle.sample(SCATTER_N, seed=SEED).numpy().astype(np.float64)
            centres, std = mixture_of(handle.config)
            where = "over the training mixture's centres (circles: 3 std)" if centres is not None else ""
            dims = "" if shape[0] == 2 else f" (first two of {shape[0]} dimensions)"
            caption = f"{SCATTER_N:,} samples (seed {SEED}){dims} {where}, {which} generator of {step}."
            return GeneratedView("scatter", scatter_figure(x, centres, std), caption.replace("  ", " "))
        return None


def mixture_of(cfg: Config) -> tuple[np.ndarray | None, float | None]:
    """The centres and std of the mixture a run was trained on (its dataset's ``mixture``
    metadata), or ``None, None`` for data that are no known mixture."""
    mixture = DATASETS.get(cfg.data.name).meta.get("mixture") if cfg.data.name in DATASETS else None
    if mixture is None:
        return None, None
    centres, std = mixture(cfg.data.params)
    return np.asarray(centres, dtype=np.float64), float(std)
