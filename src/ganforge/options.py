"""Checks shared by every ``Options`` dataclass: models' and objectives' hyper-parameters are declared
once, as frozen dataclasses whose fields are the config keys, and validated in ``__post_init__``:
bounds declared in the annotations (``ngf: PositiveInt = 64``) by the ``Options`` base, anything
else (choices, rules between keys) by the subclass.

``SECTION`` (a class attribute: ``model`` or ``objective``) names the config section in messages, so
an error reads ``'model.ngf' must be at least 1, got 0``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
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

    def holds(self, value: float) -> bool:
        return value >= self.minimum

    def words(self, is_int: bool) -> str:
        """What a value must be, after "must be": ints read "at least 1", floats "a finite number >= 0"."""
        return f"at least {self.minimum:g}" if is_int else f"a finite number >= {self.minimum:g}"

    def integer_words(self) -> str:
        return f"an integer of at least {self.minimum:g}"


@dataclass(frozen=True)
class Within:
    """A closed range declared with its option: ``Annotated[float, Within(0, 1)]`` (probabilities)."""

    low: float
    high: float

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high

    def words(self, is_int: bool) -> str:
        return f"in [{self.low:g}, {self.high:g}]"

    def integer_words(self) -> str:
        return f"an integer in [{self.low:g}, {self.high:g}]"


Bound = AtLeast | Within
PositiveInt = Annotated[int, AtLeast(1)]  # widths, depths, intervals: at least one
NonNegativeInt = Annotated[int, AtLeast(0)]  # counts where 0 means none
NonNegativeFloat = Annotated[float, AtLeast(0)]  # loss weights and penalty strengths: 0 is off
Probability = Annotated[float, Within(0, 1)]  # chances and shares: 0 and 1 included


class Options:
    """Base of every ``Options`` dataclass: ``__post_init__`` checks the bounds declared in the
    fields' annotations (``PositiveInt``, ...). A subclass with checks of its own (choices, rules
    between keys) extends ``__post_init__`` and calls ``super().__post_init__()`` first."""

    SECTION: ClassVar[str] = "objective"

    def __post_init__(self) -> None:
        for key, is_int, bound in declared_bounds(type(self)):
            value = getattr(self, key)
            if value is not None:
                check_bound(f"'{self.SECTION}.{key}'", value, is_int, bound)


@functools.cache
def declared_bounds(cls: type) -> tuple[tuple[str, bool, Bound], ...]:
    """(key, integer?, bound) of each field of ``cls`` annotated with an ``AtLeast`` or ``Within``;
    an optional field (``PositiveInt | None``) is checked when it is not None."""
    bounds = []
    for key, hint in field_hints(cls).items():
        args = typing.get_args(hint) if typing.get_origin(hint) in (Union, types.UnionType) else (hint,)
        for arg in args:
            extras = getattr(arg, "__metadata__", ())
            for bound in (e for e in extras if isinstance(e, (AtLeast, Within))):
                bounds.append((key, typing.get_args(arg)[0] is int, bound))
    return tuple(bounds)


def field_hints(cls: type) -> dict[str, Any]:
    """The annotations of ``cls`` and its bases with their ``Annotated`` extras. Where they do not
    all resolve (a type imported under ``TYPE_CHECKING`` only, a local alias), each is resolved on its
    own and one that cannot be is left out: its bound, if any, goes unchecked rather than the class
    failing to be made (the registry's type checks take the same view)."""
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception:  # any failure to evaluate one annotation: resolve them one by one below
        pass
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        module = sys.modules.get(klass.__module__)
        namespace = vars(module) if module is not None else {}
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            hints.pop(name, None)  # a subclass's annotation replaces its base's
            if not isinstance(annotation, str):
                hints[name] = annotation
                continue
            with contextlib.suppress(Exception):  # evaluated as typing.get_type_hints evaluates it
                hints[name] = eval(annotation, namespace, dict(vars(klass)))
    return hints


def check_bound(name: str, value: Any, is_int: bool, bound: Bound) -> None:
    """The ConfigError for one declared bound; integers must also be integers (not bools or floats):
    widths and counts that size layers, where a float would fail deep inside ``nn.Conv2d``."""
    if is_int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{name} must be {bound.integer_words()}, got {value!r}")
    number = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not (number and bound.holds(value)):
        raise ConfigError(f"{name} must be {bound.words(is_int)}, got {value}")
