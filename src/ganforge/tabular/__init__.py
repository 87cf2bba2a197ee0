"""Tabular synthesis (CTGAN-class), evaluation helpers and GAIN imputation.

>>> from ganforge.tabular import TabularGAN
>>> model = TabularGAN(epochs=100).fit(frame)                       # doctest: +SKIP
>>> model.sample(1000, conditions={"sex": "female"}, seed=0)         # doctest: +SKIP

The names below load on first use, so importing a submodule (e.g. ``ganforge.tabular.objective``
to register the ``ctgan`` objective) does not pull in the whole training stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ganforge.tabular.gain import Imputer
    from ganforge.tabular.model import TabularGAN
    from ganforge.tabular.transformer import TableTransformer

__all__ = ["Imputer", "TableTransformer", "TabularGAN"]


def __getattr__(name: str) -> Any:
    if name == "TabularGAN":
        from ganforge.tabular.model import TabularGAN

        return TabularGAN
    if name == "Imputer":
        from ganforge.tabular.gain import Imputer

        return Imputer
    if name == "TableTransformer":
        from ganforge.tabular.transformer import TableTransformer

        return TableTransformer
    raise AttributeError(f"module 'ganforge.tabular' has no attribute '{name}'")
