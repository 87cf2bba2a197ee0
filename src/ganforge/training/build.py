"""From a validated Config to a ready Trainer: data, networks, objective, callbacks, run dir.

This is the only place that reads the config's sections and calls the registries, so families
never need glue code of their own: a registered model, dataset and objective are enough.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.config import Config
from ganforge.data.base import ArrayDataset, resize_images
from ganforge.data.loader import BatchStream
from ganforge.errors import ConfigError, RunDirError
from ganforge.losses import get_loss
from ganforge.nn.spectral import apply_spectral_norm, spectral_norm_targets
from ganforge.objectives.base import Context, Objective
from ganforge.registry import DATASETS, MODELS, OBJECTIVES, _load_builtins
from ganforge.rundir import RunLock, prepare_run_dir, write_config
from ganforge.training.callbacks import Checkpointer, MetricsLogger, SampleGrid, Summary, progress_display
from ganforge.training.checkpoint import load_latest_checkpoint
from ganforge.training.diagnostics import Diagnostics, DiversityProbe, EventLog
from ganforge.training.guard import DivergenceGuard
from ganforge.training.schedules import build_lr_schedule
from ganforge.training.trainer import Trainer
from ganforge.utils.distributed import DistInfo, barrier, init_distributed

CallbackFactory = Callable[[Config, Path, ArrayDataset], Any]  # (config, run dir, data)


def resolve_device(name: str, dist: DistInfo | None = None) -> torch.device:
    """``auto`` = cuda > mps > cpu; under torchrun each process takes its LOCAL_RANK's GPU."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name == "cuda" and dist is not None and dist.enabled:
        return torch.device("cuda", dist.local_rank)
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(f"'train.device' must be auto, cpu, cuda, cuda:N or mps, got '{name}'") from None


