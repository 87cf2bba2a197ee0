"""The progress bar of long CPU jobs that are not training (feature extraction, latent inversion)."""

from __future__ import annotations

from typing import Any


def stderr_progress(label: str, detail: str) -> Any:
    """A transient rich ``Progress`` on stderr: ``label``, the bar, done/total, ``detail`` (a rich
    column template such as ``"mse {task.fields[mse]:.5f}"``) and the time left.

    On stderr and transient, so it never ends up in piped output or logs; rich is imported here, on
    first use, to keep it off the import path of ``import ganforge``.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(detail),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
