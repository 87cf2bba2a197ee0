"""``ganforge info RUN|FILE``: what a model is, from its run dir (``tasks/describe.py``) or from an
exported one-file model (``tasks/onefile.py``'s ``describe_file``).

The description is one dict; ``--json`` prints it as it is, otherwise one ``label  value`` line per
fact it has, so a file's description (which lacks a run's logs) prints with the same code.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ganforge.cli.common import add_command, add_json_flag, print_json
from ganforge.errors import RunDirError

# The metrics the ``metrics`` line shows, in this order (the log line's headline, then the rest).
SHOWN_METRICS = ("loss_d", "loss_g", "d_real", "d_fake", "d_acc", "img_per_s", "diversity")


def describe(target: str | Path) -> dict[str, Any]:
    """The description of a run directory, or of a one-file model (``ganforge export``)."""
    from ganforge.tasks.describe import describe_run
    from ganforge.tasks.onefile import describe_file, is_model_file

    path = Path(target)
    if path.is_file() and not is_model_file(path):
        raise RunDirError(f"'{path}' is neither a run directory nor a one-file model (.safetensors)")
    return describe_file(path) if is_model_file(path) else describe_run(path)


def _number(value: Any) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _scores(record: dict[str, Any], keys: tuple[str, ...] | None = None) -> str:
    """``step 3000: loss_d 0.61, loss_g 1.02`` from a log or evaluation record."""
    shown = [k for k in (keys or record) if k in record and k not in ("step", "kimg", "time")]
    values = ", ".join(f"{k} {_number(record[k])}" for k in shown if isinstance(record[k], (int, float)))
    return f"step {record['step']}: {values}" if "step" in record else values


def rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    """The ``label  value`` lines of a description, each only where the description has its facts."""
    out = [(str(facts.get("kind", "model")), str(facts.get("path", "")))]
    if facts.get("task"):
        out.append(("task", facts["task"]))
    if model := facts.get("model"):
        out.append(("model", f"{model['name']} (family {model.get('family', model['name'])})"))
        if model.get("description"):
            out.append(("", model["description"]))
    if objective := facts.get("objective"):
        loss = f", loss {objective['loss']}" if objective.get("loss") else ""
        out.append(("objective", f"{objective['name']}{loss}"))
    if data := facts.get("dataset"):
        shape = "x".join(map(str, data["shape"])) if data.get("shape") else "shape unknown"
        classes = f", {data['num_classes']} classes" if data.get("num_classes") else ""
        out.append(("dataset", f"{data['name']}: {shape}{classes}"))
    if steps := facts.get("steps"):
        kimg = f", {facts['kimg']:.1f} kimg" if "kimg" in facts else ""
        out.append(("trained", f"{steps['trained']:,} of {steps['planned']:,} steps{kimg}"))
    if "checkpoint" in facts:
        ckpt = facts["checkpoint"]
        weights = " (with EMA weights)" if ckpt and ckpt.get("ema") else ""
        out.append(("checkpoint", f"{ckpt['path']}{weights}" if ckpt else "none yet"))
    if counts := facts.get("parameters"):
        out.append(("parameters", ", ".join(f"{name} {n:,}" for name, n in counts.items())))
    if metrics := facts.get("last_metrics"):
        out.append(("metrics", _scores(metrics, SHOWN_METRICS)))
    if evaluation := facts.get("last_eval"):
        out.append(("evaluation", _scores(evaluation)))
    if warnings := (facts.get("summary") or {}).get("warnings"):
        out.append(("warnings", f"{len(warnings)} (logs/events.jsonl)"))
    versions = facts.get("versions") or {}
    out.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items()) or "not recorded"))
    return out


def cmd_info(args: argparse.Namespace) -> int:
    """say what a model is: task, model, data, steps, checkpoint, parameters, last metrics, versions

    RUN is a run directory, FILE a one-file model (ganforge export). Reads the run's config, newest
    checkpoint's metadata and logs (no weights), or the file's metadata. --json prints the
    whole description (the resolved config included) as one JSON object.
    """
    facts = describe(args.target)
    if args.json:
        print_json(facts)
        return 0
    width = max(len(label) for label, _ in rows(facts))
    for label, value in rows(facts):
        print(f"{label:<{width}}  {value}")
    return 0


def add_info_parser(sub: Any) -> None:
    p = add_command(sub, "info", cmd_info)
    p.add_argument("target", metavar="RUN|FILE", help="run directory or one-file model (.safetensors)")
    add_json_flag(p, "the whole description")


__all__ = ["add_info_parser", "describe", "rows"]
