"""Reading and writing tables by file suffix: ``.csv`` (also ``.csv.gz``...) and ``.parquet``/``.pq``.

CSV has no types, so a text column whose every value looks like an ISO-8601 date or date-time
(``2024-01-31``, ``2024-01-31 12:00:00``, ``2024-01-31T12:00:00Z``) is read back as datetimes: a
table written by ``tabular sample`` then reads as the model's schema. Parquet keeps dtypes as they are.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ganforge.errors import DataError
from ganforge.utils.io import atomic_write
from ganforge.utils.optional import lazy_pandas

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_pandas()

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_PARQUET = (".parquet", ".pq")


def _format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _PARQUET:
        return "parquet"
    if ".csv" in suffixes or ".tsv" in suffixes:
        return "csv"
    raise DataError(f"'{path}' is neither a .csv nor a .parquet file (the format is read from the suffix)")


def _parse_dates(frame: pd.DataFrame) -> pd.DataFrame:
    for name in frame.columns:
        s = frame[name]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            continue
        present = s.dropna()
        if len(present) and present.map(lambda v: isinstance(v, str) and bool(_ISO_DATE.match(v))).all():
            try:
                frame[name] = pd.to_datetime(s, format="ISO8601")
            except (ValueError, TypeError):
                continue
    return frame


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV or parquet file as a DataFrame; a missing or unreadable file is one DataError."""
    path = Path(path)
    kind = _format(path)
    if not path.is_file():
        raise DataError(f"table '{path}' does not exist")
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        sep = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
        return _parse_dates(pd.read_csv(path, sep=sep))
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise DataError(f"cannot read table '{path}': {str(err).splitlines()[0]}") from None


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write atomically (a crash leaves the old file or none), the format chosen by the suffix."""
    path = Path(path)
    kind = _format(path)
    if kind == "parquet":
        named = frame.rename(columns=str)  # parquet needs text column names
        return atomic_write(path, lambda tmp: named.to_parquet(tmp, index=False))
    sep = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    # The temporary file's name hides the suffix, so the compression is named explicitly.
    return atomic_write(
        path, lambda tmp: frame.to_csv(tmp, index=False, sep=sep, compression=_compression(path))
    )


def _compression(path: Path) -> str | None:
    return {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}.get(path.suffix.lower())
