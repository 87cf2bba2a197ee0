"""Diagnostics: the known GAN failure modes, named in numbers at every log step.

Four detectors, each a pure function of the log history (``metrics.jsonl`` records, oldest first)
that returns a ``Finding`` or None, so each can be tested on a synthetic sequence:

* ``vanishing_g_grad``: ``grad_norm_g`` fell below ``vanish_ratio`` x its median over the first
  ``early_windows`` log windows, or below ``vanish_floor``: D has saturated and G learns nothing
  (Arjovsky & Bottou 2017, Sec. 2.2).
* ``d_overpowering``: ``d_acc >= d_acc`` and ``|d_real - d_fake| >= logit_gap`` (mean logits): D
  separates real from fake with a wide margin, which precedes vanishing gradients.
* ``mode_collapse``: ``diversity`` (mean pairwise distance of a fixed batch of generated samples
  over that of a fixed real batch) below ``diversity`` and not growing by more than
  ``diversity_growth`` across the patience windows. The "not growing" clause is what keeps a fresh
  generator quiet: at initialisation every G is far less diverse than the data (DCGAN: ~0.001) but
  spreads out window after window, whereas a collapsed one stays put or shrinks.
* ``oscillation``: over the last ``osc_windows`` windows, ``loss_d`` or ``loss_g`` changes direction
  at ``osc_alternation`` of its steps with a mean swing of ``osc_swing`` x its level: the players
  chase each other instead of converging (Mescheder et al. 2018).

Each condition must hold for ``patience`` consecutive log windows (one noisy window never warns),
and a kind repeats at most every ``repeat_every`` windows. Warnings go to the console, to
``logs/events.jsonl`` (``{step, kind, message, values}``, shared with the divergence guard) and
into ``summary.json`` under ``"warnings"``.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.markup import escape

from ganforge.training.callbacks import MetricsLogger, sample_fixed
from ganforge.training.trainer import Trainer

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Thresholds:
    patience: int = 3  # consecutive log windows (diversity: measurements) a condition must hold
    repeat_every: int = 10  # log windows between two warnings of the same kind
    early_windows: int = 5  # vanishing: reference = median grad_norm_g of the first windows
    vanish_ratio: float = 0.01  # vanishing: grad_norm_g below 1% of that reference ...
    vanish_floor: float = 1e-6  # ... or below this absolute value
    d_acc: float = 0.99  # overpowering: D classifies (almost) every sample right ...
    logit_gap: float = 5.0  # ... with mean real and fake logits this far apart
    diversity: float = 0.25  # collapse: generated spread below 25% of the real spread ...
    diversity_growth: float = 0.02  # ... and growing by at most 2% over the patience windows
    # Oscillation. Window-to-window noise of a healthy DCGAN's loss_d flips direction at ~70-85%
    # of windows with swings of 35-55% of its level (quickstart, 50-step windows), so only
    # sustained, large alternation counts: swings as big as the loss itself, nearly every window.
    osc_windows: int = 12  # oscillation: windows judged at once
    osc_alternation: float = 0.85  # fraction of consecutive loss changes that flip sign
    osc_swing: float = 0.8  # mean |change| relative to mean |loss| + osc_floor
    osc_floor: float = 0.1  # keeps losses near zero (hinge, WGAN) from inflating the ratio


@dataclass(frozen=True)
class Finding:
    kind: str
    message: str
    values: dict[str, Any] = field(default_factory=dict)


def _num(record: Record, key: str) -> float | None:
    value = record.get(key)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _series(history: Sequence[Record], key: str) -> list[float]:
    return [v for r in history if (v := _num(r, key)) is not None]


def detect_vanishing_g_grad(history: Sequence[Record], t: Thresholds) -> Finding | None:
    norms = _series(history, "grad_norm_g")
    if len(norms) < t.patience:
        return None
    reference = statistics.median(norms[: t.early_windows])
    limit = t.vanish_floor
    if len(norms) >= t.early_windows + t.patience:  # judge relative only after the reference
        limit = max(limit, t.vanish_ratio * reference)
    recent = norms[-t.patience :]
    if not all(v < limit for v in recent):
        return None
    return Finding(
        "vanishing_g_grad",
        f"generator gradients vanished: grad_norm_g {recent[-1]:.2g} vs {reference:.2g} early in training"
        f" for {t.patience} log windows; D is saturating: try the non-saturating or hinge loss,"
        " a lower optim.d.lr or an R1 penalty",
        {"grad_norm_g": recent[-1], "early_median": reference},
    )


def detect_d_overpowering(history: Sequence[Record], t: Thresholds) -> Finding | None:
    recent = history[-t.patience :]
    if len(recent) < t.patience:
        return None
    for r in recent:
        acc, real, fake = _num(r, "d_acc"), _num(r, "d_real"), _num(r, "d_fake")
        if acc is None or real is None or fake is None or acc < t.d_acc or abs(real - fake) < t.logit_gap:
            return None
    acc, gap = float(recent[-1]["d_acc"]), abs(float(recent[-1]["d_real"]) - float(recent[-1]["d_fake"]))
    return Finding(
        "d_overpowering",
        f"the discriminator overpowers the generator: d_acc {acc:.3f}, mean logit gap {gap:.1f}"
        f" for {t.patience} log windows; try a lower optim.d.lr, augmentation (DiffAugment/ADA)"
        " or an R1 penalty",
        {"d_acc": acc, "logit_gap": gap},
    )


def detect_mode_collapse(history: Sequence[Record], t: Thresholds) -> Finding | None:
    ratios = _series(history, "diversity")[-t.patience :]
    if len(ratios) < t.patience or not all(r < t.diversity for r in ratios):
        return None
    if ratios[-1] > ratios[0] * (1 + t.diversity_growth):
        return None  # still spreading out (e.g. a young generator): not a collapse
    return Finding(
        "mode_collapse",
        f"possible mode collapse: generated samples spread {ratios[-1]:.0%} as much as real ones"
        f" (mean pairwise distance) and not recovering over {t.patience} measurements; try lower"
        " learning rates, PacGAN/minibatch-std, or more discriminator regularisation",
        {"diversity": ratios[-1], "threshold": t.diversity},
    )


def _oscillation(xs: Sequence[float], t: Thresholds) -> tuple[float, float]:
    """(fraction of consecutive changes that flip sign, mean |change| / (mean |x| + floor))."""
    diffs = [b - a for a, b in itertools.pairwise(xs)]
    flips = [d1 * d2 < 0 for d1, d2 in itertools.pairwise(diffs)]
    alternation = sum(flips) / max(len(flips), 1)
    swing = statistics.fmean(abs(d) for d in diffs) / (statistics.fmean(abs(x) for x in xs) + t.osc_floor)
    return alternation, swing


def detect_oscillation(history: Sequence[Record], t: Thresholds) -> Finding | None:
    for key in ("loss_d", "loss_g"):
        xs = _series(history, key)
        if len(xs) < t.osc_windows + t.patience - 1:
            continue
        stats = [_oscillation(xs[len(xs) - t.osc_windows - j : len(xs) - j], t) for j in range(t.patience)]
        if all(a >= t.osc_alternation and s >= t.osc_swing for a, s in stats):
            alternation, swing = stats[0]
            return Finding(
                "oscillation",
                f"{key} oscillates: it changes direction at {alternation:.0%} of the last {t.osc_windows}"
                f" log windows with swings of {swing:.0%} of its level; try lower learning rates"
                " (or TTUR), or a gradient penalty",
                {"loss": key, "alternation": alternation, "swing": swing},
            )
    return None


DETECTORS: dict[str, Callable[[Sequence[Record], Thresholds], Finding | None]] = {
    "vanishing_g_grad": detect_vanishing_g_grad,
    "d_overpowering": detect_d_overpowering,
    "mode_collapse": detect_mode_collapse,
    "oscillation": detect_oscillation,
}


def mean_pairwise_distance(x: torch.Tensor, max_side: int = 32) -> torch.Tensor:
    """Mean L2 distance over all pairs of samples; images are average-pooled to <= ``max_side``
    first: pairwise distances cost O(n^2 d), and at full resolution they measure texture noise."""
    x = x.float()
    if x.ndim == 4 and max(x.shape[-2:]) > max_side:
        x = F.adaptive_avg_pool2d(x, (min(x.shape[-2], max_side), min(x.shape[-1], max_side)))
    return torch.pdist(x.reshape(len(x), -1)).mean()


class EventLog:
    """``logs/events.jsonl``: one ``{step, kind, message, values}`` per warning or guard action.

    Every event is also printed (on stderr, which rich's live progress bar redraws around) and
    kept in ``events`` for ``summary.json``. On resume, events after the checkpoint are dropped, as
    ``MetricsLogger`` drops log lines: the resumed run will meet them again.
    """

    def __init__(self, run_dir: Path, console: Console | None = None) -> None:
        self.path = run_dir / "logs" / "events.jsonl"
        self.console = console or Console(stderr=True, highlight=False)
        self.events: list[dict[str, Any]] = []

    def on_train_start(self, trainer: Trainer) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        self.events = [
            e for e in map(json.loads, filter(str.strip, lines)) if e["step"] <= trainer.state.step
        ]
        self.path.write_text("".join(json.dumps(e) + "\n" for e in self.events))

    def emit(
        self, step: int, kind: str, message: str, values: Mapping[str, Any] | None = None, echo: bool = True
    ) -> None:
        """Append one event; ``echo=False`` for errors the caller reports anyway (a diverged run)."""
        clean = {
            k: (v if not isinstance(v, float) or math.isfinite(v) else None)
            for k, v in (values or {}).items()
        }
        event = {"step": step, "kind": kind, "message": message, "values": clean}
        with self.path.open("a") as fh:
            fh.write(json.dumps(event) + "\n")
        self.events.append(event)
        if echo:
            self.console.print(
                f"[yellow]warning[/yellow] step {step} {kind}: {escape(message)}", soft_wrap=True
            )


class DiversityProbe:
    """Adds ``diversity`` to the log line: generated vs real mean pairwise distance (see module doc).

    Runs before ``MetricsLogger`` pops the statistics window, so the value lands in that step's
    line. The generated batch comes from ``sample_fixed`` (private RNG, eval mode): measuring never
    touches the training RNG or BatchNorm statistics. The real batch is drawn once, privately.
    """

    def __init__(self, real: torch.Tensor, every: int, n: int = 256, seed: int = 0, measure_every: int = 1):
        gen = torch.Generator().manual_seed(seed)
        self.real = real[torch.randperm(len(real), generator=gen)[:n]]
        self.every, self.n, self.seed, self.measure_every = every, n, seed, measure_every
        self._real_spread: torch.Tensor | None = None

    def on_step_end(self, trainer: Trainer) -> None:
        step, final = trainer.state.step, trainer.state.step == trainer.steps
        if not final and (step % self.every or (step // self.every) % self.measure_every):
            return
        if getattr(trainer.sampling_generator, "sample_z", None) is not None:
            trainer.record({"diversity": self.measure(trainer)})

    def measure(self, trainer: Trainer) -> torch.Tensor:
        if self._real_spread is None:
            self._real_spread = mean_pairwise_distance(self.real.to(trainer.device))
        fake = sample_fixed(trainer.sampling_generator, len(self.real), self.seed, trainer.device)
        return mean_pairwise_distance(fake) / self._real_spread.clamp_min(1e-12)


class Diagnostics:
    """Runs the detectors on each new log line (after ``MetricsLogger``) and emits their warnings."""

    def __init__(
        self,
        logger: MetricsLogger,
        events: EventLog,
        every: int,
        thresholds: Thresholds | None = None,
        disabled: Sequence[str] = (),
    ) -> None:
        self.logger, self.events, self.every = logger, events, every
        self.thresholds = thresholds or Thresholds()
        self.detectors = {k: f for k, f in DETECTORS.items() if k not in disabled}
        self.early: list[Record] = []  # the first windows stay: vanishing gradients are judged against them
        self.recent: deque[Record] = deque(maxlen=64)
        self.last_warned: dict[str, int] = {}

    def on_train_start(self, trainer: Trainer) -> None:
        """A resumed run re-reads its log (already cut at the checkpoint) and its past warnings."""
        self.early.clear()
        self.recent.clear()
        if self.logger.path.exists():
            for line in filter(str.strip, self.logger.path.read_text().splitlines()):
                self.add(json.loads(line))
        self.last_warned = {e["kind"]: e["step"] for e in self.events.events}

    def add(self, record: Record) -> None:
        (self.early if len(self.early) < self.thresholds.early_windows else self.recent).append(record)

    def on_step_end(self, trainer: Trainer) -> None:
        step = trainer.state.step
        if self.logger.last.get("step") != step:
            return  # not a log step
        self.add(dict(self.logger.last))
        history = [*self.early, *self.recent]
        for kind, detect in self.detectors.items():
            finding = detect(history, self.thresholds)
            last = self.last_warned.get(kind)
            if finding is None or (
                last is not None and step - last < self.thresholds.repeat_every * self.every
            ):
                continue
            self.last_warned[kind] = step
            self.events.emit(step, kind, finding.message, finding.values)
