"""What every subcommand shares: the stderr console that messages and errors go to, the log
lines on stderr, ``--json``, the flags of every command that trains a run, and a subcommand's
parser worded by its function's docstring."""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

console = Console(stderr=True, highlight=False)


class StderrHandler(logging.Handler):
    """Plain log lines on whatever ``sys.stderr`` is when a record comes (not the stream of when the
    handler was made: tests and notebooks swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def configure_logging() -> None:
    """Send ganforge's INFO log lines (training progress when stdout is no terminal:
    ``training/callbacks.py``'s ``ProgressLog``) to stderr as they are. A library leaves logging to
    its caller; the command is the caller, so it does this once (again: nothing more)."""
    log = logging.getLogger("ganforge")
    if not any(isinstance(h, StderrHandler) for h in log.handlers):
        log.addHandler(StderrHandler(logging.INFO))
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)


def add_json_flag(p: argparse.ArgumentParser, what: str) -> None:
    """``--json``: ``what`` as one JSON object on stdout and nothing else there (messages stay on
    stderr), so a script can pipe it."""
    p.add_argument("--json", action="store_true", help=f"print {what} as one JSON object on stdout")


def print_json(obj: Any) -> None:
    """``obj`` as one line of JSON on stdout (the only thing a ``--json`` command prints there)."""
    print(json.dumps(obj), flush=True)


def add_run_flags(p: argparse.ArgumentParser, run_flag: str, example: str) -> None:
    """``--set KEY=VALUE`` (repeatable) and ``--resume`` / ``--force`` for the run in ``run_flag``:
    the same words in every command that trains (``train``, ``tabular fit``, ``impute``)."""
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=f"override: {example}")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--resume", action="store_true", help=f"continue the run in {run_flag} from its latest checkpoint"
    )
    group.add_argument("--force", action="store_true", help=f"replace the run in {run_flag}")


def args_for(func: Callable[..., Any], args: argparse.Namespace, **given: Any) -> dict[str, Any]:
    """The keyword arguments of ``func`` that the command line sets: each parameter of ``func`` named
    like a flag's destination (``--step-size`` is ``step_size``), then ``given`` (values the command
    worked out itself) over them. Flags are named after the library's parameters, so a command
    passes them on without spelling each twice."""
    params = inspect.signature(func).parameters
    return {**{name: getattr(args, name) for name in params if hasattr(args, name)}, **given}


def add_command(
    sub: Any, name: str, func: Callable[[argparse.Namespace], int], **kwargs: Any
) -> argparse.ArgumentParser:
    """The parser of subcommand ``name``, run by ``func`` and worded by its docstring: the first
    line is the ``help`` that ``ganforge --help`` lists, the paragraphs after it the
    ``description`` of ``ganforge NAME --help``. ``kwargs`` go to ``add_parser`` (an epilog, a
    formatter)."""
    summary, _, body = (inspect.getdoc(func) or "").partition("\n\n")
    p = sub.add_parser(name, help=summary, description=body.strip() or summary, **kwargs)
    p.set_defaults(func=func)
    return p
