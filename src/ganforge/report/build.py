"""Assembling the report: run dir -> ``Page`` of sections, each saying plainly when it has no data.

Every section is always present (ids are stable: ``run``, ``losses``, ``discriminator``,
``gradients``, ``optimisation``, ``other``, ``metrics``, ``samples``, ``generator``, ``diagnostics``,
``config``) so readers and scripts find the same page for a 10-step smoke run and a finished one; an
empty section carries a note that names the file it looked for and how to get it.
"""

from __future__ import annotations

import platform
import statistics
import time
from pathlib import Path
from typing import Any

import yaml

import ganforge.report.html as h
import ganforge.report.plots as plots
from ganforge.errors import GanforgeError
from ganforge.report.rundata import RunData, is_number, numeric_keys
from ganforge.rundir import read_run_config
from ganforge.tasks import open_run, task_of
from ganforge.utils.figures import png_data_uri

MAX_GRIDS = 12  # sample grids shown in the timeline; more are thinned evenly (first and last kept)
D_OUTPUTS = ("d_real", "d_fake")
SPEED = "img_per_s"


def pick_evenly(items: list[Any], k: int = MAX_GRIDS) -> list[Any]:
    """At most ``k`` items spread evenly over ``items``, always including the first and the last."""
    if len(items) <= k:
        return list(items)
    if k == 1:
        return [items[-1]]
    idx = sorted({round(i * (len(items) - 1) / (k - 1)) for i in range(k)})
    return [items[i] for i in idx]


