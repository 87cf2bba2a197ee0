"""Sweeps: a cartesian grid of config values x seeds, trained one after another, then tabulated.

``ganforge.sweep("configs/toy/ns.yaml", grid=["objective.loss=hinge,ns", "optim.g.lr=1e-4,2e-4"], seeds=3)``
trains every cell once per seed into ``OUT/<cell>/seed<k>`` (with ``train.seed=k``), evaluates each
run with the chosen metrics, and writes ``OUT/sweep.csv`` (one row per run) and ``OUT/sweep.md``
(mean ± std per cell over seeds).

Why runs are ordinary run dirs and nothing else is stored: the run dir is already resumable, so a
sweep is too for free. A second invocation skips every finished run (``summary.json`` at
``train.steps``), resumes unfinished ones from their latest checkpoint, and reuses an existing
``eval/*.json`` record of the same metrics, sample count, seed and checkpoint, so re-running a
finished sweep only rewrites the two tables. A finished run whose config differs from the cell's
is an error, never a silently stale row.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.config import Config, load_config, parse_override
from ganforge.errors import ConfigError, RunDirError
from ganforge.rundir import config_differences, holds_run, read_run_config

LOSS_KEYS = ("loss_d", "loss_g")  # final losses, reported whether or not metrics are computed


# ----------------------------------------------------------------------------------------------
# Grid specs


def split_values(text: str) -> list[str]:
    """Split on commas outside brackets and quotes: ``"[0.5,0.9],[0,0.9]"`` -> two YAML lists."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


GridSpec = Sequence[str] | dict[str, Sequence[Any]] | None


def parse_grid(grid: GridSpec) -> list[tuple[str, list[Any], list[str]]]:
    """Grid specs -> ``[(dotted key, values, value labels)]``.

    Specs are ``key=v1,v2`` strings whose values follow ``--set``'s YAML scalar rules (``1e-4`` is a
    float, ``ns`` a string, ``[0, 0.9]`` a list), or a ``{key: [values]}`` dict from Python.
    """
    if not grid:
        return []
    items: list[tuple[str, list[Any], list[str]]] = []
    if isinstance(grid, dict):
        for key, values in grid.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                raise ConfigError(f"grid key '{key}' needs a list of values, got {values!r}")
            parse_override(f"{key}=0")  # the same key rules as --set
            items.append((key, list(values), [_label(v) for v in values]))
    else:
        for spec in grid:
            if "=" not in spec:
                raise ConfigError(f"grid spec '{spec}' must look like section.key=value1,value2")
            key, raw = (s.strip() for s in spec.split("=", 1))
            texts = split_values(raw)
            if not raw or any(t == "" for t in texts):
                raise ConfigError(f"grid spec '{spec}' has an empty value; list values like key=a,b")
            values = [parse_override(f"{key}={t}")[1] for t in texts]
            items.append((key, values, texts))
    seen: set[str] = set()
    for key, values, labels in items:
        if key in seen:
            raise ConfigError(f"grid key '{key}' is given twice; list all its values in one --grid")
        if key == "train.seed":
            raise ConfigError("grid key 'train.seed' clashes with --seeds; sweep seeds with --seeds N")
        if not values:
            raise ConfigError(f"grid key '{key}' has no values")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise ConfigError(f"grid key '{key}' repeats a value ({', '.join(labels)})")
        seen.add(key)
    return items


def _label(value: Any) -> str:
    return json.dumps(value, separators=(",", ":")) if isinstance(value, (list, dict)) else str(value)


def _yaml_text(value: Any) -> str:
    """A value written back as override text that ``parse_override`` reads as the same value."""
    return json.dumps(value) if not isinstance(value, str) else value


def cell_name(keys: Sequence[str], labels: Sequence[str]) -> str:
    """``loss=hinge__lr=1e-4``: the last key part unless two keys share it; lists read ``0.5_0.9``."""
    short = [k.split(".")[-1] for k in keys]
    names = [s if short.count(s) == 1 else k for s, k in zip(short, keys, strict=True)]
    text = "__".join(f"{n}={v}" for n, v in zip(names, labels, strict=True))
    text = re.sub(r"[\[\]{}\"' ]", "", text).replace(",", "_")
    return re.sub(r"[^A-Za-z0-9._=+-]", "_", text) or "base"


