"""GAIN imputation (Yoon, Jordon & van der Schaar 2018, "GAIN: Missing Data Imputation using
Generative Adversarial Nets"), as an Objective that ganforge's one Trainer runs (objective ``gain``).

Notation (per row, per column i): data x, mask m (1 = observed), hint h, noise z.

- The generator sees the observed values with noise in the holes, x̃ = m ⊙ x + (1 − m) ⊙ z
  (z ~ U(0, 0.01) in [0, 1]-scaled space), and the mask, and proposes x̄ = G(x̃, m); the imputed
  row keeps what was observed: x̂ = m ⊙ x + (1 − m) ⊙ x̄.
- The discriminator does not judge whole rows but guesses, per cell, *whether it was observed*:
  m̂ = D(x̂, h). Alone that game has many equilibria; the **hint** (Section 4, Theorem 2) pins the
  right one by revealing part of m: b ~ Bernoulli(hint_rate) per cell, h = b ⊙ m + ½ (1 − b). A
  revealed cell shows its mask bit (0 or 1); a hidden one shows ½. Only hidden cells (b = 0) teach
  anything, so both adversarial losses run over them (Algorithm 1):
    L_D = −mean_{b=0} [ m log m̂ + (1 − m) log(1 − m̂) ]
    L_G = −mean_{b=0} [ (1 − m) log m̂ ] + α · L_M,
  with the reconstruction loss on observed cells, L_M = Σ m · ℓ(x, x̄) / Σ m, where ℓ is the
  squared error for a continuous cell and the cross-entropy −Σ_k x_k log x̄_k over a categorical
  cell's one-hot span (the paper's −x log x̄ for binary cells, extended to k classes).

Mixed columns (the encoding is ``tabular/gain_codec.py``'s ``TableCodec``): G's output is a sigmoid for a
continuous dim and a softmax over a categorical column's one-hot span; the mask, hint and D's output
are per *column*, so a categorical cell is missing or observed as a whole. Both networks are
three-layer MLPs as in the paper (hidden width = the encoded width by default).

Why an Objective: GAIN is a two-phase game (D step, then G step on the same batch) and the Trainer
already owns the optimisers, ``requires_grad`` toggling and logging for that; the data and its mask
travel packed in one tensor through the ordinary ``BatchStream``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.objectives.base import Batch, Phase, Stats, TwoPlayerObjective
from ganforge.options import NonNegativeFloat, Options, Probability
from ganforge.registry import register_objective

NOISE_SCALE = 0.01  # z ~ U(0, 0.01) fills the holes of G's input
EPS = 1e-8


# ---------------------------------------------------------------------------- networks
def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_out)
    )


class GainGenerator(nn.Module):
    """x̄ = G(x̃, m): sigmoid on continuous dims, softmax over each categorical span."""

    def __init__(self, layout: dict[str, list[Any]], hidden: int) -> None:
        super().__init__()
        self.width, self.n_cols = len(layout["col_of"]), max(layout["col_of"]) + 1
        self.spans = [tuple(s) for s in layout["spans"]]
        self.register_buffer("col_of", torch.tensor(layout["col_of"], dtype=torch.long), persistent=False)
        self.register_buffer("is_cont", torch.tensor(layout["continuous"]), persistent=False)
        self.net = _mlp(self.width + self.n_cols, hidden, self.width)

    def expand(self, mask: torch.Tensor) -> torch.Tensor:
        """Per-column mask (N, n_cols) → per-encoded-dim mask (N, width)."""
        return mask[:, self.col_of]

    def forward(self, x_tilde: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = self.net(torch.cat([x_tilde, mask], dim=1))
        parts, last = [], 0
        for a, b in self.spans:
            parts += [torch.sigmoid(logits[:, last:a]), torch.softmax(logits[:, a:b], dim=1)]
            last = b
        parts.append(torch.sigmoid(logits[:, last:]))
        return torch.cat(parts, dim=1)


class GainDiscriminator(nn.Module):
    """Logits of m̂ = D(x̂, h): for every column, is this cell observed?"""

    def __init__(self, width: int, n_cols: int, hidden: int) -> None:
        super().__init__()
        self.net = _mlp(width + n_cols, hidden, n_cols)

    def forward(self, x_hat: torch.Tensor, hint: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x_hat, hint], dim=1))


def gain_networks(layout: dict[str, list[Any]], hidden: int | None = None) -> dict[str, nn.Module]:
    width, n_cols = len(layout["col_of"]), max(layout["col_of"]) + 1
    hidden = hidden or max(width, 8)  # the paper's code: hidden width = data width
    return {"g": GainGenerator(layout, hidden), "d": GainDiscriminator(width, n_cols, hidden)}


# ---------------------------------------------------------------------------- objective
def impute_rows(
    g: GainGenerator, x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x̄, x̂) for encoded rows ``x`` (holes at 0) and their per-column ``mask``: G's proposal from
    x̃ = m ⊙ x + (1 − m) ⊙ z, and the imputed rows x̂ = m ⊙ x + (1 − m) ⊙ x̄ (observed cells kept).
    ``generator``: where z is drawn from (a private RNG when imputing; the global one in training)."""
    m = g.expand(mask)
    z = torch.rand(x.shape, device=x.device, dtype=x.dtype, generator=generator) * NOISE_SCALE
    x_bar = g(m * x + (1 - m) * z, mask)
    return x_bar, m * x + (1 - m) * x_bar


