"""Evaluate a finished run: ``evaluate("runs/ring", ["modes"])`` -> metric values + a recorded eval file.

Why one module with a name -> metric table (``METRICS``): every script that scores a GAN should score
it the same way, on samples drawn the same way, and leave the same record behind (the failure we
avoid is "metrics computed differently in every script"). A metric is a function of an
``EvalContext`` (the run's config and generator, ``n`` and ``seed``) returning flat ``{key: number}``
values; registering it with ``@register_metric("fid", extractor="inception")`` is all it takes for
``ganforge eval RUN --metrics fid`` and ``ganforge sweep --metrics fid`` to offer it.

Each evaluation writes ``eval/<timestamp>.json`` into the run dir with what is needed to compare two
numbers honestly: metric values, the feature extractor they were computed in (``raw`` = the data's
own coordinates), the sample count and seed, the dataset (name + params), the checkpoint step, which
generator weights (EMA or raw), and the ganforge version.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganforge.config import Config
from ganforge.errors import ConfigError, EvalError
from ganforge.registry import did_you_mean
from ganforge.rundir import read_run_config

Values = dict[str, float | int]


@dataclass
class EvalContext:
    """What a metric may look at. Samples are drawn once, lazily, and shared by every metric."""

    run_dir: Path
    config: Config
    n: int
    seed: int
    ema: bool = True
    device: str = "cpu"
    _handle: Any = field(default=None, repr=False)
    _samples: torch.Tensor | None = field(default=None, repr=False)

    @property
    def handle(self) -> Any:
        """The run's ``GeneratorHandle`` (EMA weights unless ``ema=False``), loaded on first use."""
        if self._handle is None:
            from ganforge.api import load

            self._handle = load(self.run_dir, ema=self.ema, device=self.device)
        return self._handle

    def samples(self) -> torch.Tensor:
        """``n`` generator samples for ``seed`` on the CPU (the same for every metric of one call)."""
        if self._samples is None:
            self._samples = self.handle.sample(self.n, seed=self.seed)
        return self._samples


@dataclass(frozen=True)
class Metric:
    """A registered metric: ``check`` rejects runs it does not apply to before anything is sampled."""

    name: str
    compute: Callable[[EvalContext], Values]
    extractor: str
    keys: tuple[str, ...]
    check: Callable[[Config], None]
    description: str
    help: str = ""


METRICS: dict[str, Metric] = {}


def register_metric(
    name: str,
    *,
    extractor: str,
    keys: Sequence[str],
    check: Callable[[Config], None] | None = None,
    description: str = "",
    help: str = "",
) -> Callable[[Callable[[EvalContext], Values]], Callable[[EvalContext], Values]]:
    """Decorator adding a metric to ``METRICS``; ``keys`` are the value names it returns (unique)."""

    def deco(fn: Callable[[EvalContext], Values]) -> Callable[[EvalContext], Values]:
        if name in METRICS:
            raise ValueError(f"metric '{name}' is registered twice")
        taken = {k for m in METRICS.values() for k in m.keys} & set(keys)
        if taken:
            raise ValueError(f"metric '{name}' reuses value keys {sorted(taken)} of another metric")
        METRICS[name] = Metric(
            name, fn, extractor, tuple(keys), check or (lambda cfg: None), description, help
        )
        return fn

    return deco


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        raise ConfigError(
            f"unknown metric '{name}'{did_you_mean(name, METRICS)}; available: {', '.join(sorted(METRICS))}"
        )
    return METRICS[name]


def parse_metric_names(text: str | Sequence[str]) -> list[str]:
    """``"modes,fid"`` or ``["modes", "fid"]`` -> checked, de-duplicated names in order."""
    parts = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    names = list(dict.fromkeys(p.strip() for p in parts if p.strip()))
    if not names:
        raise ConfigError("--metrics needs at least one metric name, e.g. --metrics modes")
    for name in names:
        get_metric(name)
    return names


# ----------------------------------------------------------------------------------------------
# Built-in metrics


def _check_mixture(cfg: Config) -> None:
    if cfg.data.name != "toy2d":
        raise EvalError(
            f"metric 'modes' needs a run trained on the toy2d Gaussian mixtures, but this run's data is"
            f" '{cfg.data.name}'"
        )


def mixture_params(cfg: Config) -> dict[str, Any]:
    """The resolved mixture a toy2d run was trained on: kind, modes, std, radius (defaults filled in)."""
    from ganforge.data import mixture_spec

    p = cfg.data.params
    kind = p.get("kind", "grid")
    centers, std = mixture_spec(kind, p.get("modes"), p.get("std"), p.get("radius", 1.0))
    out: dict[str, Any] = {"kind": kind, "modes": len(centers), "std": std}
    if kind == "ring":
        out["radius"] = float(p.get("radius", 1.0))
    return out


