"""The report's figures, each a PNG ``data:`` URI so the page is one self-contained file.

Figures are built on ``matplotlib.figure.Figure`` with an explicit Agg canvas, never through
``pyplot``: pyplot keeps global state (a current figure, a process-wide backend) that a library
must not change under its caller, and the Agg canvas renders without a display (servers, CI).
Every function returns ``None`` when it has nothing to draw, so the page can say so instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ganforge.report.rundata import EvalPoint, is_number, series
from ganforge.utils.figures import DPI, figure_data_uri, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_IN = 10.8  # inches at DPI: 1,080 px, the page's content width
MARKERS_BELOW = 60  # draw point markers on series shorter than this: a few points read better as dots


def _figure(nrows: int, ncols: int, row_height: float) -> tuple[Figure, list[Axes]]:
    fig = new_figure("ganforge report", figsize=(WIDTH_IN, row_height * nrows), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes:
        ax.grid(True, alpha=0.3, linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8)
    return fig, axes


def _plot_keys(
    ax: Axes, records: list[dict[str, Any]], keys: Sequence[str], log: bool = False, label: bool = True
) -> bool:
    """One line per key against ``step``; on a log axis non-positive values are dropped. Drew anything?"""
    drew = False
    for key in keys:
        xs, ys = series(records, key)
        if log:
            kept = [(x, y) for x, y in zip(xs, ys, strict=True) if y > 0]
            xs, ys = [x for x, _ in kept], [y for _, y in kept]
        if not xs:
            continue
        marker = "o" if len(xs) < MARKERS_BELOW else None
        ax.plot(xs, ys, marker=marker, markersize=3, linewidth=1.3, label=key if label else None)
        drew = True
    if log and drew:
        ax.set_yscale("log")
    ax.set_xlabel("step", fontsize=8)
    if label and drew and len(keys) > 1:
        ax.legend(fontsize=8, frameon=False)
    return drew


def losses_figure(records: list[dict[str, Any]], keys: Sequence[str]) -> str | None:
    """Every ``loss_*`` series on one axis: the players' losses read against each other."""
    if not keys:
        return None
    fig, (ax,) = _figure(1, 1, 3.2)
    if not _plot_keys(ax, records, keys):
        return None
    ax.set_title("losses", fontsize=10)
    return figure_data_uri(fig)


def discriminator_figure(records: list[dict[str, Any]], outputs: Sequence[str], acc: bool) -> str | None:
    """D(real) vs D(fake) (mean logits) and, beside it, D's accuracy on a fixed [0, 1] axis."""
    if not outputs and not acc:
        return None
    panels = int(bool(outputs)) + int(acc)
    fig, axes = _figure(1, panels, 3.0)
    drew = False
    if outputs:
        ax = axes.pop(0)
        drew |= _plot_keys(ax, records, outputs)
        ax.axhline(0.0, color="0.5", linewidth=0.7)
        ax.set_title("D(real) vs D(fake), mean logit", fontsize=10)
    if acc:
        ax = axes.pop(0)
        drew |= _plot_keys(ax, records, ["d_acc"])
        ax.axhline(0.5, color="0.5", linewidth=0.7, linestyle="--")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title("D accuracy (0.5 = chance)", fontsize=10)
    return figure_data_uri(fig) if drew else None


def grad_norm_figure(records: list[dict[str, Any]], keys: Sequence[str]) -> str | None:
    """Gradient norms on a log axis: vanishing and exploding gradients are orders of magnitude apart."""
    if not keys:
        return None
    fig, (ax,) = _figure(1, 1, 3.0)
    if not _plot_keys(ax, records, keys, log=True):
        return None
    ax.set_title("gradient norms (log scale)", fontsize=10)
    return figure_data_uri(fig)


def optim_figure(records: list[dict[str, Any]], lr_keys: Sequence[str], speed: bool) -> str | None:
    """Learning rates (schedules, lazy-regularisation corrections) and training throughput."""
    panels = int(bool(lr_keys)) + int(speed)
    if not panels:
        return None
    fig, axes = _figure(1, panels, 2.8)
    drew = False
    if lr_keys:
        ax = axes.pop(0)
        drew |= _plot_keys(ax, records, lr_keys)
        ax.set_title("learning rates", fontsize=10)
        ax.set_ylim(bottom=0)  # from zero: a constant lr reads as flat, a decay as reaching 0
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    if speed:
        ax = axes.pop(0)
        drew |= _plot_keys(ax, records, ["img_per_s"], label=False)
        ax.set_title("throughput (real images / s)", fontsize=10)
    return figure_data_uri(fig) if drew else None


def grid_figure(records: list[dict[str, Any]], keys: Sequence[str], ncols: int = 4) -> str | None:
    """A compact grid, one small panel per series: for series whose scales share nothing."""
    if not keys:
        return None
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = _figure(nrows, ncols, 2.1)
    drew = False
    for ax, key in zip(axes, keys, strict=False):  # axes may outnumber keys (a grid's last row)
        drew |= _plot_keys(ax, records, [key], label=False)
        ax.set_title(key, fontsize=9)
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    return figure_data_uri(fig) if drew else None


def metric_curves_figure(
    periodic: list[dict[str, Any]],
    points: list[EvalPoint],
    keys: Sequence[str],
    best: dict[str, Any] | None = None,
    ncols: int = 3,
) -> str | None:
    """One panel per metric key: periodic evaluations (``logs/evals.jsonl``) as a line, recorded
    ``ganforge eval`` results (``eval/*.json``) as crosses at their checkpoint's step, and the best
    checkpoint's value (``best``: ``{key, step, value}``) as a star on its metric's panel."""
    if not keys:
        return None
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = _figure(nrows, min(ncols, len(keys)), 2.6)
    drew = False
    for ax, key in zip(axes, keys, strict=False):  # axes may outnumber keys (a grid's last row)
        xs, ys = series(periodic, key)
        if xs:
            marker = "o" if len(xs) < MARKERS_BELOW else None
            ax.plot(xs, ys, marker=marker, markersize=3, linewidth=1.3, label="during training")
            drew = True
        pts = [(p.step, p.values[key]) for p in points if key in p.values and p.step is not None]
        if pts:
            ax.scatter(
                [x for x, _ in pts],
                [y for _, y in pts],
                marker="x",
                s=36,
                color="C3",
                zorder=3,
                label="ganforge eval",
            )
            drew = True
        if best and best.get("key") == key and is_number(best.get("step")) and is_number(best.get("value")):
            ax.scatter([best["step"]], [best["value"]], marker="*", s=140, color="C2", zorder=4, label="best")
            drew = True
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        if len(ax.collections) + len(ax.lines) > 1:
            ax.legend(fontsize=7, frameon=False)
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    return figure_data_uri(fig) if drew else None


__all__ = [
    "discriminator_figure",
    "grad_norm_figure",
    "grid_figure",
    "losses_figure",
    "metric_curves_figure",
    "optim_figure",
]
