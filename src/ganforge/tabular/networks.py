"""CTGAN's networks (Xu et al. 2019, Sec. 4.4) and the vectorised output head they share.

Generator: ``h0 = z ⊕ cond``; two residual layers ``h_{i+1} = h_i ⊕ ReLU(BN(FC(h_i)))`` (256 units
each, the input is carried forward by concatenation); then one linear layer whose outputs are read
per span: ``tanh`` for each α (the value within a mode) and a Gumbel-softmax (τ = 0.2) for each
one-hot (modes and discrete columns), so G's samples are almost one-hot yet differentiable.

Discriminator: PacGAN with ``pac = 10`` (Lin et al. 2018): ten rows (each with its conditional
vector) are concatenated and judged together; two LeakyReLU(0.2) + dropout(0.5) layers of 256.

The head (``SpanLayout``) runs every span at once: the softmax spans are scattered into one padded
``(N, spans, max_width)`` tensor (padding = −inf, which softmax maps to 0), so a table with fifty
columns costs the same handful of kernels as one with two; no Python loop over columns per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

TANH, SOFTMAX = "tanh", "softmax"


@dataclass(frozen=True)
class Span:
    """A block of output units: one ``tanh`` scalar or one ``softmax`` one-hot of ``width`` slots."""

    width: int
    activation: str


class SpanLayout(nn.Module):
    """Index tensors that map G's flat output onto its spans. No weights: rebuilt from the spans."""

    def __init__(self, spans: list[Span], cond_spans: list[int]) -> None:
        super().__init__()
        starts = [0]
        for span in spans:
            starts.append(starts[-1] + span.width)
        self.width = starts[-1]
        soft = [i for i, span in enumerate(spans) if span.activation == SOFTMAX]
        row_of = {span_idx: row for row, span_idx in enumerate(soft)}
        self.n_soft = len(soft)
        self.max_width = max([spans[i].width for i in soft], default=1)
        tanh_idx = [starts[i] for i, span in enumerate(spans) if span.activation == TANH]
        src, dst = [], []
        for row, i in enumerate(soft):
            src += range(starts[i], starts[i] + spans[i].width)
            dst += range(row * self.max_width, row * self.max_width + spans[i].width)
        order = torch.tensor(tanh_idx + src, dtype=torch.long)
        cond_rows = [row_of[i] for i in cond_spans for _ in range(spans[i].width)]
        cond_slots = [k for i in cond_spans for k in range(spans[i].width)]
        self.cond_dim = len(cond_rows)
        buffers = {
            "tanh_idx": torch.tensor(tanh_idx, dtype=torch.long),
            "soft_src": torch.tensor(src, dtype=torch.long),
            "soft_dst": torch.tensor(dst, dtype=torch.long),
            "unperm": torch.argsort(order),  # cat([tanh, soft]) -> output order
            "soft_starts": torch.tensor([starts[i] for i in soft], dtype=torch.long),
            "cond_rows": torch.tensor(cond_rows, dtype=torch.long),  # cond position -> soft span row
            "cond_slots": torch.tensor(cond_slots, dtype=torch.long),  # ... and slot within it
        }
        for name, value in buffers.items():
            self.register_buffer(name, value, persistent=False)

    def padded(self, raw: torch.Tensor) -> torch.Tensor:
        """The softmax spans' logits as (N, spans, max_width), padded with −inf."""
        flat = raw.new_full((len(raw), self.n_soft * self.max_width), float("-inf"))
        flat = flat.index_copy(1, self.soft_dst, raw.index_select(1, self.soft_src))
        return flat.view(len(raw), self.n_soft, self.max_width)

    def _gumbel(self, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        u = torch.empty_like(like).exponential_(generator=generator)
        return -u.log()  # −log(Exp(1)) ~ Gumbel(0, 1)

    def activate(
        self, raw: torch.Tensor, tau: float, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Training output: tanh(α), Gumbel-softmax(τ) of every one-hot span (Jang et al. 2017)."""
        parts = [torch.tanh(raw.index_select(1, self.tanh_idx))]
        if self.n_soft:
            logits = self.padded(raw)
            soft = torch.softmax((logits + self._gumbel(logits, generator)) / tau, dim=-1)
            parts.append(soft.reshape(len(raw), -1).index_select(1, self.soft_dst))
        return torch.cat(parts, dim=1).index_select(1, self.unperm)

    def harden(self, raw: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sampling output: tanh(α) and exact one-hots. argmax(logits + Gumbel) is a draw from
        softmax(logits) (the Gumbel-max trick), the τ → 0 limit of the training output."""
        out = torch.zeros_like(raw)
        out[:, self.tanh_idx] = torch.tanh(raw[:, self.tanh_idx])
        if self.n_soft:
            logits = self.padded(raw)
            codes = (logits + self._gumbel(logits, generator)).argmax(dim=-1)
            out.scatter_(1, self.soft_starts + codes, 1.0)
        return out

    def cond_log_prob(self, raw: torch.Tensor, cond_pos: torch.Tensor) -> torch.Tensor:
        """log p_G(category named by the conditional vector), per row: the generator's
        cross-entropy term is its negative mean (Sec. 4.3, "Generator loss")."""
        logits = self.padded(raw)
        rows = torch.arange(len(raw), device=raw.device)
        log_p = torch.log_softmax(logits[rows, self.cond_rows[cond_pos]], dim=-1)
        return log_p[rows, self.cond_slots[cond_pos]]


class Residual(nn.Module):
    """``h ⊕ ReLU(BN(FC(h)))``: the residual layer of CTGAN's generator."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.fc = nn.Linear(d_in, d_out)
        self.bn = nn.BatchNorm1d(d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class TabularGenerator(nn.Module):
    """G(z ⊕ cond) -> raw logits of every span; ``layout`` turns them into rows."""

    def __init__(self, z_dim: int, layout: SpanLayout, dims: tuple[int, ...] = (256, 256)) -> None:
        super().__init__()
        self.z_dim, self.cond_dim = z_dim, layout.cond_dim
        self.layout = layout
        blocks: list[nn.Module] = []
        width = z_dim + layout.cond_dim
        for d in dims:
            blocks.append(Residual(width, d))
            width += d
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Linear(width, layout.width)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.cat([z, cond], dim=1) if cond is not None and cond.shape[1] else z
        return self.out(self.blocks(h))


class PacDiscriminator(nn.Module):
    """D on packs of ``pac`` rows (rows ⊕ cond, concatenated): one Wasserstein score per pack."""

    def __init__(
        self, row_dim: int, pac: int = 10, dims: tuple[int, ...] = (256, 256), dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.pac = pac
        layers: list[nn.Module] = []
        width = row_dim * pac
        for d in dims:
            layers += [nn.Linear(width, d), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width = d
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).squeeze(1)
