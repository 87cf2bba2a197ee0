"""One generic training loop for every family: it runs an Objective's phases and knows no model.

Per step, for each phase due (``Phase.due``: its stage and its ``every``), ``repeats`` times: draw a
batch, switch ``requires_grad`` on for exactly the phase's network, compute the objective's loss
under autocast, backward, average gradients across processes, step that network's optimiser. Then update the
generator EMA and hand the step's statistics to the callbacks (logging, samples, checkpoints, ...).
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganforge.config import OptimizerConfig
from ganforge.errors import ConfigError
from ganforge.objectives.base import Batch, Objective, Phase
from ganforge.training.checkpoint import (
    capture_rng,
    flatten_optimizer,
    load_module_state,
    restore_rng,
    unflatten_optimizer,
)
from ganforge.training.ema import EMA
from ganforge.training.guard import DivergenceGuard
from ganforge.training.interrupt import SignalStop, TrainingInterrupted
from ganforge.training.precision import Precision
from ganforge.training.schedules import LrSchedule
from ganforge.utils.distributed import DistInfo, average_buffers, average_gradients, mean_across_ranks


class Callback:
    """Hooks the Trainer calls by event name (minGPT style): the built-in logging, samples and
    checkpoints, and users' own (``ganforge.train(..., callbacks=[...])``). Subclass it and override
    what you need (each method here does nothing); any object with some of these methods works too,
    since the Trainer looks each one up by name.

    A hook reads the run from ``trainer``: ``trainer.state.step`` (steps done), ``trainer.steps``
    (the last step), ``trainer.last_metrics`` (the newest log line) and ``trainer.request_stop(reason)``
    ends training after the next step as a normal end.
    """

    def on_train_start(self, trainer: Trainer) -> None:
        """Before the first step (a resumed run: with the checkpoint's state restored)."""

    def on_step_end(self, trainer: Trainer) -> None:
        """After each step; ``trainer.state.step == trainer.steps`` on the last one."""

    def on_train_end(self, trainer: Trainer) -> None:
        """Once training ends normally. Users' callbacks come after the built-in ones, so the final
        checkpoint, samples and ``summary.json`` are on disk by then."""

    def on_train_abort(self, trainer: Trainer, error: BaseException) -> None:
        """Instead of ``on_train_end`` when training raises (divergence, Ctrl-C): stop bars, close files."""


HOOKS = tuple(name for name in vars(Callback) if name.startswith("on_"))


def check_callbacks(callbacks: Sequence[Any]) -> list[Any]:
    """``callbacks`` as a list, each checked to be an object with at least one hook (a function or
    a class passed by mistake would otherwise be skipped or misused silently)."""
    for cb in callbacks:
        if isinstance(cb, type):  # its hooks would be called with the trainer as ``self``
            raise ConfigError(f"callback {cb.__name__} is a class: pass an instance, {cb.__name__}()")
        if not any(callable(getattr(cb, hook, None)) for hook in HOOKS):
            raise ConfigError(
                f"callback {cb!r} has none of the hooks {', '.join(HOOKS)}: subclass ganforge.Callback"
            )
    return list(callbacks)


def fused_supported(params: list[torch.Tensor]) -> bool:
    """Fused Adam (one kernel for all tensors, ~5x faster steps on CPU) needs float params on cpu/cuda."""
    return bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)


def _adam(params: list[torch.Tensor], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(
        params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay,
        fused=fused_supported(params),
    )  # fmt: skip


def _rmsprop(params: list[torch.Tensor], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    return torch.optim.RMSprop(params, lr=cfg.lr, eps=cfg.eps, weight_decay=cfg.weight_decay)


def _sgd(params: list[torch.Tensor], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """SGD with momentum ``betas[0]``: the one setting the config shares with Adam's first moment."""
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.betas[0], weight_decay=cfg.weight_decay)


# ``optim.<net>.name`` -> its builder (the config's Literal lists the same names).
OPTIMIZERS = {"adam": _adam, "rmsprop": _rmsprop, "sgd": _sgd}


def build_optimizer(params: Any, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    return OPTIMIZERS[cfg.name](list(params), cfg)


def grad_norm(module: nn.Module) -> torch.Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)).float())  # as clip_grad_norm_


