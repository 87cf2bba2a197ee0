"""One-file models: a run's generator in a single ``.safetensors`` file that says what it is.

``write_model_file`` puts the (EMA) ``g`` network's weights in the file and, in safetensors'
string metadata, everything needed to use it without the run directory: the resolved config (to
rebuild the network), the task, the checkpoint's ``info`` (data shape, classes, a table's
encoding), the run's last metrics and the ganforge/torch versions that wrote it. ``read_model_file``
rebuilds the network from that alone. Weights are tensors and the rest JSON text, so loading a
file someone sent you runs no code of theirs (no pickle).

Low in the layers (beside ``tasks/loading.py``): ``open_run`` uses it, so every loader
(``ganforge.load``, ``from_pretrained``, ``ganforge sample``) takes a file wherever it takes a run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from ganforge.config import Config, config_from_dict
from ganforge.errors import CheckpointError, ConfigError
from ganforge.tasks.kinds import task_of
from ganforge.tasks.loading import generator_of, load_run_generator, networks_of
from ganforge.training.checkpoint import load_module_state
from ganforge.utils.io import atomic_write

FORMAT = "ganforge.model"
FORMAT_VERSION = 1
PREFIX = "g"  # tensors are the g network's state, as "g.<name>"
JSON_KEYS = ("config", "info", "metrics", "versions", "source", "labels")


def versions() -> dict[str, str]:
    """The versions that wrote a file: what a user checks first when a model behaves differently."""
    from ganforge import __version__

    return {"ganforge": __version__, "torch": torch.__version__.split("+")[0]}


def is_model_file(path: str | Path) -> bool:
    """Whether ``path`` is a file (not a run directory) that claims to be a one-file model."""
    return Path(path).is_file() and Path(path).suffix.lower() == ".safetensors"


def _run_metrics(run_dir: Path) -> dict[str, Any]:
    """What the run measured last: ``summary.json``'s last metrics and best evaluation, if any."""
    path = run_dir / "summary.json"
    if not path.is_file():
        return {}
    try:
        summary = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    keys = ("step", "kimg", "last_metrics", "best")
    return {k: summary[k] for k in keys if k in summary}


