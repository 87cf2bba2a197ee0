"""Placeholder: `ganforge tabular` is being written this session."""

from __future__ import annotations

from typing import Any


def add_tabular_parser(sub: Any) -> None:
    """Registers nothing yet."""
