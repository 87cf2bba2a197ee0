"""The ``ganforge`` command. Each subcommand is a thin shell over the Python API.

Errors a user can cause (``GanforgeError``) print one line and exit with status 2; anything else
is a bug and keeps its traceback. A run stopped by SIGTERM, SIGINT or SIGUSR1 saves its step and
exits with 128 + the signal's number (``training/interrupt.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape

from ganforge.cli.common import (
    add_command,
    add_json_flag,
    add_run_flags,
    configure_logging,
    console,
    print_json,
)
from ganforge.cli.prompts import add_prompt_arguments, sample_prompts, wants_prompts
from ganforge.errors import ConfigError, GanforgeError
from ganforge.training.interrupt import TrainingInterrupted


def cmd_train(args: argparse.Namespace) -> int:
    from ganforge.api import default_run_dir, train

    out = Path(args.out) if args.out else default_run_dir(args.config)
    run = train(args.config, out=out, overrides=args.set, resume=args.resume, force=args.force)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        return 0
    if args.json:  # summary.json's facts: step, kimg, last_metrics, latest_samples, warnings, ...
        print_json({"run_dir": str(run.path), **run.summary})
        return 0
    samples = run.latest_samples
    console.print(f"[green]done[/green]: run dir {escape(str(run.path))}", soft_wrap=True)
    if samples is not None:
        console.print(f"samples: {escape(str(samples))}", soft_wrap=True)
    return 0


def sample_labels(handle: Any, label: int | None, n: int) -> Any:
    """The labels ``--label`` asks for, checked against the model: None for an unconditional one,
    one class for all, or classes 0..K-1 in turn when none is named."""
    if label is not None and not handle.num_classes:
        raise ConfigError(
            f"--label {label}: this run's model is unconditional (its generator ignores labels)"
        )
    if label is not None and not 0 <= label < handle.num_classes:
        raise ConfigError(
            f"--label {label} is not a class of this run's model (classes 0-{handle.num_classes - 1})"
        )
    if label is None and handle.num_classes:
        return [i % handle.num_classes for i in range(n)]
    return label


def cmd_sample(args: argparse.Namespace) -> int:
    from ganforge.api import load
    from ganforge.tasks.sample_folder import LABELS_FILE, is_folder_target, sample_paths

    if wants_prompts(args):  # a text-to-image run: samples per prompt (cli/prompts.py)
        return sample_prompts(args)
    if args.n < 1:
        raise ConfigError(f"-n must be a positive number of samples, got {args.n}")
    handle = load(args.run, ema=not args.no_ema, device=args.device)
    labels = sample_labels(handle, args.label, args.n)
    if not 0.0 <= args.truncation <= 1.0:
        raise ConfigError(f"--truncation must be in [0, 1], got {args.truncation}")
    folder = is_folder_target(args.output)
    path = handle.save(
        args.output, args.n, seed=args.seed, labels=labels, truncation=args.truncation, force=args.force
    )
    labels_csv = path / LABELS_FILE if folder and handle.num_classes else None
    if args.json:
        print_json(
            {
                "output": str(path),
                "files": [str(p) for p in (sample_paths(path, args.n) if folder else [path])],
                "labels_csv": str(labels_csv) if labels_csv else None,
                "n": args.n,
                "seed": args.seed,
                "truncation": args.truncation,
                "labels": [labels] * args.n if isinstance(labels, int) else labels,  # one each, or None
                "checkpoint": str(handle.checkpoint),
            }
        )
        return 0
    each = f" (one PNG each{', and ' + LABELS_FILE if labels_csv else ''})" if folder else ""
    console.print(f"wrote {args.n} samples to {escape(str(path))}{each}", soft_wrap=True)
    return 0


def registry_tables() -> dict[str, Any]:
    """What ``ganforge list`` lists: each registry by its plural name (``configs`` comes last)."""
    import ganforge.tasks  # noqa: F401  (registers the task kinds)
    from ganforge.augment import AUGMENTS
    from ganforge.registry import DATASETS, EXTRACTORS, LOSSES, MODELS, OBJECTIVES, TASKS, _load_builtins

    _load_builtins()
    return {
        "models": MODELS,
        "losses": LOSSES,
        "datasets": DATASETS,
        "objectives": OBJECTIVES,
        "augments": AUGMENTS,
        "extractors": EXTRACTORS,
        "tasks": TASKS,
    }


def entry_record(entry: Any) -> dict[str, Any]:
    """One registry entry for ``list --json``: name, description, aliases, then every metadata
    value JSON can hold (a model's ``resolutions``, ``task``, ``variant_of``; a dataset's
    ``channels``, ...); builders, classes and functions are left out."""
    record: dict[str, Any] = {"name": entry.name, "description": entry.description}
    record["aliases"] = list(entry.meta.get("aliases") or ())
    for key, value in entry.meta.items():
        if key not in record:
            try:
                record[key] = json.loads(json.dumps(value))
            except (TypeError, ValueError):
                continue
    return record


def cmd_list(args: argparse.Namespace) -> int:
    from ganforge.config import bundled_configs

    tables = registry_tables()
    kinds = [args.kind] if args.kind else [*tables, "configs"]
    if args.json:
        print_json(
            {
                kind: [{"name": n} for n in bundled_configs()]
                if kind == "configs"
                else [entry_record(e) for e in tables[kind].entries()]
                for kind in kinds
            }
        )
        return 0
    for kind in kinds:
        print(f"{kind}:")
        if kind == "configs":
            for name in bundled_configs():
                print(f"  {name}")
            continue
        entries = tables[kind].entries()
        width = max([16, *(len(e.name) for e in entries)])
        for entry in entries:
            aliases = entry.meta.get("aliases") or ()
            alias = f" (alias: {', '.join(aliases)})" if aliases else ""
            print(f"  {entry.name:<{width}} {entry.description}{alias}")
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    """print a shell completion script (bash, zsh or fish)

    Print a completion script for ganforge's subcommands and flags, generated from its own parser.
    Install it once (generating it takes a second, too long for every new shell): bash: ganforge
    completion bash > ~/.local/share/bash-completion/completions/ganforge; zsh: ganforge completion
    zsh > ~/.zfunc/ganforge.zsh, sourced from ~/.zshrc; fish: ganforge completion fish >
    ~/.config/fish/completions/ganforge.fish.
    """
    from ganforge.cli.completion import completion_script

    print(completion_script(args.shell, build_parser()), end="")
    return 0


def add_train_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="train from a YAML config (a path or a bundled preset name)")
    p.add_argument("config", help="YAML file, or a preset from `ganforge list configs` (e.g. quickstart)")
    p.add_argument("--out", help="run directory (default: runs/<config name>)")
    add_run_flags(p, "--out", "train.steps=200")
    add_json_flag(p, "the run dir and its summary (step, kimg, last metrics, samples, warnings) at the end")
    p.set_defaults(func=cmd_train)


def add_sample_parser(sub: Any) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained run")
    p.add_argument("run", help="run directory or one-file model (ganforge export)")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument(
        "-o",
        "--output",
        default="samples.png",
        help=".png grid, .npz arrays (x, y), or a folder (DIR/): 000000.png, ... one image per sample,"
        " and labels.csv (file,label) for a conditional model",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, default=None, help="class label for conditional models")
    p.add_argument(
        "--truncation", type=float, default=1.0, help="truncation ψ in [0, 1]: lower = less varied, cleaner"
    )
    p.add_argument("--no-ema", action="store_true", help="use the raw generator instead of its EMA")
    p.add_argument("--device", default="cpu")
    p.add_argument("--force", action="store_true", help="replace the sample files already in the -o folder")
    add_prompt_arguments(p)
    add_json_flag(p, "the files written, n, seed and labels")
    p.set_defaults(func=cmd_sample)


def add_list_parser(sub: Any) -> None:
    p = sub.add_parser(
        "list", help="list registered models, losses, datasets, objectives, extractors, tasks, configs"
    )
    kinds = ["models", "losses", "datasets", "objectives", "augments", "extractors", "tasks", "configs"]
    p.add_argument("kind", nargs="?", choices=kinds)
    add_json_flag(p, "the lists ({kind: [{name, description, ...}]})")
    p.set_defaults(func=cmd_list)


def add_completion_parser(sub: Any) -> None:
    from ganforge.cli.completion import SHELLS

    p = add_command(sub, "completion", cmd_completion)
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def build_parser() -> argparse.ArgumentParser:
    from ganforge import __version__
    from ganforge.cli.anomaly import add_anomaly_parser
    from ganforge.cli.augment_set import add_augment_parser
    from ganforge.cli.dataset import add_dataset_parser
    from ganforge.cli.evaluate import add_eval_parser, add_sweep_parser
    from ganforge.cli.export import add_export_parser
    from ganforge.cli.fid import add_fid_parser
    from ganforge.cli.impute import add_impute_parser
    from ganforge.cli.info import add_info_parser
    from ganforge.cli.latent import add_latent_parser
    from ganforge.cli.report import add_report_parser
    from ganforge.cli.serve import add_serve_parser
    from ganforge.cli.tabular import add_tabular_parser
    from ganforge.cli.translate import add_translate_parser

    parser = argparse.ArgumentParser(prog="ganforge", description="Train, sample and inspect GANs.")
    parser.add_argument("--version", action="version", version=f"ganforge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        add_train_parser, add_sample_parser, add_list_parser, add_info_parser, add_eval_parser,
        add_sweep_parser, add_report_parser, add_latent_parser, add_tabular_parser, add_impute_parser,
        add_translate_parser, add_fid_parser, add_dataset_parser, add_export_parser, add_serve_parser,
        add_augment_parser, add_anomaly_parser, add_completion_parser,
    ):  # fmt: skip
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        return args.func(args)
    except GanforgeError as err:
        # escape: messages quote user paths and values, which rich would read as markup
        console.print(f"[red]error:[/red] {escape(str(err))}", soft_wrap=True)
        return 2
    except TrainingInterrupted as stop:  # a stop signal, at a step boundary: that step is saved
        console.print(f"{stop}: checkpoint saved; continue with --resume", soft_wrap=True)
        return stop.exit_status
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
