"""``write_report(run_dir)`` -> ``RUN/report.html``: one self-contained page about a run.

Plots of everything in ``logs/metrics.jsonl``, metric curves, the sample-grid timeline, a latent
walk (or a 2-D scatter) from the latest generator, the diagnostics' warnings, the resolved config
and the run's hardware and time facts. Images are inlined as ``data:`` URIs and the page loads
nothing else, so it can be mailed, archived, or opened offline.
"""

from __future__ import annotations

from pathlib import Path

from ganforge.report.build import build_page
from ganforge.report.html import render
from ganforge.report.rundata import read_run
from ganforge.utils.io import atomic_write_text
from ganforge.utils.optional import require


def render_report(run_dir: str | Path) -> str:
    """The report page of ``run_dir`` as an HTML string (``RunDirError`` if it holds no run).

    The page's curves are matplotlib figures: without the ``report`` extra this says so before any
    work is done, instead of failing at the first plot."""
    require("matplotlib", "report", "ganforge report")
    return render(build_page(read_run(run_dir)))


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report atomically to ``out`` (default ``RUN/report.html``; a directory gets a
    ``report.html`` inside) and return its path."""
    page = render_report(run_dir)
    path = Path(out) if out is not None else Path(run_dir) / "report.html"
    return atomic_write_text(path / "report.html" if path.is_dir() else path, page)


__all__ = ["render_report", "write_report"]
