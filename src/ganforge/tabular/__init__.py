"""Tabular synthesis (CTGAN-class), evaluation helpers and GAIN imputation.

>>> from ganforge.tabular import TabularGAN
>>> model = TabularGAN(epochs=100).fit(frame)                       # doctest: +SKIP
>>> model.sample(1000, conditions={"sex": "female"}, seed=0)         # doctest: +SKIP

The names below load on first use, so importing a submodule (e.g. ``ganforge.tabular.objective``
to register the ``ctgan`` objective) does not pull in the whole training stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganforge.utils.lazy import lazy_exports

if TYPE_CHECKING:
    from ganforge.tabular.gain import Imputer
    from ganforge.tabular.model import TabularGAN
    from ganforge.tabular.transformer import TableTransformer

_EXPORTS = {
    "Imputer": "ganforge.tabular.gain",
    "TableTransformer": "ganforge.tabular.transformer",
    "TabularGAN": "ganforge.tabular.model",
}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)

__all__ = ["Imputer", "TableTransformer", "TabularGAN"]