def set_determinism(seed: int, deterministic: bool) -> None:
    """Seed every global RNG a run may draw from (checkpoints save and restore all three)."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        if torch.are_deterministic_algorithms_enabled():
            torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.benchmark = True


def load_data(cfg: Config, dataset: ArrayDataset | None = None) -> tuple[ArrayDataset, Config]:
    """Build the dataset (unless the caller built it: an in-memory table) and return the config
    with ``data.resolution`` and the run length (``train.unit``) resolved.

    With ``data.resolution`` unset the data keep their native size, unless the model supports only
    some sizes (DCGAN: 32/64/128); then the smallest supported size ≥ native is used, so
    ``{model: dcgan, data: faces}`` trains at 32 with no further keys.
    """
    model_params = cfg.model.params
    requested = cfg.data.resolution or model_params.get("resolution")
    if dataset is None:
        kwargs = dict(cfg.data.params)
        if requested is not None:
            kwargs["resolution"] = requested
        dataset = DATASETS.build(cfg.data.name, **kwargs)
    supported = MODELS.get(cfg.model.name).meta.get("resolutions")
    if dataset.is_image and supported and dataset.resolution not in supported:
        if requested is not None:
            raise ConfigError(
                f"model '{cfg.model.name}' supports resolutions {', '.join(map(str, supported))},"
                f" not {dataset.resolution}; set data.resolution to one of them"
            )
        target = min((r for r in supported if r >= dataset.resolution), default=max(supported))
        dataset = dataclasses.replace(dataset, x=resize_images(dataset.x, target))
    resolved = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, resolution=dataset.resolution))
    return dataset, in_steps(resolved, len(dataset))


def in_steps(cfg: Config, rows: int) -> Config:
    """``train.unit: epoch`` resolved for data of ``rows`` samples: an epoch is ``rows //
    data.batch_size`` steps (at least one; ``Config.in_steps``)."""
    return cfg if cfg.train.unit == "step" else cfg.in_steps(max(1, rows // cfg.data.batch_size))


def build_networks(
    cfg: Config, shape: tuple[int, ...], num_classes: int = 0, inputs: dict[str, Any] | None = None
) -> dict[str, nn.Module]:
    """The model's networks (``inputs``: the data's ``model_inputs``, for families whose networks
    depend on more than the sample shape), with the wrappers the config asks for on top of any family:

    * ``objective.pac > 1`` (PacGAN, Lin et al. 2018): D is built for ``pac`` samples stacked on
      the channel (images) / feature (vectors) axis, by building the model for that shape.
    * ``model.spectral_norm``: spectral normalisation on D, G or both (``ganforge.nn.spectral``).
    """
    given = {"model_inputs": inputs} if inputs else {}  # only families built from the data declare it
    if inputs and "model_inputs" not in MODELS.get(cfg.model.name).parameters():
        fitting = [e.name for e in MODELS.entries() if "model_inputs" in e.parameters()]
        raise ConfigError(
            f"model '{cfg.model.name}' cannot train on dataset '{cfg.data.name}', whose networks are built"
            f" from the data's own layout; models that are: {', '.join(fitting)}"
        )
    nets = MODELS.build(
        cfg.model.name, shape=tuple(shape), num_classes=num_classes, **given, **cfg.model.params
    )
    pac = cfg.objective.params.get("pac", 1)
    if isinstance(pac, int) and pac > 1 and "d" in nets:
        if cfg.data.batch_size % pac:
            raise ConfigError(
                f"'data.batch_size' ({cfg.data.batch_size}) must be divisible by 'objective.pac' ({pac})"
            )
        packed_shape = (shape[0] * pac, *shape[1:])
        packed = MODELS.build(cfg.model.name, shape=packed_shape, num_classes=num_classes, **cfg.model.params)
        nets["d"] = packed["d"]
    for name in spectral_norm_targets(cfg.model.spectral_norm):
        if name not in nets:
            raise ConfigError(
                f"'model.spectral_norm' names network '{name}', which model '{cfg.model.name}' lacks"
            )
        apply_spectral_norm(nets[name])
    return nets


def build_objective(cfg: Config, nets: dict[str, nn.Module], ctx: Context) -> Objective:
    entry = OBJECTIVES.get(cfg.objective.name)
    kwargs = dict(cfg.objective.params)
    if "loss" in entry.parameters():
        kwargs["loss"] = cfg.objective.loss
    objective = entry(nets, ctx, **kwargs)
    if not isinstance(objective, Objective):  # the Trainer calls its hooks unconditionally
        raise ConfigError(
            f"objective '{cfg.objective.name}' must subclass ganforge.objectives.base.Objective,"
            f" got {type(objective).__name__}"
        )
    return objective


def make_randn(device: torch.device, dist: DistInfo):
    def randn(n: int, *shape: int) -> torch.Tensor:
        if not dist.enabled:
            return torch.randn(n, *shape, device=device)
        full = torch.randn(n * dist.world_size, *shape, device=device)
        return full[dist.rank * n : (dist.rank + 1) * n]

    return randn


def diagnostics_callbacks(
    cfg: Config, dataset: ArrayDataset, logger: MetricsLogger, events: EventLog
) -> list[object]:
    """[probe, logger, diagnostics]: the probe adds ``diversity`` to the window the logger writes,
    the detectors then read the written line. Sign-based D accuracy means nothing to a critic whose
    scores have no fixed zero (``AdversarialLoss.signed_logits``), so that detector is off there."""
    if not cfg.train.diagnostics:
        return [logger]
    entry = OBJECTIVES.get(cfg.objective.name)
    if "loss" in entry.parameters():
        signed = get_loss(cfg.objective.loss).signed_logits
    else:
        signed = getattr(entry.builder, "signed_logits", True)  # a builder function: assume signed
    disabled = () if signed else ("d_overpowering",)
    return [
        DiversityProbe(dataset.x, cfg.train.log_every, seed=cfg.train.seed),
        logger,
        Diagnostics(logger, events, cfg.train.log_every, disabled=disabled),
    ]


def build_guard(cfg: Config, events: EventLog | None) -> DivergenceGuard | None:
    """Checks every ``guard_every`` steps and on every log and checkpoint step (see guard.py)."""
    if not cfg.train.guard:
        return None
    return DivergenceGuard(
        cfg.train.guard_every,
        cfg.train.max_rollbacks,
        cfg.train.max_grad_norm_factor,
        also_every=(cfg.train.log_every, cfg.train.ckpt_every),
        events=events,
    )


@dataclass
class Session:
    """A trainer plus what the caller needs to report on it."""

    trainer: Trainer
    config: Config
    run_dir: Path
    dist: DistInfo
    resumed_from: Path | None
    sampler: SampleGrid | None


def build_session(
    cfg: Config,
    run_dir: Path | None,
    resume: bool = False,
    force: bool = False,
    extra_callbacks: Sequence[CallbackFactory] = (),
    dataset: ArrayDataset | None = None,
) -> Session:
    """Everything for one run. ``run_dir=None`` builds a trainer that writes nothing (benchmarks);
    ``dataset`` is data the caller built (a table in memory) instead of ``data.name``'s builder.

    ``extra_callbacks``: factories ``(cfg, run_dir, dataset) -> callback or None`` from the layers above
    training (the periodic evaluation), called after the logger and sample grid, before the
    checkpointer: a checkpoint at an evaluation step then holds its best-so-far. The order of the
    steps below is part of the contract: each may draw from the seeded global RNG.
    """
    _load_builtins()
    device, dist = setup_device(cfg)
    set_determinism(cfg.train.seed, cfg.train.deterministic)
    dataset, cfg = load_data(cfg, dataset)
    nets = build_networks(cfg, dataset.shape, dataset.num_classes, dataset.model_inputs)

    channels_last = cfg.train.channels_last if cfg.train.channels_last is not None else dataset.is_image
    fmt = torch.channels_last if channels_last and dataset.is_image else torch.contiguous_format
    for net in nets.values():
        net.to(device=device, memory_format=fmt)
    ctx = Context(device=device, randn=make_randn(device, dist), rank=dist.rank, world_size=dist.world_size)
    objective = build_objective(cfg, nets, ctx)
    stream = batch_stream(cfg, dataset, device, dist, channels_last)
    objective.check_batch_size(cfg.data.batch_size // dist.world_size)
    # Only now, with everything built that could refuse the config, is the run dir touched.
    lock = lock_run_dir(run_dir, dist)
    try:
        checkpoint, resume_state = open_run_dir(run_dir, cfg, resume, force, dist)
        writes = run_dir is not None and dist.is_main  # only rank 0 writes into the run dir
        callbacks = run_callbacks(cfg, run_dir, dataset, extra_callbacks) if writes else RunCallbacks()
        trainer = make_trainer(cfg, objective, stream, dist, device, callbacks, run_info(dataset))
        trainer.callbacks += [lock] if lock is not None else []  # released when training ends
        if resume_state is not None:
            check_same_data(trainer.info, resume_state[1].get("info", {}), checkpoint)
            trainer.load_state(*resume_state, checkpoint)
    except BaseException:
        if lock is not None:  # a refused resume must not leave the folder locked (a notebook keeps going)
            lock.release()
        raise
    if cfg.train.compile:
        for net in nets.values():
            net.compile()
    return Session(trainer, cfg, run_dir or Path(), dist, checkpoint, callbacks.sampler)


def lock_run_dir(run_dir: Path | None, dist: DistInfo) -> RunLock | None:
    """Rank 0's lock on the run dir (``rundir.RunLock``): a second process training into the same
    folder is refused before it writes anything. A path that is a file is left to ``prepare_run_dir``
    to refuse."""
    if run_dir is None or not dist.is_main or (run_dir.exists() and not run_dir.is_dir()):
        return None
    return RunLock(run_dir).acquire()


def make_trainer(
    cfg: Config, objective: Objective, stream: Iterator[dict[str, torch.Tensor]], dist: DistInfo,
    device: torch.device, callbacks: RunCallbacks, info: dict[str, Any],
) -> Trainer:  # fmt: skip
    """The Trainer of a run of ``cfg``: its optimisers, schedule, EMA, guard and callbacks."""
    return Trainer(
        objective,
        stream,
        {"g": cfg.optim.g, "d": cfg.optim.d},
        steps=cfg.train.steps,
        batch_size=cfg.data.batch_size,
        device=device,
        precision=cfg.train.precision,
        dist=dist,
        ema_kimg=cfg.train.ema_kimg,
        ema_rampup=cfg.train.ema_rampup,
        measure_every=cfg.train.log_every,
        callbacks=callbacks.all,
        info=info,
        guard=build_guard(cfg, callbacks.events),
        lr_schedule=build_lr_schedule(cfg.train.lr_schedule, cfg.train.steps, cfg.train.lr_decay_start),
        max_seconds=cfg.train.max_seconds,
    )


def batch_stream(
    cfg: Config, dataset: ArrayDataset, device: torch.device, dist: DistInfo, channels_last: bool
) -> Iterator[dict[str, torch.Tensor]]:
    """The data's own stream when it draws its batches itself, else uniform shuffled batches."""
    if dataset.stream is None:
        return BatchStream(
            dataset, cfg.data.batch_size, seed=cfg.train.seed, rank=dist.rank, world_size=dist.world_size,
            device=device, channels_last=channels_last, xflip=cfg.data.xflip,
        )  # fmt: skip
    if dist.enabled:
        raise ConfigError(f"dataset '{cfg.data.name}' draws its own batches and trains in one process only")
    return dataset.stream(dataset, cfg, device, channels_last)