def write_model_file(
    run_dir: str | Path,
    out: str | Path,
    ema: bool = True,
    checkpoint: str | Path | None = None,
    force: bool = False,
) -> Path:
    """Write run ``run_dir``'s newest (or given) checkpoint's ``g`` (EMA weights unless ``ema`` is
    False) as the one-file model ``out`` (``.safetensors``), atomically; an existing ``out`` is
    replaced only with ``force``."""
    out = Path(out)
    if out.suffix.lower() != ".safetensors":
        raise ConfigError(f"a one-file model is a .safetensors file, got '{out}'")
    if out.exists() and not force:
        raise ConfigError(f"'{out}' exists; pass --force (force=True) to replace it")
    cfg, ckpt, g, info = load_run_generator(run_dir, ema, checkpoint)
    num_classes = int(info.get("num_classes", 0)) if getattr(g, "conditional", False) else 0
    fields = {
        "config": cfg.to_dict(),
        "info": info,
        "metrics": _run_metrics(Path(run_dir)),
        "versions": versions(),
        "source": {"checkpoint": ckpt.name, "ema": bool(ema), "step": _step_of(ckpt)},
        "labels": list(range(num_classes)),
    }
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "task": task_of(cfg).name}
    metadata.update({key: json.dumps(value) for key, value in fields.items()})
    tensors = {f"{PREFIX}.{k}": v.detach().cpu().contiguous() for k, v in g.state_dict().items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(out, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def _step_of(ckpt: Path) -> int | None:
    try:
        return int(json.loads(ckpt.with_suffix(".json").read_text()).get("step"))
    except (OSError, ValueError, TypeError, json.JSONDecodeError):
        return None


def read_metadata(path: str | Path) -> dict[str, Any]:
    """A one-file model's metadata, JSON fields decoded; a CheckpointError for anything else (a
    corrupt file, a safetensors file that is not a ganforge model, a newer format)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file '{path}' does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"'{path}' is not a readable safetensors file ({err})") from None
    if raw.get("format") != FORMAT:
        raise CheckpointError(
            f"'{path}' is a safetensors file but not a ganforge model (write one with `ganforge export`)"
        )
    version = raw.get("format_version", "")
    if not version.isdigit():
        raise CheckpointError(f"model file '{path}' has a corrupt format_version ({version!r})")
    if int(version) > FORMAT_VERSION:
        raise CheckpointError(
            f"'{path}' was written by a newer ganforge (format {version}); upgrade ganforge"
        )
    try:
        fields = {k: json.loads(raw[k]) for k in JSON_KEYS if k in raw}
    except json.JSONDecodeError as err:
        raise CheckpointError(f"model file '{path}' has corrupt metadata ({err})") from None
    wrong = [k for k, v in fields.items() if not isinstance(v, list if k == "labels" else dict)]
    if wrong:
        raise CheckpointError(f"model file '{path}' has corrupt metadata ({', '.join(wrong)})")
    return {**raw, **fields}


def read_model_file(path: str | Path) -> tuple[Config, nn.Module, dict[str, Any], dict[str, Any]]:
    """The config, the rebuilt ``g`` network with the file's weights, the ``info`` and the whole
    metadata of one-file model ``path``."""
    meta = read_metadata(path)
    try:
        cfg = config_from_dict(meta["config"])
    except KeyError:
        raise CheckpointError(f"model file '{path}' records no config") from None
    info = meta.get("info", {})
    try:
        with safe_open(str(path), framework="pt") as f:
            stored = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())  # noqa: SIM118
            check_network_size(cfg, info, path, stored)
            g = generator_of(cfg, info, path)
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118  (safe_open has no __iter__)
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"model file '{path}' is corrupt ({err})") from None
    except (ValueError, TypeError, KeyError) as err:  # data facts a network cannot be built from
        raise CheckpointError(
            f"model file '{path}' records data the model cannot be built for ({err})"
        ) from None
    load_module_state(g, PREFIX, tensors, Path(path))
    return cfg, g, info, meta


def check_network_size(cfg: Config, info: dict[str, Any], path: str | Path, stored: int) -> None:
    """Refuse a file whose config names a network far larger than the weights it holds.

    The network is rebuilt from the file's config before its weights are read, so a crafted file
    (ten kilobytes naming ``model.ngf: 100000``) would make its reader allocate gigabytes before any
    check could fail. It is built first on the meta device, which allocates nothing; its size must
    be that of the stored tensors (a little slack: parametrizations add small buffers).
    """
    try:
        with torch.device("meta"):
            sized = {
                k: sum(t.numel() for t in net.state_dict().values())
                for k, net in networks_of(cfg, info, path).items()
            }
    except (NotImplementedError, RuntimeError):  # a family that needs real values to be built
        return  # (every built-in builds on meta: tests/test_export.py walks them)
    others = sum(v for k, v in sized.items() if k != "g")  # built beside g (the builders make both)
    # g is stored whole; no built-in D is over 3.4x its G (SRGAN's), so 16x is far past any real model.
    if sized["g"] > 1.5 * stored + 100_000 or others > 16 * stored + 10_000_000:
        raise CheckpointError(
            f"model file '{path}' names networks of {sized['g'] + others:,} values but holds {stored:,}:"
            " damaged or crafted, so they are not built"
        )


def describe_file(path: str | Path) -> dict[str, Any]:
    """What a one-file model is, in ``describe_run``'s shape (``ganforge info`` prints either): task,
    model, objective, data, steps, parameters, the run's last metrics, labels, versions."""
    from ganforge.tasks.describe import config_facts

    cfg, g, info, meta = read_model_file(path)
    source = meta.get("source", {})
    metrics = meta.get("metrics", {})
    return {
        "kind": "model file",
        "path": str(path),
        **config_facts(cfg, info),
        "steps": {"trained": int(source.get("step") or 0), "planned": cfg.train.steps},
        "checkpoint": {"path": str(path), "step": source.get("step"), "ema": bool(source.get("ema"))},
        "parameters": {"g": sum(p.numel() for p in g.parameters() if p.requires_grad)},
        "last_metrics": metrics.get("last_metrics", {}),
        "labels": meta.get("labels", []),
        "versions": meta.get("versions", {}),
        "source": source,
        "config": cfg.to_dict(),
    }
