"""Real tables that ship inside installed libraries, as pandas frames, for tabular tests and benchmarks.

``load_table(name) -> (frame, discrete_columns, target)``. These are *tables*, not ``ArrayDataset``
tensors, so they are deliberately not in the image ``DATASETS`` registry: tabular models need column
names, dtypes and the list of discrete columns, which a tensor has lost.

- ``fair``: statsmodels' Fair (1978) affairs survey, 6,366 x 9. Its integer-coded categoricals
  (``rate_marriage``, ``religious``, ``occupation``, ``occupation_husb``) arrive as floats; they are
  cast to int and declared discrete. ``age``, ``yrs_married``, ``children`` and ``educ`` are coarse
  numeric codes (bin midpoints, years of schooling) and stay numeric. Target ``affairs`` (regression).
- ``penguins``: palmerpenguins, 344 x 8, mixed types with *real* missing values (19 cells in 11 rows;
  ``dropna=True`` removes those rows when the truth must be known). Target ``species``.
- ``iris`` (150 x 5), ``wine`` (178 x 14), ``breast_cancer`` (569 x 31): scikit-learn's classic sets,
  all-continuous features plus the class *name* (a string) as discrete target column ``target``.

Every call returns a fresh copy: callers may mutate it (e.g. punch missing values for a benchmark).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ganforge.errors import ConfigError
from ganforge.utils.optional import lazy_pandas, require

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_pandas()

Table = tuple["pd.DataFrame", list[str], str]  # quoted: pandas loads on first use
FAIR_CODED = ["rate_marriage", "religious", "occupation", "occupation_husb"]


def _fair() -> Table:
    fair = require("statsmodels.datasets.fair", "data", "table 'fair' (statsmodels)")
    frame = fair.load_pandas().data.copy()
    for col in FAIR_CODED:
        frame[col] = frame[col].astype("int64")
    return frame, list(FAIR_CODED), "affairs"


def _penguins() -> Table:
    palmerpenguins = require("palmerpenguins", "data", "table 'penguins' (palmerpenguins)")
    frame = palmerpenguins.load_penguins().copy()
    return frame, ["species", "island", "sex", "year"], "species"


def _sklearn(loader: Callable[..., object]) -> Callable[[], Table]:
    def load() -> Table:
        bunch = loader(as_frame=True)
        frame = bunch.frame.copy()  # type: ignore[attr-defined]
        names = list(bunch.target_names)  # type: ignore[attr-defined]
        frame["target"] = pd.Series([str(names[i]) for i in frame["target"]], index=frame.index, dtype=str)
        return frame, ["target"], "target"

    return load


def _tables() -> dict[str, Callable[[], Table]]:
    sk = require("sklearn.datasets", "tabular", "the scikit-learn tables (iris, wine, breast_cancer)")
    return {
        "fair": _fair,
        "penguins": _penguins,
        "iris": _sklearn(sk.load_iris),
        "wine": _sklearn(sk.load_wine),
        "breast_cancer": _sklearn(sk.load_breast_cancer),
    }


TABLE_NAMES = ("fair", "penguins", "iris", "wine", "breast_cancer")


def load_table(name: str, *, dropna: bool = False) -> Table:
    """``(frame, discrete_columns, target)`` of embedded table ``name`` (see the module docstring).

    ``dropna=True`` drops rows with any missing cell (only ``penguins`` has some) and renumbers the
    index, so imputation benchmarks can punch holes whose true values are known.
    """
    tables = _tables()
    if name not in tables:
        raise ConfigError(f"unknown table '{name}'; available: {', '.join(TABLE_NAMES)}")
    frame, discrete, target = tables[name]()
    if dropna:
        frame = frame.dropna().reset_index(drop=True)
    return frame, discrete, target


__all__ = ["TABLE_NAMES", "load_table"]
