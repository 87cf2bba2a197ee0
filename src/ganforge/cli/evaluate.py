"""``ganforge eval`` and ``ganforge sweep``: thin shells over ``ganforge.evaluation`` and ``ganforge.sweeps``.

Kept out of ``cli/main.py`` so that file stays a table of subcommands. ``eval --json`` prints exactly
one JSON object (the metrics' values, flat) on stdout and nothing else, so scripts can pipe it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ganforge.cli.common import add_command, console


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def cmd_eval(args: argparse.Namespace) -> int:
    """compute metrics of a trained run (e.g. --metrics modes) and record them in eval/

    Compute metrics on samples of a run's generator. Results are recorded in
    RUN/eval/<timestamp>.json with the extractor, sample count, seed, dataset, checkpoint step
    and ganforge version.
    """
    from ganforge.evaluation import evaluate

    result = evaluate(
        args.run,
        args.metrics,
        n=args.n,
        seed=args.seed,
        ema=not args.no_ema,
        device=args.device,
        extractor=args.extractor,
    )
    if args.json:
        print(json.dumps(result.values))
        return 0
    rec = result.record
    table = Table(
        title=f"step {rec['step']}, {rec['generator']} generator, n={rec['n']}", title_justify="left"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, entry in rec["metrics"].items():
        for key, value in entry["values"].items():
            table.add_row(f"{name}.{key}", _fmt(value))
    Console(highlight=False).print(table)
    if result.path is not None:
        console.print(f"recorded in {escape(str(result.path))}", soft_wrap=True)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """train a grid of configs x seeds (resumable) and tabulate their metrics

    Train every combination of the --grid values, once per seed, into OUT/<cell>/seed<k>
    (train.seed=k); evaluate each run; write OUT/sweep.csv (one row per run) and OUT/sweep.md
    (mean ± sample std per cell). Re-running skips finished runs and resumes unfinished ones.
    """
    from ganforge.sweeps import sweep

    metrics: Any = args.metrics
    if metrics is not None and metrics.strip().lower() == "none":
        metrics = []
    result = sweep(
        args.config,
        grid=args.grid,
        seeds=args.seeds,
        out=args.out,
        metrics=metrics,
        overrides=args.set,
        n=args.n,
        log=lambda line: console.print(escape(line), soft_wrap=True),
    )
    print(result.markdown, end="")
    console.print(f"wrote {escape(str(result.csv_path))} and {escape(str(result.md_path))}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def add_eval_parser(sub: Any) -> None:
    from ganforge.evaluation import metrics_help

    p = add_command(
        sub, "eval", cmd_eval, epilog=metrics_help(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("run", help="run directory")
    p.add_argument("--metrics", default="modes", help="comma-separated metric names (default: modes)")
    p.add_argument(
        "--n", type=_positive_int, default=None, help="number of samples (default: the metrics' protocol)"
    )
    p.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    p.add_argument(
        "--extractor",
        default=None,
        help="feature extractor for fid/kid/is/pr/dc/accuracy (default: the dataset's, e.g. mnist-cnn)",
    )
    p.add_argument("--no-ema", action="store_true", help="score the raw generator instead of its EMA")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print one JSON object of metric values, nothing else")


def add_sweep_parser(sub: Any) -> None:
    p = add_command(sub, "sweep", cmd_sweep)
    p.add_argument("config", help="YAML file or bundled preset name")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values to sweep, e.g. objective.loss=hinge,ns (YAML scalars, as in --set); repeatable",
    )
    p.add_argument("--seeds", type=_positive_int, default=1, help="seeds 0..N-1 per cell (default 1)")
    p.add_argument("--out", help="sweep directory (default: sweeps/<config name>)")
    p.add_argument(
        "--metrics",
        default=None,
        help="comma-separated metrics, or 'none' (default: the dataset's own metric where it has one:"
        " modes on toy2d, stacked_modes on StackedMNIST)",
    )
    p.add_argument(
        "--n", type=_positive_int, default=None, help="samples per evaluation (default: the metrics')"
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")


__all__ = ["add_eval_parser", "add_sweep_parser", "cmd_eval", "cmd_sweep"]
