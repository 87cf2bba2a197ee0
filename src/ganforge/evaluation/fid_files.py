"""FID (and KID) between two sets of images given as folders, ``.npz`` files or run directories.

Why: the question a user with photos asks first is "how far is this folder from that one?" (a
held-out set against the training set, a model's samples against the real data, one model against
another). ``compare("photos/", "runs/faces")`` answers it with the same extractors and formulas as
``ganforge eval``, and says exactly what was compared: how many images per side, how they were read
and resized, and the extractor's identity (name + weights hash).

A side is

- a **folder** of images (recursive, every suffix the ``folder`` dataset reads): decoded with that
  dataset's own functions (EXIF rotation, centre crop to square, LANCZOS to the side, alpha dropped),
  in batches of ``batch_size`` files that go straight through the extractor, so memory stays bounded
  by the batch, not the folder. Unreadable files are skipped with one warning;
- an **npz** (or ``.npy``) file, read by the ``npz`` dataset (its layouts and pixel ranges; like
  that dataset, it holds the whole array as float32 while its batches are embedded);
- a **run** directory: ``n`` outputs of its EMA generator, or whatever its task evaluates (a
  translation run: the translations of its test split), asked of the task, never guessed (the
  task returns them at once, as for ``ganforge eval``).

Images are brought to the extractor's channels (grey repeated to RGB for Inception, RGB to luma for
``mnist-cnn``); the extractor then applies its own resize (Inception: pytorch-fid's bilinear resize to
299x299). Folder sides are read at ``resolution``, else at a run side's resolution, else at their
smallest image's shorter side (the ``folder`` dataset's rule: nothing is upscaled).

Features of folder and npz sides are cached in ``$GANFORGE_CACHE/real_features/`` (as
``reference.py`` caches a dataset's), keyed by a hash of the files read (relative path, size and
modification time of each), the reading rule, the extractor's identity and its resize: a changed
folder is never served stale features.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.data.decode import LUMA, READ_ERRORS, read_square, rgb_to_unit
from ganforge.data.files import _list_images, _smallest_side, _warn_skipped, npz
from ganforge.errors import DataError, EvalError
from ganforge.evaluation.core import get_metric
from ganforge.utils.optional import require

CACHE_VERSION = 1
DEFAULT_BATCH = 64
Features = dict[str, torch.Tensor]


@dataclass
class Side:
    """One side of a comparison: what was given, how it was read, and (once computed) its features."""

    spec: str
    kind: str  # "folder" | "npz" | "run"
    path: Path
    facts: dict[str, Any] = field(default_factory=dict)
    features: Features | None = field(default=None, repr=False)

    def record(self) -> dict[str, Any]:
        return {"source": self.spec, "kind": self.kind, **dict(sorted(self.facts.items()))}


@dataclass
class Comparison:
    """``values`` (``fid``, with ``kid``/``kid_std`` when asked) and the record ``--json`` prints."""

    values: dict[str, float]
    record: dict[str, Any]


def open_side(spec: str | Path) -> Side:
    """What ``spec`` is: a run directory (it holds ``config.yaml``), a folder, or an npz/npy file."""
    path = Path(spec).expanduser()
    if not path.exists():
        raise DataError(f"'{spec}' does not exist")
    if path.is_dir():
        return Side(str(spec), "run" if (path / "config.yaml").is_file() else "folder", path)
    if path.suffix.lower() in (".npz", ".npy"):
        return Side(str(spec), "npz", path)
    raise DataError(f"'{spec}' is neither a folder of images, an .npz/.npy file nor a run directory")


def default_extractor(sides: list[Side]) -> str:
    """The first run's dataset default (``mnist-cnn`` for digits), else ``inception``."""
    from ganforge.evaluation.core import FALLBACK_EXTRACTOR, resolve_extractor
    from ganforge.rundir import read_run_config

    for side in sides:
        if side.kind == "run":
            return resolve_extractor(read_run_config(side.path), None)
    return FALLBACK_EXTRACTOR


