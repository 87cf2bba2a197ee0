"""Errors a user can cause. The CLI prints their message (one sentence) and exits non-zero, no traceback."""

from __future__ import annotations


class GanforgeError(Exception):
    """Base class for every error a user can fix by changing their input."""


class ConfigError(GanforgeError):
    """A config file, key, value or override is wrong."""


class DataError(GanforgeError):
    """A dataset is missing, empty, corrupt or has the wrong shape."""


class InputError(DataError, ValueError):
    """An estimator's input has the wrong shape, type or number of columns. Also a ``ValueError``:
    what scikit-learn's tools (``Pipeline``, ``GridSearchCV``, ``check_estimator``) expect."""


class CheckpointError(GanforgeError):
    """A checkpoint is missing, corrupt or does not fit the model."""


class RunDirError(GanforgeError):
    """The run directory is missing, or holds a different run."""


class RegistryError(ConfigError):
    """A name asked of a registry is not registered."""


class EvalError(GanforgeError):
    """A metric cannot be computed for this run (e.g. mode coverage of an image run)."""


class TrainingDivergedError(GanforgeError):
    """Training kept producing non-finite or exploding values after every rollback the guard allows."""


class MissingExtraError(GanforgeError):
    """A feature needs an optional dependency (a ``ganforge[extra]``) that is not installed."""
