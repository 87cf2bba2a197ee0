"""Package attributes that load on first use (PEP 562), so importing a package stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, namespace: dict[str, Any], exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: name ``n`` is ``exports[n]``'s attribute ``n``,
    imported on first access and then cached in the package's ``namespace``; any other name is tried
    as a submodule (``ganforge.evaluation`` after a plain ``import ganforge``), as before the
    package became lazy."""

    def getattr_(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            try:
                value = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as err:
                if err.name != f"{package}.{name}":  # the submodule exists but failed inside
                    raise
                raise AttributeError(f"module '{package}' has no attribute '{name}'") from None
            namespace[name] = value
            return value
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # later lookups skip this function
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *exports})

    return getattr_, dir_
