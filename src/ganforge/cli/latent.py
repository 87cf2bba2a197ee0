"""Placeholder: `ganforge latent` is being written this session."""

from __future__ import annotations

from typing import Any


def add_latent_parser(sub: Any) -> None:
    """Registers nothing yet."""