def _modes_help() -> str:
    from ganforge.metrics import modes

    return (modes.__doc__ or "").strip()


@register_metric(
    "modes",
    extractor="raw",
    keys=("modes_covered", "modes_total", "hq_fraction", "reverse_kl"),
    check=_check_mixture,
    description="mode coverage of a 2-D Gaussian mixture (VEEGAN / PacGAN protocol)",
    help=_modes_help(),
)
def modes_metric(ctx: EvalContext) -> Values:
    """Score samples against the exact centres and spread in the run's resolved ``data`` config."""
    from ganforge.data import mixture_spec
    from ganforge.metrics import mode_coverage

    m = mixture_params(ctx.config)
    centers, std = mixture_spec(m["kind"], m["modes"], m["std"], m.get("radius", 1.0))
    return mode_coverage(ctx.samples(), centers, std)


# ----------------------------------------------------------------------------------------------
# Running an evaluation


@dataclass
class EvalResult:
    """Flat ``values`` (every metric's keys merged) plus the full ``record`` written to ``path``."""

    values: Values
    record: dict[str, Any]
    path: Path | None


def _checkpoint_facts(path: Path, ema: bool) -> dict[str, Any]:
    from safetensors import safe_open

    from ganforge.training.checkpoint import STEP_FILE

    match = STEP_FILE.match(path.name)
    with safe_open(str(path), framework="pt") as fh:
        has_ema = any(k.startswith("ema.g.") for k in fh.keys())  # noqa: SIM118 (safe_open has no __iter__)
    return {
        "checkpoint": path.name,
        "step": int(match.group(1)) if match else None,
        "generator": "ema" if ema and has_ema else "raw",
    }


def _eval_path(run_dir: Path) -> Path:
    """``eval/20250101-120000.json``; a second evaluation within the same second gets ``-1``, ``-2``..."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, k = run_dir / "eval" / f"{stamp}.json", 0
    while path.exists():
        k += 1
        path = run_dir / "eval" / f"{stamp}-{k}.json"
    return path


def evaluate(
    run_dir: str | Path,
    metrics: str | Sequence[str] = ("modes",),
    *,
    n: int = 2500,
    seed: int = 0,
    ema: bool = True,
    device: str = "cpu",
    write: bool = True,
) -> EvalResult:
    """Compute ``metrics`` on ``n`` samples of a run's generator; record them in ``eval/<ts>.json``.

    Every metric is checked against the run before any sampling, so "modes on an image run" fails
    fast with one sentence. 2,500 samples is the mode-coverage protocol's convention.
    """
    from ganforge import __version__

    run_dir = Path(run_dir)
    names = parse_metric_names(metrics)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"the number of samples must be a positive integer, got {n!r}")
    cfg = read_run_config(run_dir)
    chosen = [get_metric(name) for name in names]
    for metric in chosen:
        metric.check(cfg)
    ctx = EvalContext(run_dir, cfg, n, seed, ema=ema, device=device)
    values: Values = {}
    per_metric: dict[str, Any] = {}
    for metric in chosen:
        out = metric.compute(ctx)
        values.update(out)
        per_metric[metric.name] = {"extractor": metric.extractor, "values": out}
    record = {
        "metrics": per_metric,
        "n": n,
        "seed": seed,
        "dataset": {"name": cfg.data.name, "params": dict(cfg.data.params)},
        **_checkpoint_facts(ctx.handle.checkpoint, ema),
        "ganforge_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if "modes" in names:
        record["dataset"]["mixture"] = mixture_params(cfg)
    path = None
    if write:
        from ganforge.utils.io import atomic_write_json

        path = atomic_write_json(_eval_path(run_dir), record)
    return EvalResult(values, record, path)


def metrics_help() -> str:
    """The text ``ganforge eval --help`` shows under the options: each metric and its rule."""
    blocks = []
    for metric in sorted(METRICS.values(), key=lambda m: m.name):
        head = f"{metric.name} (extractor: {metric.extractor}; keys: {', '.join(metric.keys)})"
        body = f"\n{metric.help}" if metric.help else f"\n{metric.description}"
        blocks.append(head + body)
    return "metrics:\n\n" + "\n\n".join(blocks)


__all__ = ["METRICS", "EvalContext", "EvalResult", "Metric", "evaluate", "get_metric", "register_metric"]
