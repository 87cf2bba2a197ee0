"""What ``TabularGAN`` and ``Imputer`` share as scikit-learn estimators, and their saved directories.

scikit-learn's estimator contract (``sklearn.base.BaseEstimator``) is what lets ``clone``,
``GridSearchCV`` and ``Pipeline`` copy an estimator and vary its settings: the constructor stores
its arguments unchanged under their own names, every check happens in ``fit``, and what ``fit``
learns lives in attributes ending in ``_``. This module holds the pieces both classes need for it:

- array input: a 2-D array (anything with ``__array__``: numpy, a CPU tensor) becomes a frame
  whose columns are named ``x0, x1, ...`` (the names scikit-learn gives unnamed features, so
  ``get_feature_names_out`` agrees), with object columns inferred (an object array of numbers is
  numeric) and missing cells as NaN/None; ``discrete_columns`` may then give positions;
- the errors scikit-learn's tools expect: ``InputError`` is a ``ValueError`` with scikit-learn's
  wording for the shapes its checks probe, ``NotFittedError`` is scikit-learn's (and a ConfigError);
- the saved-model directory: ``generator.safetensors`` (the generator's weights) and one JSON file
  (everything else), each written atomically, read back with one ``CheckpointError`` for damage.
  No pickle: loading a model cannot run code.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from ganforge.errors import CheckpointError, ConfigError, DataError, InputError
from ganforge.rundir import holds_run
from ganforge.utils.io import atomic_write, atomic_write_json

WEIGHTS = "generator.safetensors"


class NotFittedError(ConfigError, SklearnNotFittedError):
    """The estimator is used before ``fit`` (or ``load``). A ConfigError for ganforge's CLI and
    callers, and scikit-learn's ``NotFittedError`` for its tools."""


class FittedRun:
    """What both estimators learn in ``fit``: a run's handle, ``handle_``; fitted is having one.
    ``handle`` is the attribute's name before the scikit-learn contract, kept for callers."""

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "handle_")

    @property
    def handle(self) -> Any:
        """``handle_``, or None before fitting."""
        return getattr(self, "handle_", None)

    # What ``save`` writes beside the weights: the file's name and its format tag.
    SAVED_META: ClassVar[str]
    SAVED_FORMAT: ClassVar[str]

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> Any:
        """A saved estimator (or the folder of the run that fitted it), ready on ``device``: the
        same seed gives the same output bit for bit. A missing, foreign or damaged save is one
        CheckpointError naming it."""
        path = Path(path)
        if not (path / cls.SAVED_META).exists() and holds_run(path):
            return cls.from_run(path, device=device)  # type: ignore[attr-defined]
        meta, tensors, weights = read_saved(path, cls.SAVED_META, cls.SAVED_FORMAT, cls.__name__)
        with damage_is_checkpoint_error(path):
            return cls.restore(meta, {**meta["params"], "device": device}, tensors, weights)

    @classmethod
    def restore(cls, meta: dict[str, Any], params: dict[str, Any], tensors: dict[str, torch.Tensor],
                weights: Path) -> Any:  # fmt: skip
        """The estimator ``save`` wrote ``meta`` and ``tensors`` for, built from its ``params``
        (``device`` included); a key missing from ``meta`` may raise, ``load`` words it."""
        raise NotImplementedError


# ---------------------------------------------------------------------------- array input
def array_names(n: int) -> list[str]:
    """The column names an array's columns get: ``x0, x1, ...``, as scikit-learn names them."""
    return [f"x{i}" for i in range(n)]


def _checked_array(data: Any, owner: str) -> np.ndarray:
    """``data`` as a 2-D array with at least one row and column, refused with the words
    scikit-learn's own validation uses (its tools and checks look for them)."""
    if hasattr(data, "toarray") and hasattr(data, "nnz"):
        raise InputError(
            f"{owner} does not take sparse input: pass a dense array (X.toarray()) or a DataFrame"
        )
    x = np.asarray(data)
    if x.ndim != 2:
        raise InputError(
            f"Expected 2D array, got {x.ndim}D array instead. Reshape your data either using"
            " array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if it"
            " contains a single sample."
        )
    if np.iscomplexobj(x):
        raise InputError("Complex data not supported")
    if x.shape[0] == 0:
        raise InputError(f"Found array with 0 sample(s) (shape={x.shape}) while a minimum of 1 is required.")
    if x.shape[1] == 0:
        raise InputError(f"Found array with 0 feature(s) (shape={x.shape}) while a minimum of 1 is required.")
    return x


