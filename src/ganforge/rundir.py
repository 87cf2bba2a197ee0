"""The run directory contract: what makes a folder "a run", and when ganforge may write into one.

A folder holds a run when it has ``config.yaml`` or ``checkpoints/``. ganforge never overwrites a
run silently: it continues it (``--resume``, same config), replaces it (``--force``), or refuses.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import IO, Any

from ganforge.config import Config, config_from_dict, read_yaml
from ganforge.errors import RunDirError
from ganforge.training.checkpoint import latest_checkpoint
from ganforge.utils.io import atomic_write_text

# What a resumed run may change: how long it trains and how often it reports, nothing it learns from.
RESUMABLE_CHANGES = ("train.steps", "train.log_every", "train.ckpt_every", "train.sample_every",
                     "train.keep_last", "train.progress", "train.progress_every_s", "train.n_samples",
                     "train.compile", "train.diagnostics", "train.guard", "train.guard_every",
                     "train.max_rollbacks", "train.max_grad_norm_factor")  # fmt: skip
RUN_OUTPUTS = ("config.yaml", "checkpoints", "logs", "samples", "eval", "summary.json", "report.html")


def holds_run(run_dir: Path) -> bool:
    return (run_dir / "config.yaml").is_file() or (run_dir / "checkpoints").is_dir()


def read_run_config(run_dir: Path) -> Config:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"run directory '{run_dir}' does not exist")
    if not (run_dir / "config.yaml").is_file():
        raise RunDirError(f"'{run_dir}' is not a ganforge run (no config.yaml)")
    return config_from_dict(read_yaml(run_dir / "config.yaml"))


def _flat(d: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, name + "."))
        else:
            out[name] = value
    return out


def config_differences(old: Config, new: Config) -> list[str]:
    a, b = _flat(old.to_dict()), _flat(new.to_dict())
    keys = sorted(set(a) | set(b))
    return [k for k in keys if a.get(k) != b.get(k) and k not in RESUMABLE_CHANGES]


def prepare_run_dir(
    run_dir: Path, cfg: Config, *, resume: bool, force: bool, is_main: bool = True
) -> Path | None:
    """Check the folder may take this run; return the checkpoint to resume from, if any."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"output path '{run_dir}' exists and is not a directory")
    if not holds_run(run_dir):
        return None
    if resume:
        diffs = config_differences(read_run_config(run_dir), cfg)
        if diffs:
            shown = ", ".join(diffs[:4]) + (" ..." if len(diffs) > 4 else "")
            raise RunDirError(
                f"'{run_dir}' holds a run with a different config ({shown}); resume it with the same"
                " settings, or pass --force to start over"
            )
        return latest_checkpoint(run_dir / "checkpoints")
    if force:
        if is_main:
            for name in RUN_OUTPUTS:
                path = run_dir / name
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
        return None
    raise RunDirError(
        f"'{run_dir}' already holds a run; pass --resume to continue it or --force to replace it"
    )


def write_config(run_dir: Path, cfg: Config) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", cfg.to_yaml())


class RunLock:
    """One training process per run dir: an exclusive ``flock`` on ``RUN/.lock`` while it trains
    (two processes would interleave checkpoints, logs and ``latest``). The kernel drops the lock when
    the process ends, however it ends (``kill -9`` included), so a crashed run never blocks its own
    resume; the file stays, with the last holder's pid. Without ``fcntl`` (Windows) it does nothing.
    It is also a Trainer callback: training's end, or its abort, releases it."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / ".lock"
        self._handle: IO[str] | None = None

    def acquire(self) -> RunLock:
        try:
            import fcntl
        except ImportError:  # no advisory locks on this platform
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 (held open for as long as the run trains)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            who = (
                "this process already (a run that did not end?)"
                if holder == str(os.getpid())
                else (f"another process{f' (pid {holder})' if holder else ''}")
            )
            raise RunDirError(
                f"'{self.path.parent}' is being trained into by {who}; wait for it to finish, or use"
                " another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            import fcntl

            # Unlock before closing: DataLoader workers forked while training hold copies of this
            # descriptor, and the lock lives until the last copy closes unless it is dropped here.
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def on_train_end(self, trainer: Any) -> None:
        self.release()

    def on_train_abort(self, trainer: Any, error: BaseException) -> None:
        self.release()