def extractor_channels(extractor: Any) -> int:
    """3 when the extractor embeds RGB images (Inception, raw), else 1 (grey-only ones: mnist-cnn)."""
    try:
        extractor.check_input((3, 32, 32))
    except EvalError:
        return 1
    return 3


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> ``channels`` channels: alpha dropped, grey repeated, RGB to luma
    (ITU-R 601, as the ``folder`` dataset's grey conversion). Other shapes pass unchanged, for the
    extractor to accept or explain."""

    if x.ndim != 4:
        return x
    if x.shape[1] == 4:
        x = x[:, :3]
    if x.shape[1] == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1)
    if x.shape[1] == 3 and channels == 1:
        return torch.einsum("nchw,c->nhw", x, torch.from_numpy(LUMA).to(x))[:, None]
    return x


def seeded_choice(count: int, n: int | None, seed: int) -> list[int]:
    """Indices of at most ``n`` of ``count`` items, in order, the same ones for the same seed."""
    if n is None or n >= count:
        return list(range(count))
    return sorted(torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:n].tolist())


# ----------------------------------------------------------------------------------------------
# The cache


def _digest(facts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cache_path(kind: str, extractor: Any, facts: dict[str, Any]) -> Path:
    from ganforge.utils.io import cache_dir

    return cache_dir() / "real_features" / f"{kind}-{extractor.name}-{_digest(facts)}.safetensors"


def cached(
    key: dict[str, Any] | None, kind: str, extractor: Any, compute: Callable[[], tuple[Features, dict]]
) -> tuple[Features, dict[str, Any]]:
    """``compute()``'s features and facts, from ``$GANFORGE_CACHE/real_features/`` when ``key`` (the
    hashed facts that determine them) was seen before; ``key=None`` skips the cache both ways."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    if key is None:
        features, facts = compute()
        return features, {**facts, "cache": "off"}
    full = {"version": CACHE_VERSION, "kind": kind, "extractor": extractor.identity, **key}
    path = cache_path(kind, extractor, full)
    if path.is_file():
        with contextlib.suppress(Exception):  # a damaged cache file is recomputed below
            with safe_open(str(path), framework="pt") as fh:
                features = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (no __iter__)
                facts = json.loads((fh.metadata() or {})["facts"])
            if "features" in features:
                return features, {**facts, "cache": "hit"}
    features, facts = compute()
    features = {k: v.contiguous() for k, v in features.items()}
    metadata = {"facts": json.dumps(facts, sort_keys=True)}
    with contextlib.suppress(OSError):  # a read-only cache dir only costs a recomputation next time
        from ganforge.utils.io import atomic_write

        atomic_write(path, lambda tmp: save_file(features, str(tmp), metadata=metadata))
    return features, {**facts, "cache": "miss"}


# ----------------------------------------------------------------------------------------------
# Reading each kind of side


@dataclass
class Reader:
    """How images become features: the extractor, its channels, batch size and device."""

    extractor: Any
    channels: int
    batch_size: int = DEFAULT_BATCH
    device: str = "cpu"

    def extract(self, x: torch.Tensor) -> Features:
        return self.extractor.extract(
            to_channels(x, self.channels), batch_size=self.batch_size, device=self.device, progress=False
        )


def _file_facts(root: Path, paths: list[Path]) -> list[list[Any]]:
    """(relative path, size, mtime in ns) of each file: what the cache key hashes."""
    out = []
    for p in paths:
        st = p.stat()
        out.append([p.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns])
    return out


def _decoded_batches(
    paths: list[Path], side: int, batch_size: int, skipped: list[str]
) -> Iterator[torch.Tensor]:
    """(B, 3, side, side) in [-1, 1], ``batch_size`` files at a time, decoded as the ``folder`` dataset
    decodes them; unreadable files are appended to ``skipped`` and left out."""
    for start in range(0, len(paths), batch_size):
        images = []
        for p in paths[start : start + batch_size]:
            try:
                images.append(read_square(p, side))
            except READ_ERRORS as err:
                skipped.append(f"{p.name} ({err})")
        if images:
            yield rgb_to_unit(np.stack(images), 3)