def run_info(dataset: ArrayDataset) -> dict[str, Any]:
    """What every checkpoint records about the data, so a run loads (and is used) without it."""
    info: dict[str, Any] = {"data_shape": list(dataset.shape), "num_classes": dataset.num_classes}
    if dataset.model_inputs:
        info["model_inputs"] = dataset.model_inputs
    clash = sorted(set(info) & set(dataset.info))
    if clash:
        raise ConfigError(f"dataset '{dataset.name}' records info under reserved keys {clash}")
    return {**info, **dataset.info}


def check_same_data(info: dict[str, Any], recorded: dict[str, Any], checkpoint: Path | None) -> None:
    """A resumed run must see the data its checkpoint was trained on: the same shape, classes and
    recorded encoding (a table's fitted transformer, refitted from the file on resume)."""
    now = json.loads(json.dumps(info))  # as the checkpoint stored it: lists, string keys
    differ = sorted(key for key in now.keys() & recorded.keys() if now[key] != recorded[key])
    if differ:
        raise RunDirError(
            f"the data differ from those checkpoint '{checkpoint}' was trained on ({', '.join(differ)});"
            " resume with the same data and data.* keys, or pass --force to start over"
        )


def setup_device(cfg: Config) -> tuple[torch.device, DistInfo]:
    """The run's device and process group (under torchrun each process takes its LOCAL_RANK's GPU)."""
    device = resolve_device(cfg.train.device)
    dist = init_distributed(device.type)
    device = resolve_device(cfg.train.device, dist)
    if device.type == "cuda":  # plain "cuda" has no index, which set_device refuses
        torch.cuda.set_device(device.index if device.index is not None else 0)
    return device, dist


