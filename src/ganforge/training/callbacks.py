"""Everything a run writes besides weights updates: logs, sample grids, checkpoints, progress.

Each is a small callback the Trainer calls by event; only the main process gets them (the builder
decides), so rank 0 alone writes to the run dir.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ganforge.training.checkpoint import checkpoint_name, prune_checkpoints, save_checkpoint
from ganforge.training.interrupt import TrainingInterrupted
from ganforge.training.trainer import Stopwatch, Trainer
from ganforge.utils.images import save_samples_picture
from ganforge.utils.io import atomic_write_json, truncate_jsonl_after
from ganforge.utils.optional import optional

# The metrics every log line shows first, in this order; everything else follows alphabetically.
HEADLINE = ("step", "kimg", "loss_d", "loss_g", "d_real", "d_fake", "d_acc", "img_per_s")
# Where training reports its progress when no terminal shows the bar (ProgressLog).
LOG = logging.getLogger("ganforge.train")


_tensorboard_noted = False  # the "no tensorboard" note is said once per process, not once per run


def summary_writer() -> Any:
    """torch's ``SummaryWriter`` class, or None without the ``tensorboard`` extra. Every run mirrors
    its metrics to TensorBoard by default, so a core install must not fail on it: the run logs to
    ``logs/metrics.jsonl`` alone (which ``report`` and ``Run.metrics`` read) and says so once."""
    global _tensorboard_noted
    if optional("tensorboard") is not None:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter
    if not _tensorboard_noted:
        _tensorboard_noted = True
        Console(stderr=True, highlight=False).print(
            "note: tensorboard is not installed, so metrics go to logs/metrics.jsonl only"
            " (for TensorBoard event files: pip install 'ganforge[tensorboard]')",
            soft_wrap=True,
            markup=False,  # the brackets of ganforge[tensorboard] are text, not rich markup
        )
    return None


class MetricsLogger:
    """One JSON object per log step in ``logs/metrics.jsonl``, mirrored to TensorBoard when it is
    installed (the ``tensorboard`` extra).

    Every line has ``step``, ``kimg``, the window means of the objective's stats (losses, ``d_real``,
    ``d_fake``, ...), gradient norms, learning rates, and ``img_per_s``: real images consumed per
    second over the log window (all processes together).
    """

    def __init__(self, run_dir: Path, every: int, tensorboard: bool = True) -> None:
        self.path = run_dir / "logs" / "metrics.jsonl"
        self.every = every
        self.tensorboard = tensorboard
        self.writer: Any = None
        self.clock = Stopwatch()
        self.last: dict[str, float] = {}

    def on_train_start(self, trainer: Trainer) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        truncate_jsonl_after(self.path, trainer.state.step)  # resume: no duplicate steps
        writer_class = summary_writer() if self.tensorboard else None
        if writer_class is not None:
            # On resume, TensorBoard drops the events the crashed run logged after the checkpoint.
            purge = trainer.state.step + 1 if trainer.state.step else None
            self.writer = writer_class(log_dir=str(self.path.parent), purge_step=purge)
        self.clock.reset(trainer.state.images_seen)

    def on_step_end(self, trainer: Trainer) -> None:
        step = trainer.state.step
        if step % self.every and step != trainer.steps:
            return
        stats = trainer.pop_window()
        record = {
            "step": step,
            "kimg": trainer.state.images_seen / 1000,
            **stats,
            **trainer.learning_rates(),
            "img_per_s": self.clock.rate(trainer.state.images_seen),
            "time": time.time(),
        }
        ordered = {k: record[k] for k in HEADLINE if k in record}
        ordered.update({k: record[k] for k in sorted(record) if k not in ordered})
        with self.path.open("a") as fh:
            fh.write(json.dumps(ordered) + "\n")
        if self.writer is not None:
            for key, value in ordered.items():
                if key not in ("step", "time"):
                    self.writer.add_scalar(key, value, step)
        self.last = trainer.last_metrics = ordered
        self.clock.reset(trainer.state.images_seen)

    def on_train_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()

    def on_train_abort(self, trainer: Trainer, error: BaseException) -> None:
        self.on_train_end(trainer)


class SampleGrid:
    """Fixed-seed samples every ``every`` steps: the same latents each time, so grids are comparable.
    Each picture also goes to the ``board`` logger's TensorBoard writer (tag ``samples``), when it
    has one, so the grids sit beside the loss curves."""

    def __init__(
        self,
        run_dir: Path,
        every: int,
        n: int,
        seed: int,
        real: torch.Tensor | None = None,
        board: MetricsLogger | None = None,
    ) -> None:
        self.dir = run_dir / "samples"
        self.every, self.n, self.seed = every, n, seed
        self.real, self.board = real, board
        self.latest: Path | None = None

    def on_step_end(self, trainer: Trainer) -> None:
        step = trainer.state.step
        if step % self.every == 0 or step == trainer.steps:
            self.write(trainer)

    def write(self, trainer: Trainer) -> Path | None:
        """Draw the step's picture into ``samples/step_N.png`` (and TensorBoard); None when there is
        nothing to draw."""
        path = self.draw(trainer, self.dir / f"{checkpoint_name(trainer.state.step)}.png")
        if path is not None:
            self.latest = path
            self.to_tensorboard(path, trainer.state.step)
        return path

    def draw(self, trainer: Trainer, path: Path) -> Path | None:
        """Latent samples; or, where the objective previews (translation: ``Objective.preview``) and
        the stream has a ``fixed_batch``, its panels (input | output | target ...) of that batch, one
        cell each; nothing for a generator that draws no latents (a table's rows are not a picture)."""
        g = trainer.sampling_generator
        fixed_batch = getattr(trainer.batches, "fixed_batch", None)
        panels = None
        if fixed_batch is not None:
            panels = preview_fixed(trainer.objective.preview, g, fixed_batch(self.n))  # (N, K, C, H, W)
        if panels is not None:
            cells, per_cell = panels.shape[:2]
            nrow = per_cell * math.ceil(math.sqrt(cells))
            return save_samples_picture(panels.flatten(0, 1), path, nrow=nrow)
        if getattr(g, "sample_z", None) is None:
            return None
        return save_samples_picture(sample_fixed(g, self.n, self.seed, trainer.device), path, self.real)

    def to_tensorboard(self, path: Path, step: int) -> None:
        """The PNG just written, as TensorBoard image ``samples`` at ``step`` (read back from the file,
        so TensorBoard shows exactly the picture on disk, grid or scatter plot)."""
        writer = self.board.writer if self.board is not None else None
        if writer is None:
            return
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        writer.add_image("samples", pixels, step, dataformats="HWC")


@torch.no_grad()
def preview_fixed(preview: Any, g: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """``preview(g, batch)`` in eval mode, for the reasons ``sample_fixed`` gives (and no dropout);
    None where the objective shows latent samples instead."""
    was_training = g.training
    g.eval()
    try:
        panels = preview(g, batch)
        return None if panels is None else panels.float().contiguous()
    finally:
        g.train(was_training)


@torch.no_grad()
def sample_fixed(
    g: torch.nn.Module, n: int, seed: int, device: torch.device, labels: Any = None
) -> torch.Tensor:
    """Draw ``n`` samples from a private RNG (the training RNG is untouched) in eval mode.

    Eval mode matters twice: BatchNorm uses running statistics instead of updating them, so
    sampling never changes the model, and resuming stays bit-exact.
    """
    gen = torch.Generator(device="cpu").manual_seed(seed)
    z = g.sample_z(n, generator=gen).to(device)
    if labels is None and getattr(g, "num_classes", 0):
        labels = torch.arange(n, device=device) % g.num_classes
    was_training = g.training
    g.eval()
    try:
        out = g(z, labels)
    finally:
        g.train(was_training)
    return out.float().contiguous()


class Checkpointer:
    """Atomic checkpoints every ``every`` steps and at the end; keeps the newest ``keep_last``."""

    def __init__(self, run_dir: Path, every: int, keep_last: int) -> None:
        self.dir = run_dir / "checkpoints"
        self.every, self.keep_last = every, keep_last

    def on_train_start(self, trainer: Trainer) -> None:
        """Delete temporary files a killed run left mid-write (atomic writes name them ``.*.tmp``)."""
        if self.dir.is_dir():
            for stale in self.dir.glob(".*.tmp"):
                stale.unlink(missing_ok=True)

    def on_step_end(self, trainer: Trainer) -> None:
        step = trainer.state.step
        if step % self.every == 0 or step == trainer.steps:
            self.save(trainer)

    def on_train_abort(self, trainer: Trainer, error: BaseException) -> None:
        """A stop signal ends training between steps (``interrupt.py``): that step is whole, so it is
        saved and ``--resume`` loses nothing. Any other abort leaves the last periodic checkpoint."""
        if isinstance(error, TrainingInterrupted):
            self.save(trainer)

    def save(self, trainer: Trainer) -> Path:
        tensors, meta = trainer.state_tensors()
        path = save_checkpoint(self.dir, trainer.state.step, tensors, meta)
        prune_checkpoints(self.dir, self.keep_last)
        return path


class ProgressBar:
    """A rich progress bar: step, losses, img/s and ETA, refreshed at each log step."""

    def __init__(self, logger: MetricsLogger, enabled: bool = True) -> None:
        self.logger, self.enabled = logger, enabled
        self.progress: Progress | None = None
        self.task: Any = None

    def on_train_start(self, trainer: Trainer) -> None:
        if not self.enabled:
            return
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task(
            "train", total=trainer.steps, completed=trainer.state.step, stats=""
        )

    def on_step_end(self, trainer: Trainer) -> None:
        if self.progress is None:
            return
        last = self.logger.last
        stats = ""
        if last.get("step") == trainer.state.step:
            parts = [f"{k} {last[k]:.3f}" for k in ("loss_d", "loss_g") if k in last]
            parts.append(f"{last.get('img_per_s', 0):.0f} img/s")
            stats = "  ".join(parts)
        self.progress.update(self.task, completed=trainer.state.step, **({"stats": stats} if stats else {}))

    def on_train_end(self, trainer: Trainer) -> None:
        if self.progress is not None:
            self.progress.stop()

    def on_train_abort(self, trainer: Trainer, error: BaseException) -> None:
        self.on_train_end(trainer)  # give the terminal back before the error is printed


class ProgressLog:
    """Progress where no terminal shows a bar (stdout a pipe or a file: cluster logs, CI): one plain
    line every ``every_s`` seconds and at the last step, through ``logging`` (logger
    ``ganforge.train``, level INFO), so it lands wherever the program sends its logs::

        step 1200/3000 kimg 76.8 loss_d 0.61 loss_g 1.02 img/s 41.3 eta 00:02:31

    The losses are the newest log line's (``train.log_every``); img/s is measured since the previous
    line, the ETA from this process's pace since it started (a resumed run: since the resume).
    """

    def __init__(self, logger: MetricsLogger, every_s: float) -> None:
        self.logger, self.every_s = logger, every_s
        self.since_line, self.since_start = Stopwatch(), Stopwatch()
        self.first_step = 0

    def on_train_start(self, trainer: Trainer) -> None:
        self.since_line.reset(trainer.state.images_seen)
        self.since_start.reset(trainer.state.images_seen)
        self.first_step = trainer.state.step

    def on_step_end(self, trainer: Trainer) -> None:
        if trainer.state.step == trainer.steps or self.since_line.elapsed() >= self.every_s:
            LOG.info(self.line(trainer))
            self.since_line.reset(trainer.state.images_seen)

    def line(self, trainer: Trainer) -> str:
        step, last = trainer.state.step, self.logger.last
        parts = [f"step {step}/{trainer.steps}", f"kimg {trainer.state.images_seen / 1000:.1f}"]
        parts += [f"{key} {last[key]:.3g}" for key in ("loss_d", "loss_g") if key in last]
        parts.append(f"img/s {self.since_line.rate(trainer.state.images_seen):.1f}")
        done = step - self.first_step
        left = self.since_start.elapsed() / done * (trainer.steps - step) if done > 0 else 0.0
        return " ".join([*parts, f"eta {clock(left)}"])


def clock(seconds: float) -> str:
    """``hh:mm:ss`` (hours past 99 keep their digits)."""
    whole = round(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def stdout_is_terminal() -> bool:
    """Whether stdout shows a live bar: a terminal, or a notebook (rich draws its bar there too)."""
    from rich.console import Console

    return sys.stdout.isatty() or Console().is_jupyter


def progress_display(
    logger: MetricsLogger, enabled: bool, every_s: float
) -> ProgressBar | ProgressLog | None:
    """``train.progress``'s display: the rich bar on a terminal, plain ``logging`` lines every
    ``every_s`` seconds elsewhere (a bar redrawn into a file is noise), none when disabled."""
    if not enabled:
        return None
    return ProgressBar(logger) if stdout_is_terminal() else ProgressLog(logger, every_s)


class Summary:
    """``summary.json``: what a script needs after a run (final step, last metrics, wall time, samples).

    ``warnings`` lists the run's diagnostics and guard events (``logs/events.jsonl``), so a sweep
    can tell a healthy run from a collapsed one without parsing logs. A run stopped by an error
    (e.g. ``TrainingDivergedError``) still gets a summary, with the error's message under ``error``.
    """

    def __init__(self, run_dir: Path, logger: MetricsLogger, sampler: SampleGrid, events: Any = None) -> None:
        self.path = run_dir / "summary.json"
        self.logger, self.sampler, self.events = logger, sampler, events
        self.t0 = 0.0

    def on_train_start(self, trainer: Trainer) -> None:
        self.t0 = time.perf_counter()

    def on_train_end(self, trainer: Trainer) -> None:
        self.write(trainer)

    def on_train_abort(self, trainer: Trainer, error: BaseException) -> None:
        interrupted = {"interrupted": error.signal_name} if isinstance(error, TrainingInterrupted) else {}
        self.write(trainer, error=str(error) or type(error).__name__, **interrupted)

    def write(self, trainer: Trainer, **extra: Any) -> None:
        atomic_write_json(
            self.path,
            {
                "step": trainer.state.step,
                "kimg": trainer.state.images_seen / 1000,
                "wall_time_s": round(time.perf_counter() - self.t0, 3),
                "last_metrics": self.logger.last,
                "latest_samples": str(self.sampler.latest) if self.sampler.latest else None,
                "device": str(trainer.device),
                "world_size": trainer.dist.world_size,
                "warnings": list(self.events.events) if self.events is not None else [],
                **({"best": trainer.scalars["best_eval"]} if "best_eval" in trainer.scalars else {}),
                **({"stopped_early": trainer.stop_reason} if trainer.stop_reason else {}),
                **extra,
            },
        )
