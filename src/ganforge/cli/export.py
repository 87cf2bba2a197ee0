"""``ganforge export RUN -o FILE``: a trained model as one file (safetensors) or a graph (ONNX,
TorchScript). Prints what it wrote; ``--json`` prints it as one JSON object on stdout."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.markup import escape

from ganforge.cli.common import add_command, args_for, console


def cmd_export(args: argparse.Namespace) -> int:
    """export a run as a one-file model (.safetensors), ONNX (.onnx) or TorchScript (.pt)

    The format follows the output's suffix unless --format names it. A one-file model keeps the
    (EMA) generator with its config, task, data shape, labels, metrics and versions, and opens with
    ganforge.from_pretrained(FILE) or any command that takes a run. ONNX and TorchScript hold the
    network alone, for runtimes without ganforge: generators take z (and label), translators
    image (and mask or attr); the batch size is dynamic; each export is checked against PyTorch.
    """
    from ganforge.export import export

    result = export(**args_for(export, args, source=args.run, out=args.output, ema=not args.no_ema))
    if args.json:
        print(json.dumps(result))
        return 0
    console.print(f"wrote {result['format']} model to {escape(result['path'])}", soft_wrap=True)
    if "doc" in result:
        console.print(escape(result["doc"]), soft_wrap=True)
        console.print(f"checked against PyTorch: max |difference| {result['max_abs_diff']:.1e}")
    return 0


def add_export_parser(sub: Any) -> None:
    p = add_command(sub, "export", cmd_export)
    p.add_argument("run", help="run directory (or, for onnx/torchscript, a one-file model)")
    p.add_argument("-o", "--output", required=True, help="model.safetensors, model.onnx or model.pt")
    p.add_argument("--format", choices=["safetensors", "onnx", "torchscript"], default=None)
    p.add_argument("--checkpoint", default=None, help="a checkpoint file of the run (default: the newest)")
    p.add_argument("--no-ema", action="store_true", help="the raw generator instead of its EMA")
    p.add_argument("--direction", default="AtoB", help="translators: AtoB (default) or BtoA (CycleGAN)")
    p.add_argument(
        "--truncation", type=float, default=1.0, help="generator graphs: truncation ψ built in (default 1)"
    )
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--json", action="store_true", help="print what was written as one JSON object")
