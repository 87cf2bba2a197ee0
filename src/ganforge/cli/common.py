"""What every subcommand shares: the stderr console that messages and errors go to."""

from __future__ import annotations

from rich.console import Console

console = Console(stderr=True, highlight=False)