def hint(mask: torch.Tensor, hint_rate: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(h, b): b ~ Bernoulli(hint_rate) per cell; h = b ⊙ m + ½ (1 − b) (the paper's Section 4)."""
    b = torch.bernoulli(torch.full_like(mask, hint_rate))
    return b * mask + 0.5 * (1.0 - b), b


@dataclass(frozen=True)
class GainOptions(Options):
    """``hint_rate``: share of mask cells revealed to D; ``alpha``: weight of the reconstruction
    loss on observed cells."""

    hint_rate: Probability = 0.9
    alpha: NonNegativeFloat = 100.0


@register_objective("gain")
class GainObjective(TwoPlayerObjective):
    """GAIN imputation: per-cell observed-or-not D with hints, G fills holes (Yoon et al. 2018).

    Phases ``D`` then ``G`` on the same batch (the module docstring has the losses). ``nets`` come
    from ``gain_networks(codec.layout())``. A batch's ``x`` packs the encoded data (holes at 0) and
    the per-column mask side by side, ``[data | mask]``, so the ordinary BatchStream serves it. Each
    phase draws its own noise and hint.
    """

    Options = GainOptions
    g: GainGenerator
    d: GainDiscriminator

    def setup(self, options: GainOptions) -> None:
        self.hint_rate, self.alpha = float(options.hint_rate), float(options.alpha)

    def phases(self) -> list[Phase]:
        return [
            Phase("D", trains="d", step=self.d_step),
            Phase("G", trains="g", step=self.g_step, fresh_batch=False),
        ]

    def unpack(self, packed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return packed[:, : self.g.width], packed[:, self.g.width :]

    def impute(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x̄, x̂): G's proposal and the imputed rows (observed cells kept)."""
        return impute_rows(self.g, x, mask)

    def reconstruction(self, x: torch.Tensor, x_bar: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """L_M: squared error (continuous dims) / cross-entropy (one-hot spans) over observed cells."""
        per_dim = torch.where(self.g.is_cont, (x - x_bar) ** 2, -x * torch.log(x_bar + EPS))
        return (per_dim * self.g.expand(mask)).sum() / mask.sum().clamp(min=1.0)

    def _hinted(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x, mask, hint h, hidden = 1 − b): D is scored on the cells whose hint hides the mask."""
        x, mask = self.unpack(batch["x"])
        h, b = hint(mask, self.hint_rate)
        return x, mask, h, 1.0 - b

    def d_step(self, batch: Batch) -> Stats:
        x, mask, h, hidden = self._hinted(batch)
        with torch.no_grad():
            _, x_hat = self.impute(x, mask)
        logits = self.d(x_hat, h)
        bce = F.binary_cross_entropy_with_logits(logits, mask, reduction="none")
        loss = (bce * hidden).sum() / hidden.sum().clamp(min=1.0)
        return {"loss": loss, "loss_d": loss.detach()}

    def g_step(self, batch: Batch) -> Stats:
        x, mask, h, hidden = self._hinted(batch)
        x_bar, x_hat = self.impute(x, mask)
        logits = self.d(x_hat, h)
        adv = -((1.0 - mask) * F.logsigmoid(logits) * hidden).sum() / hidden.sum().clamp(min=1.0)
        rec = self.reconstruction(x, x_bar, mask)
        loss = adv + self.alpha * rec
        stats = {"loss_g": loss.detach(), "loss_g_adv": adv.detach(), "loss_rec": rec.detach()}
        return {"loss": loss, **stats}


__all__ = [
    "GainDiscriminator",
    "GainGenerator",
    "GainObjective",
    "GainOptions",
    "gain_networks",
    "hint",
    "impute_rows",
]
