"""The conditional vector and training-by-sampling (Xu et al. 2019, Sec. 4.3).

Per row of a batch: pick a discrete column uniformly, pick one of its categories with probability
∝ log(1 + frequency), write that one-hot into the conditional vector, and draw a *real* row holding
that category. G gets the vector with its noise and must honour it (the cross-entropy term), D sees
it next to every row. Rare categories are thus trained on far more often than their share of the
data, yet real rows keep their true joint distribution given the chosen category: G learns
P(row | column = category) for every category, which is also what conditional sampling uses.

Everything is indexing into precomputed tensors (rows grouped by category, one flat array per
column), so a batch costs a few tensor ops whatever its size; no per-row Python.
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.errors import ConfigError


def _cumulative(probs: list[np.ndarray], width: int) -> torch.Tensor:
    """Padded cumulative distributions (columns, width); positions from the last positive
    probability on are 2.0, so ``searchsorted(right=True)`` of u ∈ [0, 1) never lands on padding
    or on a zero-probability category, even with float rounding."""
    cum = np.full((len(probs), width), 2.0)
    for j, p in enumerate(probs):
        c = np.cumsum(p / p.sum())
        cum[j, : len(p)] = c
        cum[j, int(np.flatnonzero(p > 0)[-1]) :] = 2.0
    return torch.tensor(cum, dtype=torch.float64)


class ConditionSampler:
    """Draws conditional vectors for training (log-frequency) and for sampling (true frequency).

    ``codes``: (rows, discrete columns) category slot of every *training* row; ``counts``: per
    discrete column, the row count of every slot in the whole data (the model's saved state), the
    distribution sampling uses so unconditional samples keep the real marginals.
    """

    def __init__(self, codes: np.ndarray | None, counts: list[list[int]], device: torch.device) -> None:
        self.device = device
        self.widths = [len(c) for c in counts]
        self.n_columns = len(counts)
        self.dim = sum(self.widths)
        width = max(self.widths, default=1)
        self.offsets = torch.tensor(np.cumsum([0, *self.widths])[:-1], dtype=torch.long, device=device)
        true = [np.asarray(c, dtype=np.float64) for c in counts]
        self.true_cum = _cumulative(true, width).to(device) if counts else None
        self.train_cum: torch.Tensor | None = None
        if codes is not None and self.n_columns:
            n = len(codes)
            train_counts = [np.bincount(codes[:, j], minlength=w) for j, w in enumerate(self.widths)]
            self.train_cum = _cumulative([np.log1p(c.astype(np.float64)) for c in train_counts], width).to(
                device
            )
            # Rows sorted by category, per column: rows of (column j, slot k) are
            # order[start[j, k] : start[j, k] + count[j, k]].
            order = np.concatenate([np.argsort(codes[:, j], kind="stable") for j in range(self.n_columns)])
            start = np.zeros((self.n_columns, width), dtype=np.int64)
            count = np.zeros((self.n_columns, width), dtype=np.int64)
            for j, c in enumerate(train_counts):
                count[j, : len(c)] = c
                start[j, : len(c)] = j * n + np.cumsum([0, *c])[:-1]
            self.order = torch.tensor(order, dtype=torch.long, device=device)
            self.start = torch.tensor(start, device=device)
            self.count = torch.tensor(count, device=device)

    def _draw(
        self, n: int, cum: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        col = torch.randint(self.n_columns, (n,), device=self.device, generator=generator)
        u = torch.rand(n, 1, device=self.device, generator=generator, dtype=torch.float64)
        cat = torch.searchsorted(cum[col], u, right=True).squeeze(1)
        return col, cat

    def one_hot(self, pos: torch.Tensor) -> torch.Tensor:
        cond = torch.zeros(len(pos), self.dim, device=self.device)
        cond[torch.arange(len(pos), device=self.device), pos] = 1.0
        return cond

    def training_batch(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(rows, cond, pos): indices of real rows that hold the sampled categories, the
        conditional vectors and their hot positions."""
        assert self.train_cum is not None
        col, cat = self._draw(n, self.train_cum, generator)
        u = torch.rand(n, device=self.device, generator=generator, dtype=torch.float64)
        k = (u * self.count[col, cat]).long()
        rows = self.order[self.start[col, cat] + k]
        pos = self.offsets[col] + cat
        return rows, self.one_hot(pos), pos

    def sampling_condition(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Conditional vectors for unconditional sampling: column uniform, category by its true
        frequency, so P(column = category) · P(row | it) averages back to the data's joint."""
        if not self.n_columns:
            return torch.zeros(n, 0, device=self.device)
        assert self.true_cum is not None
        col, cat = self._draw(n, self.true_cum, generator)
        return self.one_hot(self.offsets[col] + cat)

    def fixed_condition(self, n: int, column: int, slot: int) -> torch.Tensor:
        pos = torch.full((n,), int(self.offsets[column]) + slot, dtype=torch.long, device=self.device)
        return self.one_hot(pos)


class TrainingBySampling:
    """The Trainer's data stream: ``next()`` -> ``{"x": rows, "c": cond, "pos": hot positions}``.

    Batch ``k`` is drawn with a generator seeded by ``(seed, k)``, so the whole state is one integer
    and a resumed run sees the very batches an uninterrupted one would.
    """

    def __init__(self, data: torch.Tensor, sampler: ConditionSampler, batch_size: int, seed: int = 0) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.data, self.sampler, self.batch_size, self.seed = data, sampler, batch_size, seed
        self.draws = 0
        self.generator = torch.Generator(device=data.device)

    def __iter__(self) -> TrainingBySampling:
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        self.generator.manual_seed(self.seed * 1_000_003 + self.draws)
        self.draws += 1
        n = self.batch_size
        if not self.sampler.n_columns:  # no discrete column: plain uniform rows, no condition
            rows = torch.randint(len(self.data), (n,), device=self.data.device, generator=self.generator)
            return {"x": self.data[rows], "c": self.data.new_zeros(n, 0)}
        rows, cond, pos = self.sampler.training_batch(n, self.generator)
        return {"x": self.data[rows], "c": cond, "pos": pos}

    def state_dict(self) -> dict[str, int]:
        return {"draws": self.draws}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.draws = int(state["draws"])