def as_frame(
    data: Any, owner: str, names: Sequence[Any] | None = None, lists: bool = False
) -> tuple[Any, np.dtype | None]:
    """``(frame, dtype)``: an array (with ``lists``, also a list of rows) becomes a frame (columns
    ``names``, default ``x0, x1, ...``) and ``dtype`` is its dtype, the kind to give results back
    in; a DataFrame, a path or anything else is returned as it is with ``dtype`` None (the
    caller's own checks refuse what it cannot use)."""
    if lists and isinstance(data, list | tuple):
        rows = np.asarray(data)  # text: numpy would turn a missing cell into the string "nan"
        data = np.asarray(data, dtype=object) if rows.dtype.kind in "US" else rows
    if isinstance(data, pd.DataFrame) or not (hasattr(data, "__array__") or hasattr(data, "nnz")):
        return data, None
    x = _checked_array(data, owner)
    columns = array_names(x.shape[1]) if names is None else list(names)
    if x.shape[1] != len(columns):
        raise InputError(
            f"X has {x.shape[1]} features, but {owner} is expecting {len(columns)} features as input."
        )
    frame = pd.DataFrame(x, columns=columns)
    return (frame.infer_objects() if x.dtype == object else frame), x.dtype


def array_columns(discrete: Any, n_columns: int) -> list[Any] | None:
    """``discrete_columns`` for an array: positions (``[0, 2]``) become names (``x0``, ``x2``);
    names pass through. None stays None (auto-detection)."""
    if discrete is None:
        return None
    given = [discrete] if isinstance(discrete, str) else list(discrete)
    out = []
    for c in given:
        if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            if not 0 <= c < n_columns:
                raise DataError(f"discrete column position {c} is outside the array's {n_columns} columns")
            c = f"x{int(c)}"
        out.append(c)
    return out


def record_features(estimator: Any, columns: Sequence[Any], named: bool) -> None:
    """Set scikit-learn's ``n_features_in_`` and, for a frame (``named``) whose column names are
    all strings, ``feature_names_in_`` (an array's ``x0, x1, ...`` are not names it was given;
    a refit on one forgets the names of an earlier frame)."""
    estimator.n_features_in_ = len(columns)
    if named and all(isinstance(c, str) for c in columns):
        estimator.feature_names_in_ = np.asarray(list(columns), dtype=object)
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_


# ---------------------------------------------------------------------------- saved directories
def save_generator(
    path: str | Path, generator: torch.nn.Module, meta_name: str, meta: dict[str, Any]
) -> Path:
    """Write ``path/generator.safetensors`` (``generator``'s state as ``g.*``) and ``path/meta_name``
    (``meta`` plus the ganforge version), each atomically."""
    from ganforge import __version__

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {f"g.{k}": v.detach().contiguous().cpu() for k, v in generator.state_dict().items()}
    atomic_write(path / WEIGHTS, lambda tmp: save_file(tensors, str(tmp)))
    atomic_write_json(path / meta_name, {**meta, "ganforge_version": __version__})
    return path


def read_saved(
    path: str | Path, meta_name: str, fmt: str, what: str
) -> tuple[dict[str, Any], dict[str, torch.Tensor], Path]:
    """``(meta, tensors, weights path)`` of a directory ``save_generator`` wrote in format ``fmt``;
    a missing, unreadable or foreign one is one CheckpointError."""
    path = Path(path)
    meta_path, weights_path = path / meta_name, path / WEIGHTS
    if not meta_path.is_file() or not weights_path.is_file():
        raise CheckpointError(f"'{path}' is not a saved {what} (it needs {meta_name} and {WEIGHTS})")
    try:
        meta = json.loads(meta_path.read_text())
        tensors = load_file(str(weights_path))
    except (json.JSONDecodeError, SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"saved model '{path}' is corrupt or unreadable ({err})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"saved model '{path}' is corrupt or unreadable ({meta_name} is not an object)")
    if meta.get("format") != fmt:
        raise CheckpointError(f"'{meta_path}' is not a {fmt} model (format {meta.get('format')!r})")
    return meta, tensors, weights_path


@contextlib.contextmanager
def damage_is_checkpoint_error(path: str | Path) -> Iterator[None]:
    """Rebuilding a model from a saved directory: a key missing or of the wrong type in its JSON
    is one CheckpointError naming the directory, not a traceback from deep inside."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError, DataError) as err:
        raise CheckpointError(f"saved model '{path}' is damaged ({type(err).__name__}: {err})") from None


__all__ = [
    "WEIGHTS",
    "NotFittedError",
    "array_columns",
    "array_names",
    "as_frame",
    "damage_is_checkpoint_error",
    "read_saved",
    "record_features",
    "save_generator",
]
