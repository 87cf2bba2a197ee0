"""``ganforge tabular fit|sample|eval``: thin shells over ``ganforge.tabular.TabularGAN``.

    ganforge tabular fit DATA.csv --out RUN [--discrete a,b] [--epochs N]
    ganforge tabular sample RUN -n N -o OUT.csv [--condition col=value ...]
    ganforge tabular eval RUN --real DATA.csv [--holdout H.csv] [--target col] --json

Tables are CSV or parquet by suffix. ``eval`` scores a fresh sample (as many rows as the real
table) with ``ganforge.metrics.tabular.evaluate_tabular``; ``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape

from ganforge.cli.common import add_command, add_run_flags, console
from ganforge.errors import ConfigError, EvalError, RunDirError


def cmd_fit(args: argparse.Namespace) -> int:
    """fit a TabularGAN to a CSV/parquet table and save it to --out

    Train preset tabular/ctgan on the table: --out is a run directory (config.yaml, checkpoints/,
    logs/, TensorBoard) that also receives the model kept (the best evaluation's: model.json and
    generator.safetensors, which `tabular sample` reads).
    """
    from ganforge.rundir import holds_run
    from ganforge.tabular import TabularGAN

    out = Path(args.out)
    if ((out / "model.json").exists() or holds_run(out)) and not (args.force or args.resume):
        raise RunDirError(
            f"'{out}' already holds a tabular model; pass --resume to continue its training or --force"
            " to replace it"
        )
    if args.force:  # the model kept by a replaced fit must not outlive it if the new one is killed
        for name in ("model.json", "generator.safetensors"):
            (out / name).unlink(missing_ok=True)
    discrete = None if args.discrete is None else [c.strip() for c in args.discrete.split(",") if c.strip()]
    kwargs: dict[str, Any] = {"seed": args.seed, "device": args.device, "progress": not args.no_progress}
    for key in ("epochs", "batch_size"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    if args.patience is not None:
        kwargs["patience"] = args.patience or None  # 0: no early stopping
    model = TabularGAN(**kwargs).fit(
        Path(args.data).resolve() if Path(args.data).exists() else args.data,
        discrete,
        run_dir=out,
        resume=args.resume,
        force=args.force,
        overrides=args.set,
    )
    model.save(out)
    info = model.training
    summary = f"{info['train_rows'] + info['validation_rows']} rows, discrete {model.discrete_columns}"
    summary += f", {info['epochs_run']} epochs"
    if info.get("stopped_early"):
        summary += f" (stopped early, kept epoch {info['best_epoch']})"
    console.print(f"[green]done[/green]: {escape(summary)}; model in {escape(str(out))}", soft_wrap=True)
    return 0


def _conditions(model: Any, pairs: list[str]) -> dict[Any, Any]:
    conditions: dict[Any, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--condition takes column=value, got '{pair}'")
        column, text = pair.split("=", 1)
        conditions[column] = model.handle.condition_from_text(column, text)
    return conditions


def cmd_sample(args: argparse.Namespace) -> int:
    from ganforge.tabular import TabularGAN
    from ganforge.tabular.io import write_table

    if args.n < 0:
        raise ConfigError(f"-n must be a non-negative number of rows, got {args.n}")
    model = TabularGAN.load(args.run, device=args.device)
    frame = model.sample(args.n, conditions=_conditions(model, args.condition), seed=args.seed)
    path = write_table(frame, args.output)
    console.print(f"wrote {len(frame)} rows to {escape(str(path))}", soft_wrap=True)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from ganforge.tabular import TabularGAN
    from ganforge.tabular.io import read_table

    model = TabularGAN.load(args.run, device=args.device)
    assert model.transformer is not None
    real = read_table(args.real)
    model.transformer.check_columns(real, what=f"real table '{args.real}'")
    holdout = None
    if args.holdout:
        holdout = read_table(args.holdout)
        model.transformer.check_columns(holdout, what=f"holdout table '{args.holdout}'")
    try:
        from ganforge.metrics.tabular import evaluate_tabular, times_as_numbers
    except ImportError as err:
        raise EvalError(f"tabular evaluation is unavailable in this installation ({err})") from None
    names = model.transformer.names
    synthetic = model.sample(args.n or len(real), seed=args.seed)
    frames = [times_as_numbers(f[names]) if f is not None else None for f in (real, synthetic, holdout)]
    result = evaluate_tabular(
        frames[0], frames[1], model.discrete_columns, holdout=frames[2], target=args.target, seed=args.seed
    )
    if args.report is not None:
        page = write_tabular_report(
            args.report or Path(args.run) / "report.html", result, frames[0], frames[1], model, args
        )
        if not args.json:
            console.print(f"wrote {escape(str(page))}", soft_wrap=True)
    if args.json:
        print(json.dumps(result, default=float))
        return 0
    print(f"quality             {result['quality']:.4f}")
    for key in ("column_shapes", "column_pair_trends"):
        score = (result.get(key) or {}).get("score")
        print(f"{key:<20}{'n/a' if score is None else f'{score:.4f}'}")
    for key in ("ml_efficacy", "dcr"):
        if result.get(key) is not None:
            print(f"{key:<20}{json.dumps(result[key], default=float)}")
    return 0


def write_tabular_report(
    path: str | Path, result: dict[str, Any], real: Any, synthetic: Any, model: Any, args: argparse.Namespace
) -> Path:
    """One self-contained HTML page (images inlined, nothing fetched), like ``ganforge report``'s:
    the scores, per-column shapes and the worst marginals, then what the model was and how it was
    evaluated, so the page still explains itself when mailed on its own."""
    from ganforge.report.html import Page, Section, facts_table, render
    from ganforge.report.tabular import tabular_report_html
    from ganforge.utils.io import atomic_write_text

    facts = [
        ("model", str(args.run)),
        ("real table", str(args.real)),
        ("holdout", str(args.holdout) if args.holdout else "none (no ML efficacy or DCR)"),
        ("synthetic rows", len(synthetic)),
        ("discrete columns", ", ".join(model.discrete_columns) or "none"),
        ("seed", args.seed),
    ]
    page = Page(
        title="Synthetic table report",
        subtitle=f"{args.run}: quality {result['quality']:.4f}",
        sections=[
            Section("scores", "Fidelity, utility, privacy", tabular_report_html(result, real, synthetic,
                                                                               model.discrete_columns)),
            Section("setup", "What was evaluated", facts_table(facts)),
        ],
    )  # fmt: skip
    return atomic_write_text(path, render(page))


def add_tabular_parser(sub: Any) -> None:
    p = sub.add_parser("tabular", help="synthetic tables with a CTGAN: fit, sample, eval")
    tsub = p.add_subparsers(dest="tabular_command", required=True)

    f = add_command(tsub, "fit", cmd_fit)
    f.add_argument("data", help="a .csv or .parquet table")
    f.add_argument("--out", required=True, help="run directory: the model is saved there too")
    f.add_argument("--discrete", default=None, help="comma-separated discrete columns (default: auto-detect)")
    f.add_argument("--epochs", type=int, default=None, help="maximum epochs (default 300)")
    f.add_argument("--batch-size", type=int, default=None, help="rows per batch (default 500)")
    f.add_argument(
        "--patience",
        type=int,
        default=None,
        help="evaluations without improvement before stopping (0: never)",
    )
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_run_flags(f, "--out", "model.embedding_dim=64 (a key of preset tabular/ctgan)")

    s = tsub.add_parser("sample", help="draw synthetic rows from a saved model")
    s.add_argument("run", help="model directory written by `tabular fit`")
    s.add_argument("-n", type=int, default=1000, help="number of rows (default 1000)")
    s.add_argument("-o", "--output", default="synthetic.csv", help=".csv or .parquet file to write")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--condition", action="append", default=[], metavar="COLUMN=VALUE",
        help="only rows with this discrete value (repeatable)",
    )  # fmt: skip
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=cmd_sample)

    e = tsub.add_parser("eval", help="score a fresh sample against the real table")
    e.add_argument("run", help="model directory written by `tabular fit`")
    e.add_argument("--real", required=True, help="the real table (.csv or .parquet)")
    e.add_argument("--holdout", default=None, help="real rows the model never saw: adds ML efficacy and DCR")
    e.add_argument("--target", default=None, help="ML efficacy target column (default: the last column)")
    e.add_argument("-n", type=int, default=None, help="synthetic rows (default: as many as --real has)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--json", action="store_true", help="print one JSON object and nothing else on stdout")
    e.add_argument(
        "--report",
        nargs="?",
        const="",
        default=None,
        metavar="HTML",
        help="also write a self-contained HTML report (default path: RUN/report.html)",
    )
    e.add_argument("--device", default="cpu")
    e.set_defaults(func=cmd_eval)


__all__ = ["add_tabular_parser", "cmd_eval", "cmd_fit", "cmd_sample"]
