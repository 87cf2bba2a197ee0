"""Evaluate a generator: ``evaluate("runs/ring", ["modes"])`` -> metric values + a recorded eval file.

Why one module with a name -> metric table (``METRICS``): every script that scores a GAN should score
it the same way, on samples drawn the same way, and leave the same record behind (the failure we
avoid is "metrics computed differently in every script"). A metric is a function of an
``EvalContext`` (the run's config and generator, ``n``, ``seed`` and a feature extractor) returning
flat ``{key: number}`` values; registering it with ``@register_metric("fid", keys=("fid",))`` is all
it takes for ``ganforge eval RUN --metrics fid``, ``ganforge sweep --metrics fid`` and the periodic
evaluation during training (``train.eval_every``) to offer it.

Each evaluation of a run writes ``eval/<timestamp>.json`` into the run dir with what is needed to
compare two numbers honestly: metric values, the feature extractor they were computed in (name and
weights hash; ``raw`` = the data's own coordinates), the sample count and seed, the dataset (name +
params), the checkpoint step, which generator weights (EMA or raw), and the ganforge version.
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
from ganforge.registry import DATASETS, did_you_mean
from ganforge.rundir import read_run_config
from ganforge.tasks import Task, open_run, task_of

Values = dict[str, float | int]
# The extractor a dataset's samples are compared in when ``--extractor`` is not given.
FALLBACK_EXTRACTOR = "inception"


@dataclass
class EvalContext:
    """What a metric may look at. Samples and features are computed once, lazily, and shared.

    ``handle`` is a ``GeneratorHandle``; given directly (periodic evaluation during training) or
    loaded from ``run_dir`` on first use. ``given_samples`` skips the generator: scoring held-out
    real images with the same code is how a real-vs-real baseline is measured. ``real`` hands in
    real features already computed (a periodic evaluation keeps them between calls).
    """

    config: Config
    n: int
    seed: int
    run_dir: Path | None = None
    ema: bool = True
    device: str = "cpu"
    extractor_name: str | None = None
    handle: Any = None
    given_samples: torch.Tensor | None = field(default=None, repr=False)
    real: dict[str, torch.Tensor] | None = field(default=None, repr=False)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # what the task computes once
    _samples: torch.Tensor | None = field(default=None, repr=False)
    _extractor: Any = field(default=None, repr=False)
    _fake: dict[str, torch.Tensor] | None = field(default=None, repr=False)

    @property
    def task(self) -> Task:
        """The run's task (``ganforge.tasks``): what it is evaluated on and how it loads."""
        return task_of(self.config)

    def generator(self) -> Any:
        """The run's handle (EMA weights unless ``ema=False``): a ``GeneratorHandle``, or the handle
        of its task (``TranslatorHandle`` for an image-to-image run), loaded on first use."""
        if self.handle is None:
            if self.run_dir is None:
                raise EvalError("this evaluation has neither a run directory nor a generator to sample")
            self.handle = open_run(self.run_dir, ema=self.ema, device=self.device)
        return self.handle

    def samples(self) -> torch.Tensor:
        """The outputs every metric of one call scores, on the CPU: ``n`` samples for ``seed``, or
        what the run's task scores (an image-to-image run: the translations of the first ``n`` test
        inputs)."""
        if self.given_samples is not None:
            return self.given_samples
        if self._samples is None:
            self._samples = self.task.eval_samples(self)
        return self._samples

    @property
    def extractor(self) -> Any:
        """The feature extractor: ``--extractor`` if given, else the dataset's default one."""
        if self._extractor is None:
            from ganforge.metrics.features import create_extractor

            self._extractor = create_extractor(resolve_extractor(self.config, self.extractor_name))
        return self._extractor

    def fake_features(self) -> dict[str, torch.Tensor]:
        """The samples' ``features`` (and ``logits`` when the extractor has a classifier head)."""
        if self._fake is None:
            self._fake = self.extractor.extract(self.samples(), device=self.device)
        return self._fake

    def real_features(self) -> dict[str, torch.Tensor]:
        """The features of what the samples are compared with: the task's reference set (an
        image-to-image run: its test targets), else the training data's, cached on disk per dataset
        and extractor (reference.py)."""
        if self.real is None and self.given_samples is None:
            reference = self.task.eval_reference(self)
            if reference is not None:
                self.real = self.extractor.extract(reference, device=self.device)
        if self.real is None:
            from ganforge.evaluation.reference import real_features

            self.real = real_features(self.config, self.extractor, device=self.device)
        return self.real


