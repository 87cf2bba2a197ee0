"""``ganforge report RUN``: a thin shell over ``ganforge.report.write_report``.

Prints the path of the written page on stdout (only that), so ``xdg-open "$(ganforge report RUN)"``
works.
"""

from __future__ import annotations

import argparse
from typing import Any

from ganforge.cli.common import add_command


def cmd_report(args: argparse.Namespace) -> int:
    """write RUN/report.html: plots, sample grids, latent walk, warnings, config

    Write a self-contained HTML report of a run (images inlined, nothing fetched): training curves
    from logs/metrics.jsonl, metric curves from logs/evals.jsonl and eval/*.json, the sample-grid
    timeline, a latent interpolation (or 2-D scatter) from the latest checkpoint, the diagnostics'
    warnings and the resolved config.
    """
    from ganforge.report import write_report

    print(write_report(args.run, out=args.out))
    return 0


def add_report_parser(sub: Any) -> None:
    p = add_command(sub, "report", cmd_report)
    p.add_argument("run", help="run directory")
    p.add_argument("-o", "--out", default=None, help="where to write the page (default: RUN/report.html)")


__all__ = ["add_report_parser", "cmd_report"]
