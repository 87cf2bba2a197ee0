"""Reading a run dir for the report: every file optional but ``config.yaml``, nothing trusted blindly.

A report is most wanted when a run went wrong (killed, diverged, still running), so each reader
tolerates what such runs leave behind: a missing file is "absent", a JSON line cut off mid-write (a
live run appends to ``metrics.jsonl`` while we read it) is skipped and counted, not fatal.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganforge.errors import RunDirError

SAMPLE_FILE = re.compile(r"^step_(\d+)\.png$")
CHECKPOINT_FILE = re.compile(r"^step_(\d+)\.safetensors$")
# Keys of a log line that are bookkeeping, not a series worth plotting (``n``, ``eval_s``: a periodic
# evaluation's sample count and duration).
NOT_SERIES = frozenset({"step", "kimg", "time", "n", "eval_s"})


@dataclass
class EvalPoint:
    """One ``eval/*.json`` record, flattened: ``values`` maps each metric's value key to its number."""

    file: str
    step: int | None
    values: dict[str, float]
    record: dict[str, Any]


@dataclass
class RunData:
    """Everything the report shows, read once. Lists are empty and dicts ``{}`` when a file is absent."""

    path: Path
    config_text: str
    metrics: list[dict[str, Any]] = field(default_factory=list)
    evals: list[dict[str, Any]] = field(default_factory=list)
    eval_points: list[EvalPoint] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    samples: list[tuple[int, Path]] = field(default_factory=list)
    checkpoints: list[tuple[int, Path]] = field(default_factory=list)
    skipped_lines: dict[str, int] = field(default_factory=dict)
    has_event_log: bool = False
    best: dict[str, Any] = field(default_factory=dict)  # ``{metric, key, value, step}`` of best.json


def is_number(value: Any) -> bool:
    """A plottable number: int or float but not bool (JSON ``true`` is not a metric)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numeric_keys(records: list[dict[str, Any]]) -> list[str]:
    """Keys holding a number in at least one record, in first-seen order, bookkeeping keys left out."""
    seen: dict[str, None] = {}
    for rec in records:
        for key, value in rec.items():
            if key not in NOT_SERIES and is_number(value):
                seen.setdefault(key)
    return list(seen)


def series(records: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """``(steps, values)`` of ``key`` over records that have both; non-finite values stay (as gaps)."""
    xs, ys = [], []
    for rec in records:
        step, value = rec.get("step"), rec.get(key)
        if is_number(step) and is_number(value):
            xs.append(float(step))
            ys.append(float(value))
    return xs, ys


def _read_jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Objects of a JSON-lines file and the number of lines that were not a JSON object."""
    if not path.is_file():
        return [], 0
    records, bad = [], 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(obj, dict):
            records.append(obj)
        else:
            bad += 1
    return records, bad


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        obj = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


def _steps(directory: Path, pattern: re.Pattern[str]) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in directory.iterdir() if (m := pattern.match(p.name)))


def _eval_points(run_dir: Path) -> tuple[list[EvalPoint], int]:
    """``eval/*.json`` records as points: ``{"step", "metrics": {name: {"values": {k: v}}}}``."""
    points, bad = [], 0
    directory = run_dir / "eval"
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        rec = _read_json(path)
        metrics = rec.get("metrics") if rec else None
        if not isinstance(metrics, dict):
            bad += 1
            continue
        values: dict[str, float] = {}
        for entry in metrics.values():
            for key, value in (entry.get("values") or {}).items() if isinstance(entry, dict) else ():
                if is_number(value):
                    values[key] = float(value)
        step = rec.get("step") if rec else None
        points.append(EvalPoint(path.name, int(step) if is_number(step) else None, values, rec or {}))
    points.sort(key=lambda p: (p.step is None, p.step or 0, p.file))
    return points, bad


def _best_checkpoint(directory: Path) -> tuple[dict[str, Any], int | None]:
    """The periodic evaluation's best checkpoint (``best.json``): what was best, and its step."""
    meta = _read_json(directory / "best.json") if (directory / "best.safetensors").is_file() else None
    if meta is None:
        return {}, None
    best = (meta.get("scalars") or {}).get("best_eval")
    step = meta.get("step")
    return (best if isinstance(best, dict) else {}), (int(step) if is_number(step) else None)


def _merge_events(logged: list[dict[str, Any]], summary: dict[str, Any]) -> list[dict[str, Any]]:
    """``logs/events.jsonl`` plus any ``summary.json`` warning it lacks (one list, by step)."""
    warnings = summary.get("warnings")
    extra = [w for w in warnings if isinstance(w, dict)] if isinstance(warnings, list) else []

    def key(e: dict[str, Any]) -> tuple[Any, ...]:
        return (e.get("step"), e.get("kind"), e.get("message"))

    seen = {key(e) for e in logged}
    merged = logged + [e for e in extra if key(e) not in seen]
    return sorted(merged, key=lambda e: e.get("step") if is_number(e.get("step")) else math.inf)


def read_run(run_dir: str | Path) -> RunData:
    """Read a run dir; ``RunDirError`` when the folder is missing or holds no run (no ``config.yaml``)."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunDirError(f"run directory '{path}' does not exist")
    config = path / "config.yaml"
    if not config.is_file():
        raise RunDirError(f"'{path}' is not a ganforge run (no config.yaml)")
    data = RunData(path=path, config_text=config.read_text(errors="replace"))
    data.metrics, bad_metrics = _read_jsonl(path / "logs" / "metrics.jsonl")
    data.evals, bad_evals = _read_jsonl(path / "logs" / "evals.jsonl")
    logged, bad_events = _read_jsonl(path / "logs" / "events.jsonl")
    data.has_event_log = (path / "logs" / "events.jsonl").is_file()
    data.summary = _read_json(path / "summary.json") or {}
    data.events = _merge_events(logged, data.summary)
    data.eval_points, bad_records = _eval_points(path)
    data.samples = _steps(path / "samples", SAMPLE_FILE)
    data.checkpoints = _steps(path / "checkpoints", CHECKPOINT_FILE)
    data.best, best_step = _best_checkpoint(path / "checkpoints")
    if best_step is not None:
        data.checkpoints.append((best_step, path / "checkpoints" / "best.safetensors"))
    skipped = {
        "logs/metrics.jsonl": bad_metrics,
        "logs/evals.jsonl": bad_evals,
        "logs/events.jsonl": bad_events,
        "eval/*.json": bad_records,
    }
    data.skipped_lines = {k: v for k, v in skipped.items() if v}
    return data


__all__ = ["EvalPoint", "RunData", "is_number", "numeric_keys", "read_run", "series"]
