"""``ganforge export``: a trained model as one file to hand on or deploy.

Three formats, chosen by ``format`` or the output's suffix:

* ``safetensors`` (``model.safetensors``): the one-file model (``tasks/onefile.py``): weights plus
  config, task, data facts, metrics and versions; ``ganforge.from_pretrained`` opens it as the
  task's handle. Every task (tables too).
* ``onnx`` (``.onnx``) and ``torchscript`` (``.pt`` / ``.ts``): the network as a graph for runtimes
  without ganforge (ONNX Runtime, TensorRT, LibTorch). Generators take ``z`` (and ``label``),
  translators ``image`` (and ``mask`` / ``attr``); the batch dimension is dynamic. The graph's
  input/output description and the versions travel inside the file (ONNX ``metadata_props``,
  TorchScript ``extra_files``). Each export is checked on a fresh batch of another size against
  the PyTorch network it came from, and the largest difference is reported.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import torch

from ganforge.errors import ConfigError
from ganforge.tasks import open_run, task_of
from ganforge.tasks.base import Graph
from ganforge.tasks.onefile import describe_file, is_model_file, versions, write_model_file
from ganforge.utils.io import atomic_write
from ganforge.utils.optional import require

FORMATS = ("safetensors", "onnx", "torchscript")
SUFFIXES = {".safetensors": "safetensors", ".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript"}
CHECK_BATCH = 3  # the example batch is 2: checking at 3 shows the batch dimension really is dynamic
TOLERANCE = 1e-4
log = logging.getLogger("ganforge.export")


def export_format(out: Path, format: str | None) -> str:
    """``format`` when given, else the one ``out``'s suffix names; a ConfigError listing both."""
    if format is not None:
        if format not in FORMATS:
            raise ConfigError(f"unknown export format '{format}'; choose one of {', '.join(FORMATS)}")
        return format
    try:
        return SUFFIXES[out.suffix.lower()]
    except KeyError:
        suffixes = ", ".join(SUFFIXES)
        raise ConfigError(f"cannot tell the format of '{out}': name it {suffixes} or pass --format") from None


def export(
    source: str | Path,
    out: str | Path,
    format: str | None = None,
    *,
    ema: bool = True,
    checkpoint: str | Path | None = None,
    direction: str = "AtoB",
    truncation: float = 1.0,
    force: bool = False,
) -> dict[str, Any]:
    """Export run (or one-file model) ``source`` to ``out``; returns what was written: format,
    path, and for graphs the inputs, outputs, their description and the checked difference."""
    out = Path(out)
    fmt = export_format(out, format)
    if out.exists() and not force:
        raise ConfigError(f"'{out}' exists; pass --force to replace it")
    if fmt == "safetensors":
        if is_model_file(source):
            raise ConfigError(f"'{source}' is already a one-file model; copy it instead")
        write_model_file(source, out, ema=ema, checkpoint=checkpoint, force=force)
        return {"format": fmt, "path": str(out)}
    handle = open_run(source, ema=ema, checkpoint=checkpoint, device="cpu")
    graph = task_of(handle.config).export_graph(handle, direction=direction, truncation=truncation)
    facts = json.dumps({"inputs": list(graph.inputs), "outputs": list(graph.outputs), "doc": graph.doc,
                        "versions": versions()})  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    checked: list[float] = []

    def write_and_check(tmp: Path) -> None:
        """Written to the temporary file and checked there: a graph that differs never replaces ``out``."""
        if fmt == "onnx":
            _write_onnx(graph, tmp, facts)
            checked.append(_check(graph, lambda *xs: _run_onnx(tmp, graph, xs)))
        else:
            _write_torchscript(graph, tmp, facts)
            loaded = torch.jit.load(str(tmp))
            checked.append(_check(graph, lambda *xs: loaded(*xs)))

    atomic_write(out, write_and_check)
    error = checked[0]
    return {"format": fmt, "path": str(out), "inputs": list(graph.inputs), "outputs": list(graph.outputs),
            "doc": graph.doc, "max_abs_diff": error}  # fmt: skip


def _fresh_inputs(graph: Graph) -> tuple[torch.Tensor, ...]:
    """Inputs like the example's, at another batch size and from another seed."""
    gen = torch.Generator().manual_seed(1)
    fresh = []
    for name, example in graph.inputs.items():
        shape = (CHECK_BATCH, *example.shape[1:])
        if example.dtype == torch.long:  # labels: the example's classes, cycled
            fresh.append(torch.arange(CHECK_BATCH) % (int(example.max()) + 1))
        elif name == "z":
            fresh.append(torch.randn(shape, generator=gen))
        else:  # the example's range: [-1, 1] images, [0, 1] masks and attributes
            x = torch.rand(shape, generator=gen)
            fresh.append(x * 2 - 1 if example.min() < 0 else x)
    return tuple(fresh)


def _check(graph: Graph, run: Any) -> float:
    """The largest difference between the exported graph and the PyTorch module on fresh inputs;
    a ConfigError when it exceeds ``TOLERANCE`` (an export that silently differs is worse than none)."""
    inputs = _fresh_inputs(graph)
    with torch.no_grad():
        expected = graph.module(*inputs)
        got = torch.as_tensor(run(*inputs))
    if got.shape != expected.shape:
        raise ConfigError(f"the export returned shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
    error = float((got.float() - expected.float()).abs().max())
    if not error <= TOLERANCE:
        raise ConfigError(f"the export differs from the PyTorch network by {error:.2e} (> {TOLERANCE:g})")
    return error


def _onnx_modules() -> Any:
    require("onnxscript", "export", "ONNX export")  # torch.onnx's exporter needs it
    return require("onnx", "export", "ONNX export")


def _write_onnx(graph: Graph, path: Path, facts: str) -> None:
    """``torch.onnx.export`` (the torch.export-based exporter) with a dynamic batch dimension, then the
    facts added to the model's ``metadata_props``. The exporter's progress chatter goes to the log."""
    onnx = _onnx_modules()
    batch = torch.export.Dim("batch", min=1, max=65536)
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter), torch.no_grad():
        program = torch.onnx.export(
            graph.module,
            tuple(graph.inputs.values()),
            dynamo=True,
            input_names=list(graph.inputs),
            output_names=list(graph.outputs),
            dynamic_shapes=tuple({0: batch} for _ in graph.inputs),
        )
    log.debug(chatter.getvalue())
    model = program.model_proto
    entry = model.metadata_props.add()
    entry.key, entry.value = "ganforge", facts
    onnx.save(model, str(path))


def _run_onnx(path: Path, graph: Graph, inputs: tuple[torch.Tensor, ...]) -> Any:
    onnxruntime = require("onnxruntime", "export", "checking an ONNX export")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {name: x.numpy() for name, x in zip(graph.inputs, inputs, strict=True)}
    return session.run(None, feed)[0]


def _write_torchscript(graph: Graph, path: Path, facts: str) -> None:
    """``torch.jit.trace`` of the graph. The tracer warns about every Python-side check on shapes;
    those are silenced because the export is checked at another batch size right after."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(graph.module, tuple(graph.inputs.values()), check_trace=False)
    torch.jit.save(traced, str(path), _extra_files={"ganforge.json": facts})


__all__ = ["FORMATS", "describe_file", "export", "export_format"]
