"""Checkpoints: every tensor in one safetensors file, everything else in a JSON sidecar.

``checkpoints/step_000123.safetensors`` holds network weights (``nets.<name>.*``), EMA weights
(``ema.<name>.*``), optimiser tensors (``optim.<name>.<param index>.<key>``) and RNG states
(``rng.*``); ``step_000123.json`` holds the step, the data stream position, optimiser
hyper-parameters, any scalars callbacks add (e.g. ADA's p) and the ganforge and torch versions that
wrote it (``versions``). No pickle anywhere: loading a checkpoint cannot run code. Writes are atomic
and ``checkpoints/latest`` names the newest one.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganforge.errors import CheckpointError
from ganforge.utils.io import atomic_write, atomic_write_json, atomic_write_text

STEP_FILE = re.compile(r"^step_(\d+)\.safetensors$")


def checkpoint_name(step: int) -> str:
    return f"step_{step:06d}"


def flatten_optimizer(prefix: str, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors (for safetensors) and JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, pstate in state["state"].items():
        for key, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(
    prefix: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "."):
            idx, key = name[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(idx), {})[key] = value
    for name, value in meta.get("scalars", {}).items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    np_state = np.random.get_state()
    meta = {
        "python": _jsonable(random.getstate()),
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
    }
    return tensors, meta


def restore_rng(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda_states = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states[: torch.cuda.device_count()])
    if "python" in meta:
        version, internal, gauss = meta["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in meta:
        kind, keys, pos, has_gauss, cached = meta["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return [_jsonable(v) for v in obj]
    return obj


def software_versions() -> dict[str, str]:
    """The ganforge and torch versions of this process, as every checkpoint records them: what a
    user needs to know when a checkpoint behaves differently elsewhere (never read back to resume)."""
    from ganforge import __version__

    return {"ganforge": __version__, "torch": torch.__version__}


def save_checkpoint(
    directory: Path, step: int, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> Path:
    """Write ``step_N.safetensors`` then ``step_N.json`` then ``latest``; each write is atomic."""
    name = checkpoint_name(step)
    path = save_named_checkpoint(directory, name, step, tensors, meta)
    atomic_write_text(directory / "latest", name + "\n")
    return path


def save_named_checkpoint(
    directory: Path, name: str, step: int, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> Path:
    """``name.safetensors`` + ``name.json`` (e.g. ``best``), atomically; ``latest`` is left alone.
    The sidecar also gets ``versions`` (``software_versions``); the tensors are exactly ``tensors``."""
    weights = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    digest: list[str] = []

    def write(tmp: Path) -> None:  # hashed as written, before it is renamed into place
        save_file(weights, str(tmp))
        digest.append(file_sha256(tmp))

    atomic_write(directory / f"{name}.safetensors", write)
    sidecar = {"step": step, **meta, "versions": software_versions(), "sha256": digest[0]}
    atomic_write_json(directory / f"{name}.json", sidecar)
    return directory / f"{name}.safetensors"


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := STEP_FILE.match(p.name))]
    return sorted(found)


def latest_checkpoint(directory: Path) -> Path | None:
    """The checkpoint ``latest`` names, else the highest step on disk, else None."""
    pointer = directory / "latest"
    if pointer.is_file():
        candidate = directory / f"{pointer.read_text().strip()}.safetensors"
        if candidate.is_file():
            return candidate
    found = list_checkpoints(directory)
    return found[-1][1] if found else None


def prune_checkpoints(directory: Path, keep_last: int) -> None:
    for _, path in list_checkpoints(directory)[:-keep_last] if keep_last > 0 else []:
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)


def has_ema(path: Path) -> bool:
    """Whether checkpoint ``path`` holds EMA generator weights (``ema.g.*``), from its header alone."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return any(k.startswith("ema.g.") for k in fh.keys())  # noqa: SIM118 (safe_open has no __iter__)


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read in chunks (a checkpoint can be gigabytes)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint pair; any damage becomes one clear CheckpointError. The tensors file must
    hash to the sidecar's ``sha256`` (checkpoints written before it was recorded are read as they are):
    a truncated or altered file can still parse, and would resume silently wrong."""
    sidecar = path.with_suffix(".json")
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    try:
        meta = json.loads(sidecar.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint sidecar '{sidecar}' is missing") from None
    except (json.JSONDecodeError, OSError, UnicodeDecodeError) as err:
        raise CheckpointError(f"checkpoint sidecar '{sidecar}' is corrupt ({err})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint sidecar '{sidecar}' is corrupt (not a JSON object)")
    try:
        tensors = load_file(str(path))
        altered = "sha256" in meta and file_sha256(path) != meta["sha256"]  # parses, yet changed
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint '{path}' is corrupt or unreadable ({err})") from None
    if altered:
        raise CheckpointError(f"checkpoint '{path}' is damaged (its sha256 differs from the one recorded)")
    return tensors, meta


def load_latest_checkpoint(directory: Path) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]] | None:
    """The newest checkpoint of ``directory`` that reads back whole, as ``(path, tensors, meta)``;
    None when there is none at all. A damaged newer one (a crash mid-copy, a full disk, bit rot) is
    skipped with a warning naming it, so a resume or a sample falls back to the step before instead
    of stopping; when every one is damaged, one CheckpointError lists them."""
    newest = latest_checkpoint(directory)
    candidates = [newest] if newest is not None else []
    candidates += [p for _, p in reversed(list_checkpoints(directory)) if p != newest]
    damaged: list[str] = []
    for path in candidates:
        try:
            tensors, meta = load_checkpoint(path)
        except CheckpointError as err:
            damaged.append(str(err))
            continue
        if damaged:
            skipped = "; ".join(damaged)
            warnings.warn(f"using '{path.name}': newer checkpoints are damaged ({skipped})", stacklevel=2)
        return path, tensors, meta
    if damaged:
        raise CheckpointError(f"no readable checkpoint in '{directory}': " + "; ".join(damaged))
    return None


def load_module_state(
    module: torch.nn.Module, prefix: str, tensors: dict[str, torch.Tensor], path: Path
) -> None:
    """Copy ``prefix.*`` tensors into ``module`` strictly, naming the first mismatch."""
    state = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    if not state:
        raise CheckpointError(f"checkpoint '{path}' holds no weights for '{prefix}'")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise CheckpointError(f"checkpoint '{path}' does not fit the model's '{prefix}': {detail}") from None
