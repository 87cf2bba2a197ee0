"""Sampling speed of an exported generator: ONNX Runtime and TorchScript against PyTorch, one JSON line.

Issue 19 asks for "ONNX Runtime vs PyTorch sampling speed for the same model on CPU". The model is the
quickstart's family at its size (``dcgan``, 1x32x32, random weights: speed does not depend on what
the weights learned) or ``--model``; each runtime draws batches of ``--batch`` from the same latents,
after a warm-up, for ``--seconds`` each, in one process, so the ratios compare like with like.

    python benchmarks/export_speed.py                       # dcgan, batch 16
    python benchmarks/export_speed.py --model stylegan2 --shape 3,64,64 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from bench_common import machine_facts
from ganforge.export import _check, _run_onnx, _write_onnx, _write_torchscript
from ganforge.registry import MODELS
from ganforge.tasks.graphs import sampler_graph


def rate(run: Callable[[], object], batch: int, seconds: float) -> float:
    """Samples per second of ``run`` (one batch a call), after two warm-up calls."""
    run(), run()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run()
        calls += 1
    return calls * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--shape", default="1,32,32")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    import onnxruntime

    shape = tuple(int(s) for s in args.shape.split(","))
    g = MODELS.build(args.model, shape, num_classes=0)["g"].eval()
    graph = sampler_graph(g, 0, truncation=1.0)
    z = torch.randn(args.batch, g.z_dim, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path, ts_path = Path(tmp) / "g.onnx", Path(tmp) / "g.pt"
        _write_onnx(graph, onnx_path, "{}")
        _write_torchscript(graph, ts_path, "{}")
        session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        scripted = torch.jit.load(str(ts_path))
        error = max(_check(graph, lambda *xs: _run_onnx(onnx_path, graph, xs)), _check(graph, scripted))
        with torch.no_grad():
            rates = {
                "pytorch": rate(lambda: graph.module(z), args.batch, args.seconds),
                "torchscript": rate(lambda: scripted(z), args.batch, args.seconds),
                "onnxruntime": rate(lambda: session.run(None, {"z": z.numpy()}), args.batch, args.seconds),
            }
    print(json.dumps({
        "benchmark": "export_speed", "model": args.model, "shape": list(shape), "batch": args.batch,
        "samples_per_s": {k: round(v, 1) for k, v in rates.items()},
        "onnxruntime_over_pytorch": round(rates["onnxruntime"] / rates["pytorch"], 3),
        "torchscript_over_pytorch": round(rates["torchscript"] / rates["pytorch"], 3),
        "max_abs_diff": error, **machine_facts(torch.get_num_threads()),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
