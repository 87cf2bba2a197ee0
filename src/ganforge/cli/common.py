"""What every subcommand shares: the stderr console that messages and errors go to, and the flags
of every command that trains a run."""

from __future__ import annotations

import argparse

from rich.console import Console

console = Console(stderr=True, highlight=False)


def add_run_flags(p: argparse.ArgumentParser, run_flag: str, example: str) -> None:
    """``--set KEY=VALUE`` (repeatable) and ``--resume`` / ``--force`` for the run in ``run_flag``:
    the same words in every command that trains (``train``, ``tabular fit``, ``impute``)."""
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=f"override: {example}")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--resume", action="store_true", help=f"continue the run in {run_flag} from its latest checkpoint"
    )
    group.add_argument("--force", action="store_true", help=f"replace the run in {run_flag}")
