"""The Trainer callback of a tabular fit: per-epoch history, early stopping, a rich progress bar.

Early stopping: every ``eval_every`` epochs the callback asks ``score()`` (the validation fidelity
of a fixed-seed sample, ``fidelity.py``) and keeps a copy of the generator's weights whenever the
score beats the best so far by more than ``min_delta``. After ``patience`` evaluations without
such a gain it calls ``trainer.request_stop``; the model then restores the best weights. GAN
losses do not say when samples stop improving (a WGAN critic's loss hovers), so a sample-based
score is the signal; restoring the best weights also undoes the late drift GANs are prone to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ganforge.training.trainer import Trainer


class EpochMonitor:
    def __init__(
        self,
        steps_per_epoch: int,
        generator: torch.nn.Module,
        score: Callable[[int], float] | None = None,
        *,
        eval_every: int = 5,
        patience: int | None = None,
        min_delta: float = 0.0,
        progress: bool = False,
    ) -> None:
        self.steps_per_epoch, self.generator, self.score = steps_per_epoch, generator, score
        self.eval_every, self.patience, self.min_delta = eval_every, patience, min_delta
        self.history: list[dict[str, Any]] = []
        self.best_score = float("-inf")
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stale = 0  # evaluations since the last improvement
        self.stopped_epoch: int | None = None
        self.progress = Progress(
            TextColumn("[bold]tabular"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("epochs {task.fields[stats]}"),
            TimeElapsedColumn(),
            disable=not progress,
        )
        self.task: Any = None

    def on_train_start(self, trainer: Trainer) -> None:
        self.progress.start()
        self.task = self.progress.add_task("fit", total=trainer.steps // self.steps_per_epoch, stats="")

    def on_step_end(self, trainer: Trainer) -> None:
        step = trainer.state.step
        if self.stopped_epoch is not None or step % self.steps_per_epoch:
            return
        epoch = step // self.steps_per_epoch
        record: dict[str, Any] = {"epoch": epoch, **trainer.pop_window()}
        final = step >= trainer.steps
        if self.score is not None and (epoch % self.eval_every == 0 or final):
            record["fidelity"] = value = self.score(epoch)
            if value > self.best_score + self.min_delta:
                self.best_score, self.best_epoch, self.stale = value, epoch, 0
                self.best_state = {k: v.detach().clone() for k, v in self.generator.state_dict().items()}
            else:
                self.stale += 1
            if self.patience is not None and self.stale >= self.patience and not final:
                self.stopped_epoch = epoch
                trainer.request_stop(
                    f"validation fidelity did not improve for {self.patience} evaluations"
                    f" (best {self.best_score:.4f} at epoch {self.best_epoch})"
                )
        self.history.append(record)
        parts = [f"{k} {record[k]:.3f}" for k in ("loss_d", "loss_g", "fidelity") if k in record]
        self.progress.update(self.task, completed=epoch, stats="  ".join(parts))

    def on_train_end(self, trainer: Trainer) -> None:
        self.progress.stop()

    def on_train_abort(self, trainer: Trainer, error: BaseException) -> None:
        self.progress.stop()
