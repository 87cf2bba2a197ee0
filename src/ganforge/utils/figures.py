"""Pictures as self-contained ``data:`` URIs (PNG), for pages that load nothing else: images, figures
and the 2-D scatter of generated points over a mixture's centres.

Images need only pillow; figures need matplotlib, the ``report`` extra, imported when one is drawn so
that a core install still trains, samples and shows image grids.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ganforge.utils.optional import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def image_data_uri(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return png_data_uri(buf.getvalue())


def new_figure(feature: str, **kwargs: Any) -> Figure:
    """A matplotlib ``Figure`` (no pyplot, no global state), or the error naming the ``report`` extra
    that ``feature`` needs."""
    return require("matplotlib.figure", "report", feature).Figure(**kwargs)


def figure_data_uri(fig: Figure) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # a Figure exists: matplotlib does too

    canvas = FigureCanvasAgg(fig)
    buf = io.BytesIO()
    canvas.print_png(buf)
    return png_data_uri(buf.getvalue())


def scatter_figure(samples: np.ndarray, centres: np.ndarray | None = None, std: float | None = None) -> str:
    """2,500 generated points over the mixture's centres (with a 3-std circle: the "high quality"
    radius of the mode-coverage metric), on equal axes so a ring looks like a ring."""
    fig = new_figure("the scatter plot of 2-D samples", figsize=(5.4, 5.4), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    ax.scatter(samples[:, 0], samples[:, 1], s=3, alpha=0.35, color="C0", linewidths=0, label="generated")
    if centres is not None and len(centres):
        ax.scatter(centres[:, 0], centres[:, 1], s=40, marker="+", color="C3", label="mixture centres")
        if std:
            for cx, cy in centres:
                ax.add_patch(_circle((cx, cy), 3 * std))
        # Frame the centres and the bulk of the samples (a few far outliers would shrink the modes
        # to dots), as a square so the mixture keeps its shape.
        pad = max(float(np.ptp(centres, axis=0).max()) * 0.15, 6 * (std or 0), 0.25)
        finite = samples[np.isfinite(samples[:, :2]).all(1), :2]
        bulk = np.percentile(finite, [1, 99], axis=0) if len(finite) else centres[:2]
        lo = np.minimum(centres.min(0) - pad, bulk[0])
        hi = np.maximum(centres.max(0) + pad, bulk[1])
        mid, half = (lo + hi) / 2, float((hi - lo).max()) / 2
        ax.set_xlim(mid[0] - half, mid[0] + half)
        ax.set_ylim(mid[1] - half, mid[1] + half)
    ax.set_aspect("equal")
    ax.grid(True, alpha=0.3, linewidth=0.6)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, loc="upper right", markerscale=3)
    ax.set_title(f"{len(samples):,} samples", fontsize=10)
    return figure_data_uri(fig)


def _circle(centre: tuple[float, float], radius: float) -> Any:
    from matplotlib.patches import Circle

    return Circle(centre, radius, fill=False, color="C3", linewidth=0.6, alpha=0.6)