# ----------------------------------------------------------------------------------------------
# Running


@dataclass
class SweepRun:
    cell: str
    seed: int
    path: Path
    config: Config
    grid: dict[str, str]


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    csv_path: Path
    md_path: Path
    markdown: str


def plan(
    config: str | Path | dict[str, Any],
    grid: GridSpec,
    seeds: int | Sequence[int],
    out: Path,
    overrides: Sequence[str] = (),
) -> list[SweepRun]:
    """Every (cell, seed) run with its validated config, built before anything trains (fail fast)."""
    items = parse_grid(grid)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list or len(set(seed_list)) != len(seed_list):
        raise ConfigError(f"seeds must be a positive count or distinct integers, got {seeds!r}")
    if any(parse_override(o)[0] == ["train", "seed"] for o in overrides):
        raise ConfigError("--set train.seed clashes with --seeds; each run's seed comes from --seeds")
    keys = [k for k, _, _ in items]
    runs = []
    for combo in itertools.product(*[list(zip(v, lab, strict=True)) for _, v, lab in items]):
        labels = [lab for _, lab in combo]
        cell = cell_name(keys, labels) if items else "base"
        cell_overrides = [f"{k}={_yaml_text(v)}" for k, (v, _) in zip(keys, combo, strict=True)]
        for seed in seed_list:
            cfg = load_config(config, [*overrides, *cell_overrides, f"train.seed={seed}"])
            grid_vals = dict(zip(keys, labels, strict=True))
            runs.append(SweepRun(cell, seed, out / cell / f"seed{seed}", cfg, grid_vals))
    cells = {r.cell: r.grid for r in runs}
    if len(cells) * len(seed_list) != len(runs):  # two value sets whose folder names coincide
        raise ConfigError("two grid cells would share a folder name; write their values differently")
    return runs


def run_state(run: SweepRun) -> str:
    """``finished`` (skip), ``unfinished`` (resume) or ``new``; a different config is an error."""
    if not holds_run(run.path):
        return "new"
    recorded = read_run_config(run.path)  # resolved: epochs in steps
    wanted = run.config.like_recorded(recorded)
    diffs = config_differences(recorded, wanted)
    summary = run.path / "summary.json"
    if diffs:
        raise RunDirError(
            f"'{run.path}' holds a run with a different config ({', '.join(diffs[:4])}); use another"
            " --out for a different sweep"
        )
    if summary.is_file():
        try:
            if json.loads(summary.read_text()).get("step") == wanted.train.steps:
                return "finished"
        except (json.JSONDecodeError, OSError):
            pass
    return "unfinished"


def _cached_eval(run_dir: Path, metrics: Sequence[str], n: int, seed: int) -> dict[str, Any] | None:
    """Values from an existing eval record of these metrics at the run's latest checkpoint, if any."""
    from ganforge.evaluation import METRICS
    from ganforge.training.checkpoint import latest_checkpoint

    ckpt = latest_checkpoint(run_dir / "checkpoints")
    for path in sorted((run_dir / "eval").glob("*.json"), reverse=True):
        try:
            rec = json.loads(path.read_text())
        except (json.JSONDecodeError, OSError):
            continue
        same = rec.get("n") == n and rec.get("seed") == seed and rec.get("generator") == "ema"
        at_ckpt = ckpt is not None and rec.get("checkpoint") == ckpt.name
        if same and at_ckpt and set(metrics) <= set(rec.get("metrics", {})):
            return {k: rec["metrics"][m]["values"][k] for m in metrics for k in METRICS[m].keys}
    return None