def _stream_features(batches: Iterator[torch.Tensor], reader: Reader, total: int, label: str) -> Features:
    """Extract batch by batch, concatenating only the features; a progress bar on stderr for big sets."""
    from ganforge.metrics.features.base import _progress

    chunks: dict[str, list[torch.Tensor]] = {}
    show = total >= reader.extractor.progress_threshold
    steps = -(-total // reader.batch_size)
    with _progress(show, steps, f"{reader.extractor.name}, {label}") as advance:
        for batch in batches:
            for key, value in reader.extract(batch).items():
                chunks.setdefault(key, []).append(value)
            advance()
    return {key: torch.cat(values) for key, values in chunks.items()}


def folder_side(
    side: Side, reader: Reader, resolution: int | None, n: int | None, seed: int, cache: bool
) -> None:
    """Features of (a seeded subset of ``n``) images under the folder, streamed in batches."""

    paths = _list_images(side.path, recursive=True)
    if not paths:
        raise DataError(f"no images found in '{side.spec}'")
    paths = [paths[i] for i in seeded_choice(len(paths), n, seed)]

    def compute() -> tuple[Features, dict[str, Any]]:
        skipped: list[str] = []
        readable, smallest = (paths, 0) if resolution else _smallest_side(paths, skipped)
        if not readable:
            raise DataError(f"none of the image files in '{side.spec}' could be read")
        size = resolution or smallest
        batches = _decoded_batches(readable, size, reader.batch_size, skipped)
        features = _stream_features(batches, reader, len(readable), side.path.name)
        if not features:
            raise DataError(f"none of the image files in '{side.spec}' could be read")
        _warn_skipped(side.path, skipped, stacklevel=2)
        read = f"centre crop to square, LANCZOS to {size}x{size} (the folder dataset's rule)"
        facts = {"n": len(features["features"]), "files": len(paths), "skipped": len(skipped)}
        return features, {**facts, "resolution": size, "channels": reader.channels, "read": read}

    key = {
        "files": _digest({"files": _file_facts(side.path, paths)}),
        "resolution": resolution or "smallest side",
        "channels": reader.channels,
        "resize": reader.extractor.resize,
    }
    features, facts = cached(key if cache else None, "folder", reader.extractor, compute)
    side.features, side.facts = features, facts


def npz_side(
    side: Side, reader: Reader, resolution: int | None, n: int | None, seed: int, cache: bool
) -> None:
    """Features of array ``x`` of the npz file, read by the ``npz`` dataset (layouts, pixel ranges)."""

    def compute() -> tuple[Features, dict[str, Any]]:
        x = npz(path=str(side.path), resolution=resolution).x
        x = x[seeded_choice(len(x), n, seed)]
        batches = (x[i : i + reader.batch_size] for i in range(0, len(x), reader.batch_size))
        features = _stream_features(batches, reader, len(x), side.path.name)
        size = int(x.shape[-1]) if x.ndim == 4 else None
        read = "centre crop to square" + (f", resized to {size}x{size}" if resolution else "")
        return features, {"n": len(x), "resolution": size, "channels": reader.channels, "read": read}

    st = side.path.stat()
    key = {
        "file": [side.path.name, st.st_size, st.st_mtime_ns],
        "resolution": resolution,
        "subset": [n, seed],
        "channels": reader.channels,
        "resize": reader.extractor.resize,
    }
    features, facts = cached(key if cache else None, "npz", reader.extractor, compute)
    side.features, side.facts = features, facts


def run_side(side: Side, reader: Reader, n: int, seed: int) -> None:
    """``n`` outputs of the run's EMA generator, or what its task evaluates (never cached: a run
    changes as it trains)."""
    from ganforge.evaluation.core import EvalContext, _checkpoint_facts
    from ganforge.rundir import read_run_config
    from ganforge.tasks import task_of

    cfg = read_run_config(side.path)
    task_of(cfg).check_evaluable(cfg)
    ctx = EvalContext(cfg, n, seed, run_dir=side.path, ema=True, device=reader.device)
    x = ctx.samples()
    side.features = reader.extract(x)
    size = int(x.shape[-1]) if x.ndim == 4 else None
    side.facts = {
        "n": ctx.task.eval_count(ctx),
        "resolution": size,
        "channels": reader.channels,
        "seed": seed,
        "dataset": cfg.data.name,
        **_checkpoint_facts(ctx.generator().checkpoint, True),
    }


# ----------------------------------------------------------------------------------------------
# The comparison


def _count(side: Side, n: int | None, seed: int) -> int | None:
    """How many images a folder/npz side will contribute (before unreadable files), cheaply."""
    if side.kind == "folder":
        return len(seeded_choice(len(_list_images(side.path, recursive=True)), n, seed))
    if side.kind == "npz":
        with contextlib.suppress(Exception):  # an unreadable file is reported when it is read
            count = _npz_len(side.path)
            return count if n is None else min(n, count)
    return None


def _npz_len(path: Path) -> int:
    """The number of rows of array ``x`` (or of a .npy file's array), from its header only."""
    if path.suffix.lower() == ".npy":
        return len(np.load(path, mmap_mode="r", allow_pickle=False))
    with zipfile.ZipFile(path) as archive, archive.open("x.npy") as fh:
        fmt = np.lib.format
        read = fmt.read_array_header_1_0 if fmt.read_magic(fh) == (1, 0) else fmt.read_array_header_2_0
        return int(read(fh)[0][0])


def _check_counts(n: int | None, resolution: int | None, batch_size: int) -> None:
    if n is not None and (isinstance(n, bool) or n < 1):
        raise EvalError(f"n must be a positive number of images, got {n}")
    if resolution is not None and resolution < 1:
        raise EvalError(f"resolution must be a positive number of pixels, got {resolution}")
    if batch_size < 1:
        raise EvalError(f"batch_size must be a positive integer, got {batch_size}")


def _embed(
    sides: list[Side], reader: Reader, n: int | None, resolution: int | None, seed: int, cache: bool
) -> None:
    """Each side's features: run sides first, since a run sets the size folder/npz sides are read at."""
    for side in sorted(sides, key=lambda s: s.kind != "run"):
        if side.kind == "run":
            other = sides[1] if side is sides[0] else sides[0]
            count = n or _count(other, None, seed) or get_metric("fid").default_n
            run_side(side, reader, count, seed)
            continue
        side_res = resolution or next((s.facts.get("resolution") for s in sides if s.kind == "run"), None)
        (folder_side if side.kind == "folder" else npz_side)(side, reader, side_res, n, seed, cache)


def compare(
    a: str | Path,
    b: str | Path,
    *,
    extractor: str | None = None,
    n: int | None = None,
    resolution: int | None = None,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH,
    device: str = "cpu",
    kid: bool = False,
    cache: bool = True,
) -> Comparison:
    """FID (and KID) between ``a`` and ``b``, each a folder, an npz file or a run directory.

    ``n``: samples drawn from a run side (default: as many images as the other side has, since FID
    is only comparable at equal counts; 10,000, the FID protocol, when both are runs) and, when
    given, a seeded subset size for folder/npz sides. ``resolution``: the side folder/npz images
    are read at (see the module docstring). ``extractor``: default the run's dataset's, else
    ``inception``.
    """
    from ganforge.metrics import fid as fid_value
    from ganforge.metrics import kid as kid_value
    from ganforge.metrics.features import create_extractor
    from ganforge.metrics.features.base import resolve_device

    _check_counts(n, resolution, batch_size)
    require("scipy.linalg", "eval", "FID")  # before any image is read, not after
    sides = [open_side(a), open_side(b)]
    name = extractor or default_extractor(sides)
    ext = create_extractor(name)
    reader = Reader(ext, extractor_channels(ext), batch_size, str(resolve_device(device)))
    _embed(sides, reader, n, resolution, seed, cache)
    fa, fb = (s.features["features"] for s in sides)  # type: ignore[index]
    values = {"fid": fid_value(fa, fb)}
    if kid:
        mean, std = kid_value(fa, fb, subset_size=min(1000, len(fa), len(fb)), seed=seed)
        values.update(kid=mean, kid_std=std)
    record = {
        **values,
        "extractor": ext.name,
        "extractor_identity": ext.identity,
        "resize": ext.resize,
        "n": [s.facts["n"] for s in sides],
        "sources": [s.record() for s in sides],
    }
    return Comparison(values, record)


__all__ = ["Comparison", "Side", "compare", "open_side"]
