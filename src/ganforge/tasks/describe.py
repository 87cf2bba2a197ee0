"""What a run *is*, as one JSON-able dict: ``ganforge info RUN`` prints it (``--json``: as it is).

Read from the run dir alone: ``config.yaml``, the newest checkpoint's JSON sidecar and safetensors
header, ``logs/metrics.jsonl``, ``logs/evals.jsonl`` and ``summary.json``. No weights are loaded;
the parameter counts come from networks built from the config (without touching the caller's RNG).
A run that has no checkpoint yet is described too (its checkpoint, shape and counts are None/{}).

The dict's top-level keys are the contract an exported one-file model's description shares
(``kind`` says which): ``kind``, ``path``, ``task``, ``model``, ``objective``, ``dataset``,
``steps``, ``kimg``, ``checkpoint``, ``parameters``, ``last_metrics``, ``last_eval``, ``summary``,
``versions``, ``config``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ganforge.config import Config
from ganforge.errors import RunDirError
from ganforge.registry import MODELS, OBJECTIVES
from ganforge.rundir import read_run_config
from ganforge.tasks.kinds import task_of
from ganforge.training.build import build_networks
from ganforge.training.checkpoint import has_ema, latest_checkpoint
from ganforge.utils.io import read_jsonl


def describe_run(run_dir: str | Path) -> dict[str, Any]:
    """Task, model (name, family), objective, dataset (name, shape, classes), steps trained,
    newest checkpoint, parameter counts per network, last metrics and evaluation, the summary and
    the ganforge/torch versions the checkpoint recorded (``{}`` for checkpoints older than that).
    A RunDirError when ``run_dir`` is no run."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    ckpt = latest_checkpoint(run_dir / "checkpoints")
    meta = _read_json(ckpt.with_suffix(".json")) if ckpt is not None else {}
    info = meta.get("info", {})
    summary = _read_json(run_dir / "summary.json")
    metrics = read_jsonl(run_dir / "logs" / "metrics.jsonl")
    evals = read_jsonl(run_dir / "logs" / "evals.jsonl")
    return {
        "kind": "run",
        "path": str(run_dir),
        **config_facts(cfg, info),
        "steps": {"trained": int(meta.get("step", 0)), "planned": cfg.train.steps},
        "kimg": meta.get("images_seen", 0) / 1000,
        "checkpoint": (
            {"path": str(ckpt), "step": meta.get("step"), "ema": has_ema(ckpt)} if ckpt is not None else None
        ),
        "parameters": parameter_counts(cfg, info) if "data_shape" in info else {},
        "last_metrics": metrics[-1] if metrics else summary.get("last_metrics", {}),
        "last_eval": evals[-1] if evals else None,
        "summary": summary,
        "versions": meta.get("versions", {}),
        "config": cfg.to_dict(),
    }


def config_facts(cfg: Config, info: dict[str, Any]) -> dict[str, Any]:
    """What a run's config and its checkpoint's ``info`` say a model is: task, model, objective, data
    (shared by the descriptions of runs and of one-file models)."""
    return {
        "task": task_of(cfg).name,
        "model": model_facts(cfg),
        "objective": objective_facts(cfg),
        "dataset": {
            "name": cfg.data.name,
            "shape": info.get("data_shape"),
            "num_classes": info.get("num_classes"),
            "resolution": cfg.data.resolution,
            "params": dict(cfg.data.params),
        },
    }


def model_facts(cfg: Config) -> dict[str, Any]:
    """Name, family (a variant's base: ``dcgan_tiny`` is a ``dcgan``), description and the options set."""
    entry = MODELS.get(cfg.model.name)
    return {
        "name": entry.name,
        "family": entry.meta.get("variant_of", entry.name),
        "description": entry.description,
        "params": dict(cfg.model.params),
    }


def objective_facts(cfg: Config) -> dict[str, Any]:
    """Name, the adversarial loss where the objective takes one, and the options set."""
    facts: dict[str, Any] = {"name": cfg.objective.name}
    if "loss" in OBJECTIVES.get(cfg.objective.name).parameters():
        facts["loss"] = cfg.objective.loss
    return {**facts, "params": dict(cfg.objective.params)}


def parameter_counts(cfg: Config, info: dict[str, Any]) -> dict[str, int]:
    """Trainable parameters of each network (``g``, ``d``, ...), as built for the checkpoint's data
    (``info``); the build's random initialisation draws from a forked RNG, so describing a run leaves
    the caller's global torch RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        nets = build_networks(
            cfg, tuple(info["data_shape"]), int(info.get("num_classes", 0)), info.get("model_inputs")
        )
    return {name: sum(p.numel() for p in net.parameters()) for name, net in nets.items()}


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object file, or {} when it is missing (a run still training has no summary.json); a
    RunDirError naming it when it is damaged."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunDirError(f"'{path}' is not valid JSON ({err})") from None
