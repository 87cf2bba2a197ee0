"""Checks shared by every ``Options`` dataclass: models' and objectives' hyper-parameters are declared
once, as frozen dataclasses whose fields are the config keys, and validated in ``__post_init__``.

``SECTION`` (a class attribute: ``model`` or ``objective``) names the config section in messages, so
an error reads ``'model.ngf' must be at least 1, got 0``.
"""

from __future__ import annotations

import math
from typing import Any

from ganforge.errors import ConfigError


def check_at_least(options: Any, minimum: float, *keys: str) -> None:
    """A ConfigError naming ``<section>.<key>`` for the first option below ``minimum`` (or not finite)."""
    section = getattr(options, "SECTION", "objective")
    for key in keys:
        value = getattr(options, key)
        if isinstance(value, int) and not isinstance(value, bool):
            if value < minimum:
                raise ConfigError(f"'{section}.{key}' must be at least {minimum:g}, got {value}")
        elif not (math.isfinite(value) and value >= minimum):
            raise ConfigError(f"'{section}.{key}' must be a finite number >= {minimum:g}, got {value}")


def check_integers(options: Any, minimum: int, *keys: str) -> None:
    """Like ``check_at_least``, but the options must also be integers (not bools or floats): widths,
    depths and counts that size layers, where a float would fail deep inside ``nn.Conv2d``."""
    section = getattr(options, "SECTION", "objective")
    for key in keys:
        value = getattr(options, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"'{section}.{key}' must be an integer of at least {minimum}, got {value!r}")