def dataset_meta(cfg: Config) -> dict[str, Any]:
    """The registry metadata of a run's dataset (``default_extractor``, ``metrics`` it supports, ...)."""
    return DATASETS.get(cfg.data.name).meta if cfg.data.name in DATASETS else {}


def resolve_extractor(cfg: Config, requested: str | None) -> str:
    """``requested``, else the dataset's registered ``default_extractor``, else ``inception``."""
    if requested:
        return requested
    return str(dataset_meta(cfg).get("default_extractor", FALLBACK_EXTRACTOR))


@dataclass(frozen=True)
class Metric:
    """A registered metric: ``check`` rejects runs it does not apply to before anything is sampled.

    ``extractor`` is fixed for metrics defined in the data's own space (``raw``) or by a particular
    classifier, and None for metrics computed in whichever extractor the evaluation uses. ``keys[0]``
    is the metric's headline value; ``higher_is_better`` says which way it improves (best-checkpoint
    tracking uses it), unless ``headline_key`` names another (StackedMNIST: once all 1,000 modes
    are covered, only the KL still tells runs apart). ``default_n`` is the sample count its
    protocol prescribes.
    """

    name: str
    compute: Callable[[EvalContext], Values]
    keys: tuple[str, ...]
    extractor: str | None
    check: Callable[[Config], None]
    higher_is_better: bool
    default_n: int
    description: str
    help: str = ""
    facts: Callable[[Config], dict[str, Any]] | None = None  # dataset facts for the eval record
    headline_key: str | None = None

    @property
    def headline(self) -> str:
        """The value that says whether one evaluation beats another."""
        return self.headline_key or self.keys[0]


METRICS: dict[str, Metric] = {}


def register_metric(
    name: str,
    *,
    keys: Sequence[str],
    extractor: str | None = None,
    check: Callable[[Config], None] | None = None,
    higher_is_better: bool = False,
    default_n: int = 10_000,
    description: str = "",
    help: str = "",
    facts: Callable[[Config], dict[str, Any]] | None = None,
    headline: str | None = None,
) -> Callable[[Callable[[EvalContext], Values]], Callable[[EvalContext], Values]]:
    """Decorator adding a metric to ``METRICS``; ``keys`` are the value names it returns."""

    def deco(fn: Callable[[EvalContext], Values]) -> Callable[[EvalContext], Values]:
        if name in METRICS:
            raise ValueError(f"metric '{name}' is registered twice")
        if headline is not None and headline not in keys:
            raise ValueError(f"metric '{name}': headline '{headline}' is not one of its keys")
        METRICS[name] = Metric(
            name, fn, tuple(keys), extractor, check or (lambda cfg: None), higher_is_better, default_n,
            description, help, facts, headline,
        )  # fmt: skip
        return fn

    return deco


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        raise ConfigError(
            f"unknown metric '{name}'{did_you_mean(name, METRICS)}; available: {', '.join(sorted(METRICS))}"
        )
    return METRICS[name]


def parse_metric_names(text: str | Sequence[str]) -> list[str]:
    """``"modes,fid"`` or ``["modes", "fid"]`` -> checked, de-duplicated names in order.

    Metrics whose value keys clash (``modes`` and ``stacked_modes`` both report ``modes_covered``)
    cannot share one flat result, so they are refused together.
    """
    parts = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    names = list(dict.fromkeys(p.strip() for p in parts if p.strip()))
    if not names:
        raise ConfigError("--metrics needs at least one metric name, e.g. --metrics modes")
    owner: dict[str, str] = {}
    for name in names:
        for key in get_metric(name).keys:
            if key in owner:
                raise ConfigError(
                    f"metrics '{owner[key]}' and '{name}' both report '{key}'; evaluate them separately"
                )
            owner[key] = name
    return names


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


def _check_n(n: int | None) -> None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ConfigError(f"the number of samples must be a positive integer, got {n!r}")