def match_param_layout(opt: torch.optim.Optimizer) -> None:
    """Give loaded optimiser state its parameter's memory layout (e.g. channels_last).

    Checkpoints store tensors contiguous; fused optimiser kernels walk param, grad and state memory
    in lockstep, so a moment buffer in another layout than its parameter would be silently wrong.
    """
    for group in opt.param_groups:
        for p in group["params"]:
            for key, value in opt.state.get(p, {}).items():
                if (
                    isinstance(value, torch.Tensor)
                    and value.shape == p.shape
                    and value.stride() != p.stride()
                ):
                    opt.state[p][key] = torch.empty_like(p, dtype=value.dtype).copy_(value)


@dataclass
class TrainState:
    step: int = 0  # completed steps
    images_seen: int = 0  # real images consumed, all processes together


class Trainer:
    def __init__(
        self,
        objective: Objective,
        batches: Iterator[Batch],
        optim: dict[str, OptimizerConfig],
        *,
        steps: int,
        batch_size: int,
        device: torch.device,
        precision: str = "fp32",
        dist: DistInfo | None = None,
        ema_kimg: float = 10.0,
        ema_rampup: float | None = 0.05,
        measure_every: int = 50,
        callbacks: Sequence[Any] = (),
        info: dict[str, Any] | None = None,
        guard: DivergenceGuard | None = None,
        lr_schedule: LrSchedule | None = None,
        max_seconds: float = 0.0,
    ) -> None:
        self.objective = objective
        self.batches = batches
        self.nets = objective.networks()
        self.phases: list[Phase] = objective.phases()
        self.steps, self.batch_size, self.device = steps, batch_size, device
        self.dist = dist or DistInfo()
        self.measure_every = measure_every
        self.callbacks = list(callbacks)
        self.optimizers = {
            name: build_optimizer(net.parameters(), optim[name]) for name, net in self.nets.items()
        }
        self.precision = Precision(precision, device, self.optimizers)
        for opt in self.optimizers.values():  # the schedule scales base_lr (checkpointed with the groups)
            for group in opt.param_groups:
                group.setdefault("base_lr", group["lr"])
        self.lr_schedule = lr_schedule
        self.ema = (
            {"g": EMA(self.nets["g"], ema_kimg, ema_rampup)} if ema_kimg > 0 and "g" in self.nets else {}
        )
        self.state = TrainState()
        self.last_batch: Batch | None = None
        self.window: dict[str, torch.Tensor] = {}
        self.window_counts: dict[str, int] = {}
        self.scalars: dict[str, Any] = {}  # extra state callbacks want checkpointed (e.g. ADA's p)
        self.info = dict(info or {})  # facts about the run a loader needs (e.g. the data's shape)
        self.last_metrics: dict[str, float] = {}  # the newest log line (MetricsLogger), for hooks to read
        self.guard = guard  # NaN/inf and exploding-gradient rollback (guard.py)
        # Modules whose behaviour follows training progress (``set_progress(step / steps)``, called
        # before every step, so a resumed run sets the same values an uninterrupted one does).
        self._progress_aware = [
            m
            for net in self.nets.values()
            for m in net.modules()
            if callable(getattr(m, "set_progress", None))
        ]
        self.max_seconds = max_seconds  # wall-clock budget of this fit() call; 0: none
        self.stop_reason: str | None = None  # set by request_stop (early stopping) or the time budget
        self._stop_requested = False

    def request_stop(self, reason: str) -> None:
        """End training after the next step, as a normal end (callbacks see it as the final step).

        Early-stopping callbacks call this from ``on_step_end``; the step after the request becomes
        the last one, so final samples, checkpoint and summary are written as for a full run.
        """
        self.stop_reason, self._stop_requested = reason, True

    # ------------------------------------------------------------------ the loop
    def run_phase(self, phase: Phase, measure: bool) -> None:
        for name, net in self.nets.items():
            net.requires_grad_(name == phase.trains or name in phase.keep_graph)
        net, opt = self.nets[phase.trains], self.optimizers[phase.trains]
        for _ in range(phase.repeats):
            if phase.fresh_batch or self.last_batch is None:
                self.last_batch = next(self.batches)
                self.state.images_seen += len(self.last_batch["x"]) * self.dist.world_size
            batch = self.last_batch
            with self.precision.autocast():
                out = phase.step(batch)
            opt.zero_grad(set_to_none=True)
            self.precision.backward(phase.trains, out["loss"])
            average_gradients(net, self.dist.world_size)
            if measure or self.guard is not None:
                self.precision.unscale(phase.trains, opt)
                norm = self.precision.finite_norm(phase.trains, grad_norm(net))
                if measure:
                    self.record({f"grad_norm_{phase.trains}": norm})
                if self.guard is not None:  # device-side flags only: no host sync per step
                    self.guard.observe(phase.trains, out["loss"], norm)
            self.precision.step(phase.trains, opt)
            self.objective.after_optimizer_step(phase)  # e.g. WGAN weight clipping
            self.record({k: v for k, v in out.items() if k != "loss"})

    def train_step(self) -> None:
        step = self.state.step
        if self.lr_schedule is not None:
            self.apply_lr_schedule(step)
        for module in self._progress_aware:  # e.g. an annealed latent (models/mlp.py)
            module.set_progress(step / self.steps)
        measure = (step + 1) % self.measure_every == 0 or step + 1 == self.steps  # log steps
        for phase in self.phases:
            if phase.due(step):
                self.run_phase(phase, measure)
        if self.dist.enabled:  # BatchNorm statistics differ per rank; keep one copy, as DDP does
            self.sync_buffers()
            if measure:  # log steps: every rank joins, so rank 0 logs means over all processes
                self.reduce_window()
                if not self.dist.is_main:  # only rank 0 logs (and so empties) its window
                    self.pop_window()
        for name, ema in self.ema.items():
            ema.update(self.nets[name], self.batch_size, self.state.images_seen)
        self.state.step += 1

    def fit(self) -> None:
        for net in self.nets.values():
            net.train()
        started = time.perf_counter()
        try:  # from the first hook on: a failure anywhere still reaches every on_train_abort
            self._emit("on_train_start")
            if self.guard is not None:
                self.guard.snapshot(self)
            with SignalStop() as signals:  # SIGTERM/SIGINT/SIGUSR1: stop after this step (interrupt.py)
                while self.state.step < self.steps:
                    self.train_step()
                    if self.guard is not None and self.guard.check(self):
                        continue  # rolled back: no callback may log or save the discarded state
                    if self._should_stop(started):
                        self.steps = self.state.step  # every callback treats this step as the final one
                    self._emit("on_step_end")
                    self._stop_on_signal(signals.received)
        except BaseException as err:
            for hook in filter(None, (getattr(cb, "on_train_abort", None) for cb in self.callbacks)):
                with contextlib.suppress(Exception):  # never mask the original error
                    hook(self, err)
            raise
        self._emit("on_train_end")

    def _stop_on_signal(self, received: int | None) -> None:
        """Raise ``TrainingInterrupted`` after a step when a stop signal came; under DDP when any
        rank got one (an all-reduce every step), so all ranks stop after the same step."""
        if self.dist.enabled:
            flag = torch.tensor(float(received is not None), device=self.device)
            if mean_across_ranks([flag], self.dist.world_size)[0].item() == 0:
                return
            received = received or signal.SIGTERM  # a rank the signal has not reached (yet)
        if received is not None and self.state.step < self.steps:  # a finished run ends as finished
            raise TrainingInterrupted(received, self.state.step)

    def _should_stop(self, started: float) -> bool:
        """A requested stop, or the time budget spent. Under DDP the ranks decide together (a mean
        over ranks on log steps only), so no process stops alone and leaves the others waiting."""
        over_budget = self.max_seconds > 0 and time.perf_counter() - started > self.max_seconds
        if over_budget and self.stop_reason is None:
            self.stop_reason = f"time budget of {self.max_seconds:g} s spent"
        stop = self._stop_requested or over_budget
        if not self.dist.enabled:
            return stop
        if self.state.step % self.measure_every:
            return False
        flag = torch.tensor(float(stop), device=self.device)
        return bool(mean_across_ranks([flag], self.dist.world_size)[0].item() > 0)

    def _emit(self, event: str) -> None:
        for cb in self.callbacks:
            hook = getattr(cb, event, None)
            if hook is not None:
                hook(self)

    # ------------------------------------------------------------------ statistics
    def record(self, stats: dict[str, torch.Tensor | float]) -> None:
        """Accumulate detached scalars; no host sync here (``.item()`` waits for the GPU)."""
        for key, value in stats.items():
            value = value.detach().float() if isinstance(value, torch.Tensor) else torch.tensor(float(value))
            self.window[key] = self.window[key] + value if key in self.window else value
            self.window_counts[key] = self.window_counts.get(key, 0) + 1

    def reduce_window(self) -> None:
        """Replace each rank's window sums by their mean over ranks (all ranks must call it)."""
        keys = list(self.window)
        means = mean_across_ranks([self.window[k] for k in keys], self.dist.world_size)
        self.window.update(zip(keys, means, strict=True))

    def pop_window(self) -> dict[str, float]:
        """Means of everything recorded since the last call (one host sync per log step)."""
        keys = list(self.window)
        if not keys:
            return {}
        values = torch.stack([self.window[k].reshape(()).cpu() for k in keys]).tolist()
        means = {k: v / self.window_counts[k] for k, v in zip(keys, values, strict=True)}
        self.window.clear()
        self.window_counts.clear()
        return {k: (v if math.isfinite(v) else float("nan")) for k, v in means.items()}

    def apply_lr_schedule(self, step: int) -> None:
        factor = self.lr_schedule(step) if self.lr_schedule is not None else 1.0
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = group["base_lr"] * factor

    def learning_rates(self) -> dict[str, float]:
        return {f"lr_{name}": opt.param_groups[0]["lr"] for name, opt in self.optimizers.items()}

    # ------------------------------------------------------------------ generator for sampling
    @property
    def sampling_generator(self) -> nn.Module:
        """EMA generator when there is one (better samples), else the live one."""
        return self.ema["g"].model if "g" in self.ema else self.nets["g"]

    def sync_buffers(self) -> None:
        for net in self.nets.values():
            average_buffers(net, self.dist.world_size)

    # ------------------------------------------------------------------ checkpoint state
    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors: dict[str, torch.Tensor] = {}
        meta: dict[str, Any] = {
            "images_seen": self.state.images_seen,
            "optim": {},
            "scalars": dict(self.scalars),
            "info": self.info,
        }
        for name, net in self.nets.items():
            tensors.update({f"nets.{name}.{k}": v for k, v in net.state_dict().items()})
        for name, ema in self.ema.items():
            tensors.update({f"ema.{name}.{k}": v for k, v in ema.model.state_dict().items()})
        for name, opt in self.optimizers.items():
            opt_tensors, opt_meta = flatten_optimizer(f"optim.{name}", opt.state_dict())
            tensors.update(opt_tensors)
            meta["optim"][name] = opt_meta
        obj_state = self.objective.state_dict()  # objective state: ADA's p, LeCam's EMAs, ...
        tensors.update({f"objective.{k}": v for k, v in obj_state.items() if isinstance(v, torch.Tensor)})
        meta["objective"] = {k: v for k, v in obj_state.items() if not isinstance(v, torch.Tensor)}
        if self.precision.scalers:  # fp16's loss scales
            meta["precision"] = self.precision.state_dict()
        rng_tensors, meta["rng"] = capture_rng()
        tensors.update(rng_tensors)
        if hasattr(self.batches, "state_dict"):
            meta["data"] = self.batches.state_dict()
        return tensors, meta

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], path: Any) -> None:
        for name, net in self.nets.items():
            load_module_state(net, f"nets.{name}", tensors, path)
        for name, ema in self.ema.items():
            load_module_state(ema.model, f"ema.{name}", tensors, path)
        for name, opt in self.optimizers.items():
            opt.load_state_dict(unflatten_optimizer(f"optim.{name}", tensors, meta["optim"][name]))
            match_param_layout(opt)
            for group in opt.param_groups:  # checkpoints from before schedules lack base_lr
                group.setdefault("base_lr", group["lr"])
        obj_state = {k[len("objective.") :]: v for k, v in tensors.items() if k.startswith("objective.")}
        self.objective.load_state_dict({**obj_state, **meta.get("objective", {})})
        self.precision.load_state_dict(meta.get("precision", {}))
        restore_rng(tensors, meta.get("rng", {}))
        if "data" in meta and hasattr(self.batches, "load_state_dict"):
            self.batches.load_state_dict(meta["data"])
        self.state = TrainState(step=int(meta["step"]), images_seen=int(meta["images_seen"]))
        self.scalars = dict(meta.get("scalars", {}))


class Stopwatch:
    """Wall time and images between log steps, for ``img_per_s``."""

    def __init__(self) -> None:
        self.reset(0)

    def reset(self, images: int) -> None:
        self.t0, self.images0 = time.perf_counter(), images

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def rate(self, images: int) -> float:
        elapsed = self.elapsed()
        return (images - self.images0) / elapsed if elapsed > 0 else 0.0