def sweep(
    config: str | Path | dict[str, Any],
    grid: GridSpec = None,
    seeds: int | Sequence[int] = 1,
    out: str | Path | None = None,
    metrics: str | Sequence[str] | None = None,
    overrides: Sequence[str] = (),
    n: int | None = None,
    log: Callable[[str], None] | None = None,
) -> SweepResult:
    """Train and evaluate the grid x seeds; return rows and write ``sweep.csv`` / ``sweep.md``.

    ``metrics=None`` means the dataset's own metric where its registry entry names one
    (``default_metrics``: ``modes`` for toy2d, ``stacked_modes`` for StackedMNIST) and none otherwise
    (the final losses are always in the table). Evaluations use the EMA generator, ``n`` samples
    (default: the metrics' protocol) and latent seed 0.
    """
    from ganforge.evaluation import dataset_meta, default_n, parse_metric_names

    out = Path(out) if out is not None else Path("sweeps") / Path(str(config)).stem
    runs = plan(config, grid, seeds, out, list(overrides))
    if metrics is None:
        own = dataset_meta(runs[0].config).get("default_metrics")
        names = parse_metric_names(own) if own else []
    else:
        names = parse_metric_names(metrics) if metrics else []
    eval_n = (n if n is not None else default_n(names)) if names else 0
    states = [run_state(r) for r in runs]  # every folder checked before the first run trains
    rows, metric_keys = [], []
    for i, (run, state) in enumerate(zip(runs, states, strict=True)):
        t0 = time.perf_counter()
        row, values = sweep_cell(run, state, names, eval_n)
        rows.append(row)
        metric_keys.append(list(values))
        if log is not None:
            shown = ", ".join(f"{k}={_fmt(v)}" for k, v in values.items())
            log(
                f"[{i + 1}/{len(runs)}] {run.cell}/seed{run.seed}: {row['status']}"
                f" ({time.perf_counter() - t0:.1f} s){': ' + shown if shown else ''}"
            )
    keys = list(runs[0].grid)
    value_cols = [*LOSS_KEYS, *dict.fromkeys(k for keys_ in metric_keys for k in keys_), "train_wall_s"]
    from ganforge.utils.io import atomic_write_text

    csv_path = atomic_write_text(out / "sweep.csv", to_csv(rows))
    markdown = to_markdown(rows, keys, value_cols)
    md_path = atomic_write_text(out / "sweep.md", markdown)
    return SweepResult(rows, csv_path, md_path, markdown)


def sweep_cell(run: Any, state: str, names: list[str], eval_n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train (or resume, or skip) one cell x seed and evaluate it: its table row and metric values."""
    from ganforge.api import train
    from ganforge.evaluation import evaluate

    if state != "finished":
        train(run.config, out=run.path, resume=state == "unfinished")
    values: dict[str, Any] = {}
    if names:
        values = (
            _cached_eval(run.path, names, eval_n, 0) or evaluate(run.path, names, n=eval_n, seed=0).values
        )
    summary = json.loads((run.path / "summary.json").read_text())
    last = summary.get("last_metrics") or {}
    row = {
        "cell": run.cell,
        "seed": run.seed,
        **run.grid,
        "status": {"new": "trained", "unfinished": "resumed", "finished": "skipped"}[state],
        "step": summary.get("step"),
        "train_wall_s": summary.get("wall_time_s"),
        **{k: last.get(k) for k in LOSS_KEYS},
        **values,
        "run_dir": str(run.path),
    }
    return row, values


# ----------------------------------------------------------------------------------------------
# Tables


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fields})
    return buf.getvalue()


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and *sample* standard deviation (ddof=1; 0 for a single seed) over a cell's seeds."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def to_markdown(rows: list[dict[str, Any]], keys: Sequence[str], value_cols: Sequence[str]) -> str:
    """One line per cell: its grid values, the seed count, and ``mean ± std`` of every value column."""
    cells: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault(row["cell"], []).append(row)
    header = ["cell", *keys, "seeds", *value_cols]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for cell, group in cells.items():
        stats = []
        for col in value_cols:
            vals = [r[col] for r in group if isinstance(r.get(col), (int, float)) and math.isfinite(r[col])]
            stats.append("n/a" if not vals else "{:.4g} ± {:.3g}".format(*mean_std(vals)))
        lines.append("| " + " | ".join([cell, *(group[0][k] for k in keys), str(len(group)), *stats]) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["SweepResult", "parse_grid", "plan", "sweep", "to_markdown"]
