"""``ganforge sample RUN --prompt "..."`` / ``--prompts FILE``: samples of a text-to-image run.

Kept beside ``cli/main.py``'s ``sample`` command, which hands over to ``sample_prompts`` when a
prompt is given: a text run is opened as its task's handle (``TextHandle``) and every prompt gets
``-n`` samples, with the same latents for every prompt (one grid row per prompt).
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.markup import escape

from ganforge.cli.common import console, print_json
from ganforge.errors import CheckpointError, ConfigError

TEXT_TASK = "text_to_image"


def add_prompt_arguments(p: argparse.ArgumentParser) -> None:
    """``--prompt`` and ``--prompts`` on the ``sample`` command."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--prompt", default=None, help="text-to-image runs: the prompt; -n samples of it")
    group.add_argument(
        "--prompts",
        default=None,
        metavar="FILE",
        help="text-to-image runs: one prompt per line (blank lines skipped)",
    )


def wants_prompts(args: argparse.Namespace) -> bool:
    return getattr(args, "prompt", None) is not None or getattr(args, "prompts", None) is not None


def sample_prompts(args: argparse.Namespace) -> int:
    """Write ``-n`` samples per prompt to ``-o`` (.png: a row per prompt; .npz: x, prompt_index, prompts)."""
    from ganforge.tasks import open_run
    from ganforge.tasks.text_to_image import read_prompt_file

    if args.n < 1:
        raise ConfigError(f"-n must be a positive number of samples, got {args.n}")
    prompts: Any = read_prompt_file(args.prompts) if args.prompts is not None else args.prompt
    try:
        handle = open_run(args.run, ema=not args.no_ema, device=args.device, expect=TEXT_TASK)
    except CheckpointError as err:
        if f"not a {TEXT_TASK} one" not in str(err):
            raise
        raise ConfigError(
            f"--prompt/--prompts: run '{args.run}' has no text conditioning; sample it without them"
        ) from None
    path = handle.save(args.output, args.n, prompt=prompts, seed=args.seed)
    count = len(prompts) if isinstance(prompts, list) else 1
    if args.json:
        print_json({"output": str(path), "n": args.n, "prompts": count, "seed": args.seed})
    else:
        console.print(
            f"wrote {args.n} samples for each of {count} prompt(s) to {escape(str(path))}", soft_wrap=True
        )
    return 0
