"""``ganforge augment RUN --per-class N -o OUT``: a labelled training set of real and generated data."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.markup import escape

from ganforge.cli.common import add_command, args_for, console


def cmd_augment(args: argparse.Namespace) -> int:
    """write a labelled set of real + generated data, N generated per class

    From a class-conditional image generator: a folder of PNGs with labels.csv (file,label,synthetic)
    or an .npz (x, y, synthetic). From a table model: CSV or Parquet with a 'synthetic' column, the
    classes of --label-column balanced by conditional sampling. The run's real training data come
    first unless --synthetic-only. Measure before trusting it: docs/augmentation.md.
    """
    from ganforge.synthetic import augment

    result = augment(**args_for(augment, args, source=args.run, out=args.output))
    if args.json:
        print(json.dumps(result))
    else:
        console.print(
            f"wrote {result['real']} real + {result['synthetic']} generated ({result['per_class']} per class,"
            f" {result['classes']} classes) to {escape(result['path'])}",
            soft_wrap=True,
        )
    return 0


def add_augment_parser(sub: Any) -> None:
    p = add_command(sub, "augment", cmd_augment)
    p.add_argument("run", help="run directory or one-file model")
    p.add_argument("--per-class", type=int, required=True, help="generated examples per class")
    p.add_argument(
        "-o", "--output", required=True, help="a folder or .npz (images); .csv or .parquet (tables)"
    )
    p.add_argument("--label-column", default=None, help="tables: the column whose classes to balance")
    p.add_argument("--synthetic-only", action="store_true", help="leave the real training data out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    p.add_argument("--json", action="store_true", help="print the counts as one JSON object")