def default_n(names: Sequence[str]) -> int:
    """The largest sample count the chosen metrics' protocols prescribe."""
    return max(get_metric(name).default_n for name in names)


def compute(ctx: EvalContext, names: Sequence[str]) -> tuple[Values, dict[str, Any]]:
    """Run checked metrics on one context: flat values, and per metric its extractor and values."""
    values: Values = {}
    per_metric: dict[str, Any] = {}
    for name in names:
        metric = get_metric(name)
        out = metric.compute(ctx)
        values.update(out)
        entry: dict[str, Any] = {"extractor": metric.extractor or ctx.extractor.name, "values": out}
        if metric.extractor is None:  # the weights hash, so numbers from other weights never mix
            entry["extractor_identity"] = ctx.extractor.identity
        per_metric[name] = entry
    return values, per_metric


def prepare(cfg: Config, metrics: str | Sequence[str], n: int | None) -> tuple[list[str], int]:
    """Parse and check the metric names against a run's config; resolve ``n``. Nothing is sampled."""
    names = parse_metric_names(metrics)
    _check_n(n)
    for name in names:
        get_metric(name).check(cfg)
    return names, n if n is not None else default_n(names)


def evaluate(
    run_dir: str | Path,
    metrics: str | Sequence[str] = ("modes",),
    *,
    n: int | None = None,
    seed: int = 0,
    ema: bool = True,
    device: str = "cpu",
    extractor: str | None = None,
    write: bool = True,
) -> EvalResult:
    """Compute ``metrics`` on ``n`` samples of a run's generator; record them in ``eval/<ts>.json``.

    Every metric is checked against the run before any sampling, so "modes on an image run" fails
    fast with one sentence. ``n`` defaults to what the metrics' protocols prescribe (2,500 for
    mode coverage, 10,000 for FID and friends, 26,000 for StackedMNIST).
    """
    from ganforge import __version__

    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    task_of(cfg).check_evaluable(cfg)  # a kind of run with no evaluation says so in its own words
    names, n = prepare(cfg, metrics, n)
    ctx = EvalContext(cfg, n, seed, run_dir=run_dir, ema=ema, device=device, extractor_name=extractor)
    values, per_metric = compute(ctx, names)
    record = {
        "metrics": per_metric,
        "n": ctx.task.eval_count(ctx),  # n, or fewer where the task's set is smaller (a test split)
        "seed": seed,
        "dataset": {
            "name": cfg.data.name,
            "params": dict(cfg.data.params),
            "resolution": cfg.data.resolution,
            **ctx.task.eval_facts(ctx),
        },
        **_checkpoint_facts(ctx.generator().checkpoint, ema),
        "ganforge_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    for name in names:  # e.g. the resolved mixture a mode count was scored against
        facts = get_metric(name).facts
        if facts is not None:
            record["dataset"].update(facts(cfg))
    path = None
    if write:
        from ganforge.utils.io import atomic_write_json

        path = atomic_write_json(_eval_path(run_dir), record)
    return EvalResult(values, record, path)


def score_samples(
    samples: torch.Tensor,
    config: Config,
    metrics: str | Sequence[str],
    *,
    extractor: str | None = None,
    device: str = "cpu",
) -> Values:
    """Score given samples as if a run with ``config`` had generated them (nothing is recorded).

    The honest yardstick for a GAN's FID is the FID of *held-out real* images of the same count
    against the same training statistics: ``score_samples(test_images, run_config, "fid")``.
    """
    names, _ = prepare(config, metrics, len(samples))
    ctx = EvalContext(
        config, len(samples), seed=0, device=device, extractor_name=extractor, given_samples=samples
    )
    return compute(ctx, names)[0]


def metrics_help() -> str:
    """The text ``ganforge eval --help`` shows under the options: each metric and its rule."""
    blocks = []
    for metric in sorted(METRICS.values(), key=lambda m: m.name):
        extractor = metric.extractor or "--extractor"
        keys = ", ".join(metric.keys)
        head = f"{metric.name} (extractor: {extractor}; keys: {keys}; default n {metric.default_n})"
        body = f"\n{metric.help}" if metric.help else f"\n{metric.description}"
        blocks.append(head + body)
    return "metrics:\n\n" + "\n\n".join(blocks)
