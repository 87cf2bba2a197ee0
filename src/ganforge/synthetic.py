"""``ganforge augment``: a labelled training set of real and generated examples, balanced per class.

For a class-conditional image generator: ``per_class`` samples of every class (labels asked for, so
they are the generator's claim, not a check), beside the run's real training images unless
``synthetic_only``; written as a folder of PNGs with ``labels.csv`` (``file,label,synthetic``) or an
``.npz`` (``x`` in [-1, 1], ``y``, ``synthetic``). For a table model: ``per_class`` rows of every value
of ``label_column``, drawn with CTGAN's conditional sampling, beside the real rows, with a
``synthetic`` column, as CSV or Parquet.

Whether such a set helps a downstream model is an empirical question with a measured answer for
the bundled cases (``benchmarks/augmentation.py``, docs/augmentation.md): often it does not.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ganforge.errors import ConfigError, DataError
from ganforge.tasks.generation import GeneratorHandle
from ganforge.tasks.sample_folder import write_sample_folder
from ganforge.utils.io import atomic_write, atomic_write_npz, atomic_write_text


def _check_output(out: Path, suffixes: tuple[str, ...], force: bool) -> None:
    """``out`` names a file of one of ``suffixes``; nothing there, or ``force`` to replace it."""
    if out.is_dir() or out.suffix.lower() not in suffixes:
        raise ConfigError(f"write the set to a {' or '.join(suffixes)} file, got '{out}'")
    if out.exists() and not force:
        raise ConfigError(f"'{out}' exists; pass --force to replace it")


def _is_folder(out: Path) -> bool:
    """An existing folder, or a path without a suffix: where images go one file each."""
    return out.is_dir() or (not out.exists() and out.suffix == "")


def _check_folder(out: Path, force: bool) -> None:
    """``out`` is a folder to write into: empty, or replaced whole with ``force`` (its old files
    removed, so no earlier set's images mix with the new one)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"'{out}' is a file, not a folder; write the set elsewhere")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise ConfigError(f"'{out}' is not empty; pass --force to replace what is in it")
        shutil.rmtree(out)


def real_images(handle: GeneratorHandle) -> tuple[torch.Tensor, torch.Tensor]:
    """The run's training images and labels, as the run saw them (its resolved data config)."""
    from ganforge.training.build import load_data

    try:
        dataset, _ = load_data(handle.config)
    except (ConfigError, DataError, OSError) as err:
        raise DataError(
            f"the run's training data cannot be read here ({err}); use --synthetic-only"
        ) from None
    if dataset.y is None:
        raise DataError(f"the run's data '{handle.config.data.name}' has no labels; pass --synthetic-only")
    return dataset.x[:], dataset.y  # the floats, where x is a folder's uint8 cache or decoded on demand


def augment_images(
    handle: GeneratorHandle, out: Path, per_class: int, seed: int, synthetic_only: bool, force: bool
) -> dict[str, Any]:
    """Write real + ``per_class`` generated images of each class to ``out`` (a folder or ``.npz``)."""
    if not handle.num_classes:
        raise ConfigError("augment needs a class-conditional generator: this one ignores labels")
    if len(handle.generator.out_shape) != 3:
        raise ConfigError("augment writes images; this generator makes vectors")
    folder = _is_folder(out)
    if folder:
        _check_folder(out, force)
    else:
        _check_output(out, (".npz",), force)
    real = None if synthetic_only else real_images(handle)  # before sampling: fail fast
    labels = torch.arange(handle.num_classes).repeat_interleave(per_class)
    fake = handle.sample(len(labels), seed=seed, labels=labels)
    xs, ys, flags = [fake], [labels], [torch.ones(len(labels), dtype=torch.bool)]
    if real is not None:
        if tuple(real[0].shape[1:]) != tuple(fake.shape[1:]):
            shapes = f"{tuple(real[0].shape[1:])} against {tuple(fake.shape[1:])}"
            raise DataError(
                f"the run's data and its samples differ in shape ({shapes}); use --synthetic-only"
            )
        xs.insert(0, real[0].float())
        ys.insert(0, real[1].long())
        flags.insert(0, torch.zeros(len(real[1]), dtype=torch.bool))
    x, y, synthetic = torch.cat(xs), torch.cat(ys), torch.cat(flags)
    if not folder:
        arrays = {"x": x.numpy(), "y": y.numpy(), "synthetic": synthetic.numpy()}
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_npz(out, arrays)
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_sample_folder(out, x, y, {"synthetic": synthetic.int()})
    return {"path": str(out), "real": int((~synthetic).sum()), "synthetic": int(synthetic.sum()),
            "classes": handle.num_classes, "per_class": per_class}  # fmt: skip


def class_values(handle: Any, label_column: str | None) -> list[Any]:
    """The values of discrete column ``label_column`` the table model knows (its kept categories)."""
    from ganforge.tabular.transformer import DiscreteColumn

    if not label_column:
        raise ConfigError("a table model needs --label-column: the column whose classes to balance")
    names = [str(c.name) for c in handle.transformer.columns]
    if label_column not in names:
        raise DataError(f"column '{label_column}' is not a column of the model; columns: {', '.join(names)}")
    column = handle.transformer.columns[names.index(label_column)]
    if not isinstance(column, DiscreteColumn):
        raise ConfigError(
            f"'{label_column}' is a continuous column: classes are the values of a discrete one"
        )
    return [c for c in column.categories if c is not None]


def real_rows(handle: Any) -> Any:
    """The table the run was fit on (``data.path``), or a DataError saying to pass --synthetic-only."""
    from ganforge.tabular.dataset import read_source

    try:
        return read_source(str(handle.config.data.params.get("path", "")))
    except (ConfigError, DataError, OSError) as err:
        raise DataError(f"the run's table cannot be read here ({err}); pass --synthetic-only") from None


def augment_rows(
    handle: Any, out: Path, per_class: int, seed: int, synthetic_only: bool, force: bool, label_column: str
) -> dict[str, Any]:
    """Write real rows + ``per_class`` generated rows of each class of ``label_column``."""
    import pandas as pd

    _check_output(out, (".csv", ".parquet"), force)
    values = class_values(handle, label_column)
    real = None if synthetic_only else real_rows(handle)
    column = next(c.name for c in handle.transformer.columns if str(c.name) == label_column)
    parts = [handle.sample(per_class, conditions={column: v}, seed=seed + i) for i, v in enumerate(values)]
    fake = pd.concat(parts, ignore_index=True).assign(synthetic=True)
    table = fake if real is None else pd.concat([real.assign(synthetic=False), fake], ignore_index=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        atomic_write_text(out, table.to_csv(index=False))
    else:
        atomic_write(out, lambda tmp: table.to_parquet(tmp, index=False))
    return {"path": str(out), "real": 0 if real is None else len(real), "synthetic": len(fake),
            "classes": len(values), "per_class": per_class}  # fmt: skip


# the handle class a run opens as -> the writer of its labelled set
WRITERS: dict[str, Callable[..., dict[str, Any]]] = {
    "GeneratorHandle": augment_images,
    "TabularHandle": augment_rows,
}


def augment(
    source: str | Path,
    out: str | Path,
    per_class: int,
    seed: int = 0,
    synthetic_only: bool = False,
    force: bool = False,
    label_column: str | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """A labelled set from run (or one-file model) ``source``; returns counts and the path."""
    from ganforge.tasks import open_run

    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ConfigError(f"--per-class must be a positive number, got {per_class!r}")
    handle = open_run(source, device=device)
    writer = WRITERS.get(type(handle).__name__)
    if writer is None:
        kind = type(handle).__name__
        raise ConfigError(f"augment needs a class-conditional image generator or a table model, not a {kind}")
    extra = {"label_column": label_column} if writer is augment_rows else {}
    return writer(handle, Path(out), per_class, seed, synthetic_only, force, **extra)