def open_run_dir(
    run_dir: Path | None, cfg: Config, resume: bool, force: bool, dist: DistInfo
) -> tuple[Path | None, tuple[dict[str, torch.Tensor], dict[str, Any]] | None]:
    """Check (and on rank 0 write) the run dir; the checkpoint to resume from and its state, if any."""
    if run_dir is None:
        return None, None
    checkpoint = prepare_run_dir(run_dir, cfg, resume=resume, force=force, is_main=dist.is_main)
    # Read it before touching the run dir: a corrupt checkpoint changes nothing. A damaged newest one
    # falls back to the one before it, with a warning (``load_latest_checkpoint``).
    resume_state = None
    if checkpoint is not None:
        found = load_latest_checkpoint(checkpoint.parent)
        checkpoint, resume_state = (found[0], (found[1], found[2])) if found else (None, None)
    barrier(dist)  # every rank has checked the folder before rank 0 writes into it
    if dist.is_main:
        write_config(run_dir, cfg)
    barrier(dist)
    return checkpoint, resume_state


@dataclass
class RunCallbacks:
    """What a run writes, in the order the Trainer calls it, and the two parts others hold on to."""

    all: list[object] = field(default_factory=list)
    sampler: SampleGrid | None = None
    events: EventLog | None = None


def run_callbacks(
    cfg: Config, run_dir: Path, dataset: ArrayDataset, extra_callbacks: Sequence[CallbackFactory]
) -> RunCallbacks:
    """What a run writes, in order (the progress display is None where ``train.progress`` is off)."""
    logger = MetricsLogger(run_dir, cfg.train.log_every)
    real = dataset.x[:2500] if not dataset.is_image else None
    train = cfg.train
    sampler = SampleGrid(run_dir, train.sample_every, train.n_samples, train.seed, real=real, board=logger)
    events = EventLog(run_dir)
    callbacks = [
        events,
        *diagnostics_callbacks(cfg, dataset, logger, events),
        sampler,
        *filter(None, (make(cfg, run_dir, dataset) for make in extra_callbacks)),
        Checkpointer(run_dir, train.ckpt_every, train.keep_last),
        progress_display(logger, train.progress, train.progress_every_s),
        Summary(run_dir, logger, sampler, events),
    ]
    return RunCallbacks([cb for cb in callbacks if cb is not None], sampler, events)
