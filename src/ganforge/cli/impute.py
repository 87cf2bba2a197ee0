"""``ganforge impute DATA -o OUT``: fill a table's missing cells with GAIN (``ganforge.tabular.gain``).

Reads and writes CSV or Parquet, chosen by each file's suffix; the output is written atomically
(a crash leaves no half-written file). Prints one line: how many cells were imputed, per column.

Training is an ordinary ganforge run of the bundled preset ``tabular/gain``, kept in ``--run`` when
given (``config.yaml``, ``checkpoints/``, ``logs/`` with TensorBoard, ``summary.json``), else in a
temporary folder. The flags are keys of that config (``--iterations`` = ``train.steps``, ``--epochs``
= ``train.steps`` of ceil(epochs · rows / batch), ``--discrete`` = ``data.discrete``, ``--batch-size``,
``--seed``, ``--device``), ``--set key=value`` sets any other (as ``ganforge train``), ``--resume``
continues a killed run from its last checkpoint (or imputes with a finished one) and ``--force``
replaces it. The imputation then uses the run's final checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganforge.cli.common import add_command, add_run_flags
from ganforge.errors import ConfigError, DataError
from ganforge.utils.optional import lazy_pandas

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_pandas()

FORMATS = (".csv", ".parquet", ".pq")


def _format(path: Path, role: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"{role} '{path}' must end in .csv or .parquet, not '{suffix or '(no suffix)'}'")
    return "csv" if suffix == ".csv" else "parquet"


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    fmt = _format(path, "input")
    if not path.is_file():
        raise DataError(f"input table '{path}' does not exist")
    try:
        return pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise DataError(f"could not read '{path}' as {fmt}: {err}") from None


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    from ganforge.utils.io import atomic_write

    path = Path(path)
    fmt = _format(path, "output")
    if fmt == "csv":
        return atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))
    return atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))


def summary(counts: dict[str, int], out: Path) -> str:
    """``imputed 13 cells in 2 columns (sex 11, body_mass_g 2) -> out.csv``, most-imputed first."""
    total = sum(counts.values())
    if not total:
        return f"nothing to impute: no missing cells; copied to {out}"
    parts = ", ".join(f"{col} {n}" for col, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n)
    n_cols = sum(1 for n in counts.values() if n)
    return f"imputed {total} cells in {n_cols} column{'s' * (n_cols != 1)} ({parts}) -> {out}"


def run_overrides(args: argparse.Namespace, discrete: list[str], n_rows: int) -> list[str]:
    """The flags as ``--set`` keys of the preset, before the user's own ``--set`` (which win)."""
    from ganforge.tabular.gain import training_steps

    batch = min(args.batch_size, n_rows)
    steps = training_steps(args.epochs, args.iterations, n_rows, batch)
    overrides = [
        f"data.path={json.dumps(str(Path(args.data).resolve()))}",
        f"data.discrete={json.dumps(discrete) if discrete else 'null'}",
        f"data.batch_size={batch}",
        f"train.seed={args.seed}",
        f"train.device={args.device}",
        f"train.progress={str(sys.stdout.isatty()).lower()}",  # stdout stays the one summary line
    ]
    if args.epochs is not None or args.iterations is not None:  # 20 log lines, 4 checkpoints
        overrides += [f"train.steps={steps}", f"train.log_every={max(1, steps // 20)}"]
        overrides.append(f"train.ckpt_every={max(1, steps // 4)}")
    return [*overrides, *args.set]


def cmd_impute(args: argparse.Namespace) -> int:
    """fill the missing cells of a CSV/Parquet table with GAIN

    Impute missing cells with GAIN (Yoon et al. 2018). Observed cells are kept exactly; text columns
    are categorical, numeric ones continuous unless listed in --discrete.
    """
    from ganforge.config import load_config
    from ganforge.tabular.gain import PRESET, train_imputation

    df = read_table(args.data)
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise DataError(f"input table '{args.data}' has no rows or no columns")
    discrete = [c.strip() for c in args.discrete.split(",") if c.strip()] if args.discrete else []
    counts = {str(c): int(n) for c, n in df.isna().sum().items()}
    out = Path(args.output)
    _format(out, "output")  # fail before training, not after
    for name, value in (("--epochs", args.epochs), ("--iterations", args.iterations)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value}")
    if (args.resume or args.force) and not args.run:
        raise ConfigError("--resume and --force act on the run in --run: name it")
    if sum(counts.values()):
        cfg = load_config(PRESET, run_overrides(args, discrete, len(df)))
        with tempfile.TemporaryDirectory(prefix="impute-") as tmp:  # no --run: a run that leaves nothing
            run_dir = Path(args.run) if args.run else Path(tmp) / "run"
            _, handle = train_imputation(cfg, run_dir, df, resume=args.resume, force=args.force)
            df = handle.impute(df)
    write_table(df, out)
    print(summary(counts, out))
    return 0


def add_impute_parser(sub: Any) -> None:
    p = add_command(sub, "impute", cmd_impute)
    p.add_argument("data", help="input table (.csv or .parquet)")
    p.add_argument("-o", "--output", required=True, help="output table (.csv or .parquet)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, default=None, help="training passes over the rows")
    length.add_argument("--iterations", type=int, default=None, help="training steps (default 2000)")
    p.add_argument("--discrete", default="", help="comma-separated integer-coded categorical columns")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument(
        "--run", help="keep the training run in this directory (resumable); default: a temporary one"
    )
    add_run_flags(p, "--run", "objective.alpha=10 (a key of preset tabular/gain)")


__all__ = ["add_impute_parser", "cmd_impute", "read_table", "write_table"]
