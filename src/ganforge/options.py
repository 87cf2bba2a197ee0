"""Checks shared by every ``Options`` dataclass: models' and objectives' hyper-parameters are declared
once, as frozen dataclasses whose fields are the config keys, and validated in ``__post_init__``:
bounds declared in the annotations (``ngf: PositiveInt = 64``) by the ``Options`` base, anything
else (choices, rules between keys) by the subclass.

``SECTION`` (a class attribute: ``model`` or ``objective``) names the config section in messages, so
an error reads ``'model.ngf' must be at least 1, got 0``.
"""

from __future__ import annotations

import functools
import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Union

from ganforge.errors import ConfigError


@dataclass(frozen=True)
class AtLeast:
    """A lower bound declared with its option, ``Annotated[int, AtLeast(1)]``: the ``Options`` base
    checks it when the dataclass is made, so a key and its constraint stand in one place (rather
    than in a list of names in ``__post_init__``) and a registry-walking test can try each one."""

    minimum: float


PositiveInt = Annotated[int, AtLeast(1)]  # widths, depths, intervals: at least one
NonNegativeInt = Annotated[int, AtLeast(0)]  # counts where 0 means none
NonNegativeFloat = Annotated[float, AtLeast(0)]  # loss weights and penalty strengths: 0 is off


class Options:
    """Base of every ``Options`` dataclass: ``__post_init__`` checks the bounds declared in the
    fields' annotations (``PositiveInt``, ...). A subclass with checks of its own (choices, rules
    between keys) extends ``__post_init__`` and calls ``super().__post_init__()`` first."""

    SECTION: ClassVar[str] = "objective"

    def __post_init__(self) -> None:
        for key, is_int, minimum in declared_bounds(type(self)):
            value = getattr(self, key)
            if value is not None:
                check_bound(self.SECTION, key, value, is_int, minimum)


@functools.cache
def declared_bounds(cls: type) -> tuple[tuple[str, bool, float], ...]:
    """(key, integer?, minimum) of each field of ``cls`` annotated with an ``AtLeast``; an optional
    field (``PositiveInt | None``) is checked when it is not None."""
    bounds = []
    for key, hint in typing.get_type_hints(cls, include_extras=True).items():
        args = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else (hint,)
        for arg in args:
            extras = getattr(arg, "__metadata__", ())
            for bound in (e for e in extras if isinstance(e, AtLeast)):
                bounds.append((key, typing.get_args(arg)[0] is int, bound.minimum))
    return tuple(bounds)


def check_bound(section: str, key: str, value: Any, is_int: bool, minimum: float) -> None:
    """The ConfigError for one declared bound; integers must also be integers (not bools or floats):
    widths and counts that size layers, where a float would fail deep inside ``nn.Conv2d``."""
    if is_int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"'{section}.{key}' must be an integer of at least {minimum:g}, got {value!r}")
        if value < minimum:
            raise ConfigError(f"'{section}.{key}' must be at least {minimum:g}, got {value}")
    elif (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < minimum
    ):
        raise ConfigError(f"'{section}.{key}' must be a finite number >= {minimum:g}, got {value}")
