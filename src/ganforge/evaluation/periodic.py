"""Evaluation during training (``train.eval_every``) with best-checkpoint tracking.

Why: losses of a GAN say little about sample quality, and the best generator is often not the last
one (late collapse, oscillation). Every ``eval_every`` steps this callback scores the generator the
trainer would sample from (the EMA one when there is one) with the same metric code as
``ganforge eval``, appends a line to ``logs/evals.jsonl``, and when the first metric's headline
value (``Metric.headline``: FID, modes covered, StackedMNIST's KL, ...) improves, writes
``checkpoints/best.safetensors`` (+ ``best.json``): a full checkpoint, so ``ganforge.load(run,
checkpoint=run/"checkpoints/best.safetensors")`` and ``eval`` work on it. The best value so far is
checkpointed with the run (``trainer.scalars``), so a resumed run keeps it.

Early stopping (``train.patience``): after that many evaluations in a row without a better value,
training stops as a normal end (``Trainer.request_stop``). The count is derived from the best
value's step, so it survives a resume as the best value does; ``best.safetensors`` is then the
model to use.

Evaluation never touches the training state: samples come from a private RNG, the generator's
train/eval mode is restored, and the real features are computed once and kept.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ganforge.config import Config
from ganforge.errors import ConfigError, EvalError
from ganforge.evaluation.core import EvalContext, compute, get_metric, prepare
from ganforge.tasks import task_of
from ganforge.utils.io import truncate_jsonl_after

if TYPE_CHECKING:
    from ganforge.training.trainer import Trainer

BEST_KEY = "best_eval"


def periodic_eval(cfg: Config, run_dir: Path, dataset: Any = None) -> PeriodicEval | None:
    """The callback for ``train.eval_every`` (None when it is 0): a session builder's extra callback.
    ``dataset`` (the run's training data) lets a task take its reference from it (a table's
    validation rows) instead of loading it again."""
    return PeriodicEval(run_dir, cfg, dataset) if cfg.train.eval_every else None


class PeriodicEval:
    def __init__(self, run_dir: Path, cfg: Config, dataset: Any = None) -> None:
        train = cfg.train
        if train.eval_every < 0:
            raise ConfigError(f"train.eval_every must be >= 0 (0 turns it off), got {train.eval_every}")
        self.cfg, self.every = cfg, train.eval_every
        self.path = run_dir / "logs" / "evals.jsonl"
        self.best_path = run_dir / "checkpoints"
        # Checked now, at build time: a typo in eval_metrics must not surface hours into a run.
        self.task = task_of(cfg)
        try:
            self.task.check_evaluable(cfg)  # e.g. a translation run's test split must exist
        except EvalError as err:
            raise ConfigError(f"train.eval_every: {err}") from None
        self.names, self.n = prepare(cfg, train.eval_metrics or self.task.default_metrics(cfg), train.eval_n)
        headline = get_metric(self.names[0])
        self.key, self.higher_is_better = headline.headline, headline.higher_is_better
        self.extractor = train.eval_extractor
        self.patience = train.patience
        self._real: dict[str, Any] | None = None
        # What a task computes once per run (a table's reference rows), and the data it may take it from.
        self._cache: dict[str, Any] = {"dataset": dataset} if dataset is not None else {}

    def on_train_start(self, trainer: Trainer) -> None:
        """On resume, drop lines from after the checkpoint (they will be evaluated again); a run
        that early stopping already ended stays ended (``--resume`` of a finished run trains nothing)."""
        truncate_jsonl_after(self.path, trainer.state.step)
        reason = self.exhausted(trainer)
        if reason and trainer.state.step:
            trainer.stop_reason, trainer.steps = reason, trainer.state.step

    def exhausted(self, trainer: Trainer) -> str | None:
        """Why patience has run out at this step (``train.patience`` evaluations in a row without a
        better value, counted from the best value's step), or None."""
        best = trainer.scalars.get(BEST_KEY)
        if not self.patience or best is None:
            return None
        stale = (trainer.state.step - best["step"]) // self.every
        if stale < self.patience:
            return None
        at = f"best {best['value']:.4g} at step {best['step']}"
        return f"{self.key} did not improve for {stale} evaluations ({at})"

    def on_step_end(self, trainer: Trainer) -> None:
        step = trainer.state.step
        if step % self.every and step != trainer.steps:
            return
        if step == trainer.steps and trainer.stop_reason and self.exhausted(trainer):
            return  # the step after patience ran out: it was evaluated one step ago
        t0 = time.perf_counter()
        values = self.evaluate(trainer)
        value = values[self.key]
        best = trainer.scalars.get(BEST_KEY)
        improved = best is None or (value > best["value"] if self.higher_is_better else value < best["value"])
        if improved:
            best = {"metric": self.names[0], "key": self.key, "value": value, "step": step}
            trainer.scalars[BEST_KEY] = best
            self.save_best(trainer)
        line = {
            "step": step,
            "kimg": trainer.state.images_seen / 1000,
            **values,
            "n": self.n,
            "best": improved,
            "eval_s": round(time.perf_counter() - t0, 3),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:
            fh.write(json.dumps(line) + "\n")
        reason = self.exhausted(trainer)
        if reason and step != trainer.steps:
            trainer.request_stop(reason)

    def evaluate(self, trainer: Trainer) -> dict[str, Any]:
        generator = trainer.sampling_generator
        was_training = generator.training
        # Building an extractor initialises layers from the global RNG, which also draws training's
        # noise: fork it, so a run with evaluations trains exactly like one without.
        cuda = [trainer.device] if trainer.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            try:
                handle = self.task.wrap(generator, self.cfg, Path(), trainer.device, trainer.info)
                ctx = EvalContext(
                    self.cfg, self.n, seed=0, device=str(trainer.device), extractor_name=self.extractor,
                    handle=handle, real=self._real, cache=self._cache,
                )  # fmt: skip
                values, _ = compute(ctx, self.names)
                self._real = ctx.real
            finally:
                generator.train(was_training)
        return values

    def save_best(self, trainer: Trainer) -> None:
        from ganforge.training.checkpoint import save_named_checkpoint

        tensors, meta = trainer.state_tensors()
        save_named_checkpoint(self.best_path, "best", trainer.state.step, tensors, meta)