def _config_dict(text: str) -> dict[str, Any]:
    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _get(cfg: dict[str, Any], dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _duration(seconds: Any) -> str:
    if not is_number(seconds):
        return "—"
    s = float(seconds)
    hours, rest = divmod(int(s), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{s:.1f} s" if s < 60 else f"{hours}:{minutes:02d}:{secs:02d} ({s:,.0f} s)"


def _status(data: RunData, cfg: dict[str, Any]) -> tuple[str, bool]:
    """A one-line verdict on how the run ended, and whether it is bad news."""
    summary, planned = data.summary, _get(cfg, "train.steps")
    if summary.get("error"):
        return f"stopped by an error at step {fmt_step(summary.get('step'))}: {summary['error']}", True
    if not summary:
        last = data.metrics[-1].get("step") if data.metrics else None
        where = f"; last logged step {fmt_step(last)}" if last is not None else ""
        return f"no summary.json: the run is still going or was killed{where}", True
    step = summary.get("step")
    if is_number(planned) and is_number(step) and step < planned:
        return f"stopped at step {fmt_step(step)} of {fmt_step(planned)}", True
    return f"finished: step {fmt_step(step)}", False


def fmt_step(step: Any) -> str:
    return h.fmt(int(step)) if is_number(step) else "?"


def run_section(data: RunData, cfg: dict[str, Any]) -> h.Section:
    import torch

    from ganforge import __version__

    s = data.summary
    status, bad = _status(data, cfg)
    speeds = [float(r[SPEED]) for r in data.metrics if is_number(r.get(SPEED))]
    facts = [
        ("run dir", str(data.path.resolve())),
        ("model", _get(cfg, "model.name")),
        ("data", _get(cfg, "data.name")),
        (
            "objective",
            " / ".join(str(v) for v in (_get(cfg, "objective.name"), _get(cfg, "objective.loss")) if v),
        ),
        ("step", s.get("step", data.metrics[-1].get("step") if data.metrics else None)),
        ("planned steps", _get(cfg, "train.steps")),
        ("kimg", s.get("kimg")),
        ("wall time", _duration(s.get("wall_time_s"))),
        ("median img/s", statistics.median(speeds) if speeds else None),
        ("device", s.get("device")),
        ("world size", s.get("world_size")),
        ("precision", _get(cfg, "train.precision")),
    ]
    versions = [
        ("ganforge", __version__),
        ("torch", torch.__version__),
        ("python", platform.python_version()),
        ("report written", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
    ]
    if data.checkpoints:
        rows = [(step, p.name, p.stat().st_size / 2**20) for step, p in data.checkpoints]
        ckpts = h.table(["step", "checkpoint", "MiB"], rows, numeric=(0, 2))
    else:
        ckpts = h.note("No checkpoints yet (checkpoints/step_*.safetensors).")
    skipped = "".join(
        h.note(f"{n} unreadable line(s) skipped in {name} (a file cut off mid-write?).")
        for name, n in data.skipped_lines.items()
    )
    body = (
        f'<p class="{"error" if bad else "ok"}">{h.esc(status)}</p>'
        f'<div class="facts"><div>{h.facts_table(facts)}</div>'
        f"<div><h3>checkpoints</h3>{ckpts}"
        f"<h3>software (this report)</h3>{h.facts_table(versions)}</div></div>"
        f"{skipped}"
    )
    return h.Section("run", "Run", body)


def training_sections(data: RunData) -> list[h.Section]:
    """Losses, D outputs, gradient norms, optimisation, and the rest of ``logs/metrics.jsonl``."""
    records = data.metrics
    keys = numeric_keys(records)
    losses = [k for k in keys if k.startswith("loss_")]
    outputs = [k for k in D_OUTPUTS if k in keys]
    grads = [k for k in keys if k.startswith("grad_norm_")]
    lrs = [k for k in keys if k.startswith("lr_")]
    used = {*losses, *outputs, "d_acc", *grads, *lrs, SPEED}
    other = sorted(k for k in keys if k not in used)
    missing = h.note("No training log yet (logs/metrics.jsonl is missing or empty).") if not records else None

    def section(sid: str, title: str, uri: str | None, absent: str) -> h.Section:
        body = missing or (h.img(uri, title) if uri else h.note(absent))
        return h.Section(sid, title, body)

    return [
        section("losses", "Losses", plots.losses_figure(records, losses), "No loss_* series in the log."),
        section(
            "discriminator",
            "D(real) vs D(fake)",
            plots.discriminator_figure(records, outputs, "d_acc" in keys),
            "No d_real / d_fake / d_acc series in the log (this objective does not report them).",
        ),
        section(
            "gradients", "Gradient norms", plots.grad_norm_figure(records, grads), "No grad_norm_* series."
        ),
        section(
            "optimisation",
            "Learning rates and throughput",
            plots.optim_figure(records, lrs, SPEED in keys),
            "No lr_* or img_per_s series.",
        ),
        section("other", "Other series", plots.grid_figure(records, other), "No other numeric series."),
    ]


def metrics_section(data: RunData) -> h.Section:
    """Metric curves: periodic evaluations (``logs/evals.jsonl``) and recorded ones (``eval/*.json``)."""
    keys = numeric_keys(data.evals)
    for point in data.eval_points:
        keys += [k for k in point.values if k not in keys]
    parts = []
    uri = plots.metric_curves_figure(data.evals, data.eval_points, keys, data.best)
    if uri:
        parts.append(h.img(uri, "metric curves"))
    if data.best:
        b = data.best
        parts.append(
            f"<p>best checkpoint (checkpoints/best.safetensors): {h.esc(b.get('key'))} ="
            f" {h.esc(h.fmt(b.get('value')))} at step {h.esc(fmt_step(b.get('step')))}</p>"
        )
    if not data.evals:
        parts.append(
            h.note("No periodic evaluations (logs/evals.jsonl): set train.eval_every to record some.")
        )
    if data.eval_points:
        rows = []
        for p in data.eval_points:
            metrics = p.record.get("metrics", {})
            extractors = sorted({str(m.get("extractor")) for m in metrics.values() if isinstance(m, dict)})
            values = ", ".join(f"{k}={h.fmt(v)}" for k, v in p.values.items())
            rec = p.record
            rows.append((p.file, p.step, rec.get("generator", ""), rec.get("n"), rec.get("seed"),
                         ", ".join(extractors), values))  # fmt: skip
        parts.append(
            h.table(["record", "step", "weights", "n", "seed", "extractor", "values"], rows, (1, 3, 4))
        )
    else:
        parts.append(h.note("No recorded evaluations (eval/*.json): run `ganforge eval RUN --metrics ...`."))
    return h.Section("metrics", "Metrics", "".join(parts))


def samples_section(data: RunData) -> h.Section:
    """The fixed-seed grids over training: the same latents each time, so change is the generator's."""
    shown = [(step, p) for step, p in pick_evenly(data.samples) if p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"]
    if not shown:
        return h.Section(
            "samples", "Samples over training", h.note("No sample grids yet (samples/step_*.png).")
        )
    figures = "".join(h.figure(png_data_uri(p.read_bytes()), f"step {step:,}") for step, p in shown)
    head = ""
    if len(data.samples) > len(shown):
        head = h.note(f"{len(shown)} of {len(data.samples)} grids, evenly spaced.")
    return h.Section("samples", "Samples over training", f'{head}<div class="timeline">{figures}</div>')


def generator_section(data: RunData) -> h.Section:
    """The latest generator (EMA when present), as its task draws it: a slerp walk for images, a
    scatter for 2-D data, test strips for an image-to-image run."""
    task = task_of(read_run_config(data.path))
    title = task.report_title
    if not data.checkpoints:
        return h.Section("generator", title, h.note("No checkpoint yet, so no generator to draw from."))
    try:
        view = task.report_view(open_run(data.path, ema=True))
    except GanforgeError as err:
        return h.Section("generator", title, h.note(f"Could not load the generator: {err}"))
    if view is None:
        return h.Section("generator", title, h.note("This generator's output is neither images nor vectors."))
    if view.kind == "scatter":
        title = "Generated samples"
    return h.Section("generator", title, h.img(view.uri, view.caption) + f"<p>{h.esc(view.caption)}</p>")


def diagnostics_section(data: RunData, cfg: dict[str, Any]) -> h.Section:
    """Warnings of the diagnostics and the divergence guard (``logs/events.jsonl`` + ``summary.json``)."""
    parts = []
    if data.summary.get("error"):
        parts.append(f'<p class="error">run error: {h.esc(data.summary["error"])}</p>')
    if data.events:
        rows = [
            (
                e.get("step"),
                e.get("kind", ""),
                e.get("message", ""),
                ", ".join(f"{k}={h.fmt(v)}" for k, v in (e.get("values") or {}).items()),
            )
            for e in data.events
        ]
        parts.append(f'<p class="warn">{len(rows)} warning(s)</p>')
        parts.append(h.table(["step", "kind", "message", "values"], rows, numeric=(0,)))
    elif _get(cfg, "train.diagnostics") is False:
        parts.append(h.note("Diagnostics were off for this run (train.diagnostics: false)."))
    elif not data.has_event_log and not data.summary:
        parts.append(h.note("No event log yet (logs/events.jsonl), and no summary.json."))
    else:
        parts.append(h.note("No warnings: the diagnostics and the divergence guard reported nothing."))
    return h.Section("diagnostics", "Diagnostics", "".join(parts))


def config_section(data: RunData) -> h.Section:
    return h.Section("config", "Resolved config", f"<pre>{h.esc(data.config_text)}</pre>")


def build_page(data: RunData) -> h.Page:
    cfg = _config_dict(data.config_text)
    model, dataset = _get(cfg, "model.name"), _get(cfg, "data.name")
    step = data.summary.get("step", data.metrics[-1].get("step") if data.metrics else None)
    subtitle = f"{model} on {dataset}, step {fmt_step(step)}" if model else str(data.path)
    return h.Page(
        title=f"ganforge report: {Path(data.path).resolve().name}",
        subtitle=subtitle,
        sections=[
            run_section(data, cfg),
            *training_sections(data),
            metrics_section(data),
            samples_section(data),
            generator_section(data),
            diagnostics_section(data, cfg),
            config_section(data),
        ],
    )


__all__ = ["build_page", "pick_evenly"]
