"""Optional dependencies: a core install (``pip install ganforge``) trains and samples with torch,
numpy, pyyaml, safetensors, rich and pillow alone; everything heavier belongs to an extra and is
imported only by the feature that needs it, through ``require`` (or ``optional`` where the feature
can do without, or ``lazy`` for a module used throughout a file). A missing extra is then one
sentence naming the ``pip install`` that fixes it, instead of a ``ModuleNotFoundError`` from deep
inside a command, and ``ganforge list`` / ``--help`` work on a core install because the modules that
register builders import their heavy dependencies only when a builder runs.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ganforge.errors import MissingExtraError


def _is_missing(module: str, err: ImportError) -> bool:
    """Whether ``err`` says that ``module`` itself (or a parent package) is absent, rather than a
    broken installation of it failing on a dependency of its own (which stays a traceback: a bug in
    the environment, not a missing extra)."""
    name = err.name or ""
    return bool(name) and (module == name or module.startswith(name + "."))


def optional(module: str) -> ModuleType | None:
    """``module`` imported, or None when it is not installed: for features that fall back quietly."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if _is_missing(module, err):
            return None
        raise


def missing_extra(extra: str, feature: str) -> MissingExtraError:
    """The error for ``feature`` lacking ``extra``, worded once for every caller."""
    return MissingExtraError(f"{feature} needs the '{extra}' extra: pip install 'ganforge[{extra}]'")


def require(module: str, extra: str, feature: str) -> ModuleType:
    """``module`` imported, or a ``MissingExtraError`` saying that ``feature`` needs ``extra``.

    >>> require("numpy", "core", "arrays").__name__
    'numpy'
    """
    found = optional(module)
    if found is None:
        raise missing_extra(extra, feature)
    return found


class LazyModule:
    """Stands for a module until an attribute is first read: ``pd = lazy("pandas", "tabular", ...)``
    at a module's top lets every function write ``pd.DataFrame`` as before, while importing that
    module (to register its builders) does not import pandas. The first attribute read imports it, or
    raises the ``MissingExtraError``; afterwards reads go straight to the module."""

    def __init__(self, module: str, extra: str, feature: str) -> None:
        self._spec = (module, extra, feature)
        self._module: ModuleType | None = None

    def __getattr__(self, name: str) -> Any:
        spec = self.__dict__.get("_spec")  # via __dict__: a half-built proxy (copy, pickle) must not recurse
        if spec is None or name.startswith("__"):  # probing dunders must not import anything
            raise AttributeError(name)
        module = self.__dict__.get("_module")
        if module is None:
            module = self._module = require(*spec)
        return getattr(module, name)

    def __repr__(self) -> str:
        return f"<lazy module {self._spec[0]!r} (ganforge[{self._spec[1]}])>"


def lazy(module: str, extra: str, feature: str) -> Any:
    """A ``LazyModule`` for ``module``; typed ``Any`` because files bind the real module's name under
    ``TYPE_CHECKING`` and this one otherwise::

        if TYPE_CHECKING:
            import pandas as pd
        else:
            pd = lazy("pandas", "tabular", "tabular data")
    """
    return LazyModule(module, extra, feature)


def lazy_pandas() -> Any:
    """pandas for the tabular family's modules, which the registry imports on every command."""
    return lazy("pandas", "tabular", "the tabular family (CTGAN, GAIN, ganforge tabular/impute)")


__all__ = ["LazyModule", "lazy", "lazy_pandas", "missing_extra", "optional", "require"]
