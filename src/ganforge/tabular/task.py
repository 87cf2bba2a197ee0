"""Task ``tabular``: a CTGAN run used as a table generator, and its evaluation metric ``fidelity``.

``TabularHandle`` is what ``ganforge.tasks.open_run`` returns for a table run: the generator plus
the fitted transformer and the real category frequencies that every checkpoint records (the
``table`` dataset's ``info``), so a run samples rows with the training frame's columns and dtypes
without its data. ``sample(n, conditions={"column": value})`` feeds the first condition as the
conditional vector (Xu et al. 2019, Sec. 4.3) and rejects rows that miss any condition.

``fidelity`` (``fidelity.py``: 1 − mean KS/TVD of the columns, with pair trends) scores a
fixed-seed sample against the rows the run held out; it is the run's default metric, so
``train.eval_every`` + ``train.patience`` are CTGAN's early stopping, and the best evaluation's
checkpoint is the model to use.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganforge.errors import CheckpointError, ConfigError, DataError
from ganforge.evaluation.core import EvalContext, dataset_meta, register_metric
from ganforge.metrics.tabular import column_shapes, times_as_numbers
from ganforge.registry import register_task
from ganforge.report.tabular import marginals_figure, worst_columns
from ganforge.tabular.dataset import TABLE_FORMAT, reference_rows
from ganforge.tabular.fidelity import validation_fidelity
from ganforge.tabular.networks import TabularGenerator
from ganforge.tabular.sampler import ConditionSampler
from ganforge.tabular.transformer import ContinuousColumn, DiscreteColumn, TableTransformer
from ganforge.tasks.base import Handle, Task
from ganforge.tasks.views import GeneratedView
from ganforge.utils.optional import lazy_pandas

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_pandas()

SAMPLE_CHUNK = 50_000  # rows generated per forward pass when sampling
MAX_REJECTION_ROUNDS = 50  # conditional sampling gives up after this many batches without enough matches
REPORT_SEED, REPORT_COLUMNS = 0, 3  # the report's sample seed and how many marginals it draws
EVAL_SEED_OFFSET = 7919  # the evaluation's sample seed: epochs differ by the weights only
Condition = tuple[int, int, int, tuple | None]  # column index, discrete column number, slot, (tail value,)


class TabularHandle(Handle):
    """A table run's generator with its transformer: ``sample(n, conditions, seed)`` -> DataFrame."""

    def load_info(self, checkpoint: Any) -> None:
        table = self.info.get("table") or {}
        if table.get("format") != TABLE_FORMAT:
            raise CheckpointError(f"checkpoint '{checkpoint}' records no table encoding ({TABLE_FORMAT})")
        self.transformer = TableTransformer.from_state(table["transformer"])
        self.sampler = ConditionSampler(None, [c.counts for c in self.transformer.discrete], self.device)

    @torch.no_grad()
    def generate(self, n: int, seed: int, cond_fixed: tuple[int, int] | None = None) -> np.ndarray:
        """``n`` rows as a hard matrix (tanh α + exact one-hots) from a private RNG, in chunks, so a
        million rows need no more device memory than ``SAMPLE_CHUNK``."""
        g, sampler = self.generator, self.sampler
        gen = torch.Generator(device=self.device).manual_seed(seed)
        chunks = [np.zeros((0, g.layout.width))]
        for start in range(0, n, SAMPLE_CHUNK):
            m = min(SAMPLE_CHUNK, n - start)
            z = torch.randn(m, g.z_dim, device=self.device, generator=gen)
            cond = (
                sampler.fixed_condition(m, *cond_fixed) if cond_fixed else sampler.sampling_condition(m, gen)
            )
            chunks.append(g.layout.harden(g(z, cond), gen).cpu().double().numpy())
        return np.concatenate(chunks)

    def sample(
        self, n: int, conditions: dict[Any, Any] | None = None, seed: int | None = None
    ) -> pd.DataFrame:
        """``n`` synthetic rows with the training frame's column names, order and dtypes.

        ``conditions={"column": value, ...}`` (discrete columns only) returns rows that all match.
        ``seed=None`` draws a fresh seed.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ConfigError(f"n must be a non-negative number of rows, got {n!r}")
        seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)
        targets = self.resolve_conditions(conditions or {})
        if not targets:
            columns = self.transformer.decode_columns(self.generate(int(n), seed))
            return self.transformer.to_frame(columns, np.random.default_rng(seed))
        columns = self._matching_columns(int(n), seed, targets, conditions or {})
        frame = self.transformer.to_frame(columns, np.random.default_rng(seed))
        for index, _, _, tail_value in targets:
            if tail_value is not None:  # a rare value of the ``other`` slot: it is the value asked for
                name = self.transformer.columns[index].name
                frame[name] = pd.Series([tail_value[0]] * len(frame), dtype=object).astype(frame[name].dtype)
        return frame

    def _matching_columns(
        self, n: int, seed: int, targets: list[Condition], conditions: dict[Any, Any]
    ) -> list[np.ndarray]:
        """Decoded columns of ``n`` rows that meet every condition (rejection sampling)."""
        kept: list[list[np.ndarray]] = []
        have, batch = 0, max(n, 500)
        fixed = (targets[0][1], targets[0][2])
        for round_ in range(MAX_REJECTION_ROUNDS):
            if have >= n:
                break
            cols = self.transformer.decode_columns(self.generate(batch, seed + round_, fixed))
            ok = np.ones(batch, dtype=bool)
            for index, _, slot, _ in targets:
                ok &= cols[index] == slot
            kept.append([c[ok] for c in cols])
            have += int(ok.sum())
        if have < n:
            wanted = ", ".join(f"{name}={value!r}" for name, value in conditions.items())
            raise DataError(
                f"only {have} of {n} rows matched {wanted} after {MAX_REJECTION_ROUNDS * batch} draws; the"
                " model rarely generates that combination (train longer or relax the conditions)"
            )
        return [np.concatenate(parts)[:n] for parts in zip(*kept, strict=True)]

    def resolve_conditions(self, conditions: dict[Any, Any]) -> list[Condition]:
        """(column index, discrete column number, slot, (tail value,) or None) per condition."""
        if not isinstance(conditions, dict):
            raise ConfigError(
                f"conditions must be a dict of column -> value, got {type(conditions).__name__}"
            )
        names = self.transformer.names
        discrete = [i for i, c in enumerate(self.transformer.columns) if isinstance(c, DiscreteColumn)]
        out = []
        for name, value in conditions.items():
            if name not in names:
                raise DataError(
                    f"condition on '{name}', which is not a column of the model; columns: {names}"
                )
            index = names.index(name)
            col = self.transformer.columns[index]
            if isinstance(col, ContinuousColumn):
                raise ConfigError(f"conditions apply to discrete columns; '{name}' is continuous")
            slot, tail = find_slot(col, value)
            out.append((index, discrete.index(index), slot, tail))
        return out

    def condition_from_text(self, column: Any, text: str) -> Any:
        """A command-line ``column=value``'s value as the column's own type: the category whose text
        is ``text`` (``3`` also finds ``3.0``; an empty text or ``nan`` the missing slot), else ``text``."""
        col = next((c for c in self.transformer.columns if str(c.name) == str(column)), None)
        if not isinstance(col, DiscreteColumn):
            return text
        if text.strip().lower() in ("", "nan", "none", "null") and None in col.categories:
            return None
        values = [c for c in [*col.categories, *col.tail_values] if c is not None]
        for cat in values:
            if str(cat) == text:
                return cat
        try:
            number = float(text)
        except ValueError:
            return text
        return next((c for c in values if _is_number(c) and c == number), text)


def find_slot(col: DiscreteColumn, value: Any) -> tuple[int, tuple | None]:
    """The slot of ``value`` in a discrete column, and ``(value,)`` when it lives in ``other``.
    Numbers compare by value (3 matches 3.0); a missing value (None/NaN) matches the missing slot."""
    missing = value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
    if missing:
        if None in col.categories:
            return col.categories.index(None), None
        raise DataError(f"column '{col.name}' had no missing values, so none can be asked for")
    probe = str(value) if col.as_text else value
    for i, cat in enumerate(col.categories):
        if cat is not None and _same(cat, probe):
            return i, None
    for tail in col.tail_values:
        if _same(tail, probe):
            return len(col.categories), (tail,)
    known = [c for c in col.categories if c is not None][:10]
    more = len(col.categories) + len(col.tail_values) - len(known)
    suffix = f" (and {more} more)" if more > 0 else ""
    raise DataError(f"value {value!r} never occurs in column '{col.name}'; known values: {known}{suffix}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


@register_task("tabular")
class TabularTask(Task):
    """Table synthesis: the handle samples rows; runs are scored by ``fidelity`` on held-out rows."""

    handle_class = TabularHandle
    report_title = "Synthetic rows"
    loader = "ganforge.tabular.TabularGAN.from_run (or `ganforge tabular sample`)"
    network = TabularGenerator

    def reference(self, ctx: EvalContext) -> tuple[pd.DataFrame, list[np.ndarray]]:
        """The rows an evaluation compares with, raw and encoded (computed once per run)."""
        if "table_reference" not in ctx.cache:
            rows = reference_rows(ctx.config, ctx.cache.get("dataset"))
            ctx.cache["table_reference"] = rows, ctx.generator().transformer.encode_columns(rows)
        return ctx.cache["table_reference"]

    def eval_count(self, ctx: EvalContext) -> int:
        """At least as many rows as the reference holds: a smaller sample would score worse by chance."""
        return max(int(ctx.n), len(self.reference(ctx)[0]))

    def eval_samples(self, ctx: EvalContext) -> torch.Tensor:
        rows = ctx.generator().generate(self.eval_count(ctx), ctx.seed + EVAL_SEED_OFFSET)
        return torch.from_numpy(rows)

    def report_view(self, handle: TabularHandle) -> GeneratedView:
        """Real vs synthetic marginals of the three columns whose shapes match worst, on the rows
        the run held out (as many synthetic rows, a fixed seed)."""
        real = times_as_numbers(reference_rows(handle.config))
        synthetic = times_as_numbers(handle.sample(len(real), seed=REPORT_SEED))
        discrete = {c.name for c in handle.transformer.discrete}
        shapes = column_shapes(real, synthetic, [c for c in real.columns if c not in discrete])
        cols = worst_columns(shapes, real, REPORT_COLUMNS)
        caption = (
            f"Real (held-out rows) vs synthetic marginals of the {len(cols)} columns whose shapes match"
            f" worst; column shapes score {shapes['score']:.3f} over {len(real)} rows each,"
            f" seed {REPORT_SEED}."
        )
        return GeneratedView("marginals", marginals_figure(real, synthetic, cols, discrete), caption)


def _check_table(cfg: Any) -> None:
    if "fidelity" not in dataset_meta(cfg).get("metrics", ()):
        raise ConfigError(f"metric 'fidelity' scores table runs (data.name=table), not '{cfg.data.name}'")


@register_metric(
    "fidelity",
    keys=("fidelity",),
    extractor="raw",
    check=_check_table,
    higher_is_better=True,
    default_n=2000,
    description="table fidelity vs held-out rows: 1 - mean column KS/TVD and pair-trend error",
)
def fidelity(ctx: EvalContext) -> dict[str, float]:
    handle = ctx.generator()
    _, real = ctx.task.reference(ctx)
    fake = handle.transformer.decode_columns(ctx.samples().numpy())
    flags = [isinstance(c, DiscreteColumn) for c in handle.transformer.columns]
    return {"fidelity": validation_fidelity(real, fake, flags)["score"]}
