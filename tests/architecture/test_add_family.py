"""Adding a family touches no existing file: a model, a variant, an objective and a preset, all
defined here, train through the one Trainer, resume, evaluate and load like any built-in family.

This is what ``docs/extending.md`` walks through; if this test needs an edit elsewhere in ganforge
to pass, the extension points have regressed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import yaml
from torch import nn

import ganforge
from ganforge.errors import ConfigError
from ganforge.losses import get_loss
from ganforge.models.base import Generator, ModelOptions
from ganforge.objectives.base import Batch, Context, Objective, Phase, Stats
from ganforge.options import NonNegativeFloat, Options, PositiveInt
from ganforge.registry import MODELS, register_model, register_objective, register_variant
from ganforge.regularizers.gradient import mean_squared_gradient
from ganforge.testing import final_checkpoint, read_metrics, state_digest


# ---------------------------------------------------------------------------- the model file
class ResidualGenerator(Generator):
    """z -> x through residual MLP blocks (a toy family: nothing like it ships with ganforge)."""

    def __init__(
        self, z_dim: int, out_shape: tuple[int, ...], width: int, blocks: int, num_classes: int
    ) -> None:
        super().__init__()
        self.z_dim, self.out_shape, self.num_classes = z_dim, tuple(out_shape), num_classes  # labels unused
        self.inp = nn.Linear(z_dim, width)
        self.blocks = nn.ModuleList(nn.Sequential(nn.ReLU(), nn.Linear(width, width)) for _ in range(blocks))
        self.out = nn.Linear(width, out_shape[0])

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.inp(z)
        for block in self.blocks:
            h = h + block(h)
        return self.out(torch.relu(h))


class ResidualCritic(nn.Module):
    def __init__(self, dim: int, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, width), nn.LeakyReLU(0.2), nn.Linear(width, width),
                                 nn.LeakyReLU(0.2), nn.Linear(width, 1))  # fmt: skip

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).reshape(-1)


@dataclass(frozen=True)
class ToyResOptions(ModelOptions):
    z_dim: PositiveInt = 8
    width: PositiveInt = 128
    blocks: PositiveInt = 2


@register_model(
    "toyres",
    options=ToyResOptions,
    inputs=("vector",),
    description="residual MLP G and D (a test's toy family)",
)
def toyres(
    shape: tuple[int, ...], num_classes: int = 0, options: ToyResOptions = ToyResOptions()
) -> dict[str, nn.Module]:
    o = options
    return {
        "g": ResidualGenerator(o.z_dim, shape, o.width, o.blocks, num_classes),
        "d": ResidualCritic(shape[0], o.width),
    }


register_variant("toyres_tiny", base="toyres", width=32, blocks=1)


# ---------------------------------------------------------------------------- the objective file
@dataclass(frozen=True)
class CentredOptions(Options):
    loss: str = "ns"
    gamma: NonNegativeFloat = 0.05  # R1 on the reals (Mescheder et al. 2018)
    centre_weight: NonNegativeFloat = 0.01  # pulls D's logits toward 0 (a toy stabiliser)


@register_objective("toy_centred", description="two-player GAN with R1 and D logits kept near 0")
class CentredObjective(Objective):
    Options = CentredOptions

    def __init__(self, nets: dict[str, nn.Module], ctx: Context, options: CentredOptions) -> None:
        self.g, self.d, self.ctx = nets["g"], nets["d"], ctx
        self.loss, self.gamma, self.weight = get_loss(options.loss), options.gamma, options.centre_weight

    def networks(self) -> dict[str, nn.Module]:
        return {"g": self.g, "d": self.d}

    def phases(self) -> list[Phase]:
        return [
            Phase("D", trains="d", step=self.d_step),
            Phase("G", trains="g", step=self.g_step, fresh_batch=False),
        ]

    def fake(self, n: int) -> torch.Tensor:
        return self.g(self.ctx.randn(n, self.g.z_dim))

    def d_step(self, batch: Batch) -> Stats:
        x = batch["x"].detach().requires_grad_(True)
        real = self.d(x)
        with torch.no_grad():
            fake_x = self.fake(len(x))
        fake = self.d(fake_x)
        loss = self.loss.d_loss(real, fake)
        centre = real.square().mean() + fake.square().mean()
        r1 = mean_squared_gradient(real, x)
        total = loss + self.weight * centre + 0.5 * self.gamma * r1
        return {"loss": total, "loss_d": loss.detach(), "centre": centre.detach(), "r1": r1.detach()}

    def g_step(self, batch: Batch) -> Stats:
        loss = self.loss.g_loss(self.d(self.fake(len(batch["x"]))))
        return {"loss": loss, "loss_g": loss.detach()}


# ---------------------------------------------------------------------------- the preset
PRESET = {
    "model": {"name": "toyres", "z_dim": 2, "width": 128},
    "data": {"name": "toy2d", "kind": "ring", "batch_size": 256},
    "objective": {"name": "toy_centred", "gamma": 0.05},
    "optim": {"g": {"lr": 2e-3, "betas": [0.5, 0.9]}, "d": {"lr": 2e-3, "betas": [0.5, 0.9]}},
    "train": {"steps": 1500, "log_every": 100, "ckpt_every": 500, "sample_every": 1500, "progress": False},
}


# ---------------------------------------------------------------------------- the tiny test
def test_the_toy_family_learns_the_ring_evaluates_and_loads(tmp_path) -> None:
    preset = tmp_path / "toyres.yaml"
    preset.write_text(yaml.safe_dump(PRESET))
    run = ganforge.train(preset, out=tmp_path / "run")
    assert {"loss_d", "loss_g", "centre"} <= set(read_metrics(run.path)[-1])
    scores = ganforge.evaluate(run.path, "modes").values
    # 1,500 steps: 8 of 8 modes, hq 0.67-0.88 on train seeds 0-7; the bounds leave room for other CPUs
    assert scores["modes_covered"] >= 7 and scores["hq_fraction"] > 0.5, scores
    assert ganforge.load(run.path).sample(5, seed=1).shape == (5, 2)
    assert MODELS.get("toyres_tiny").meta["variant_of"] == "toyres"
    with pytest.raises(ConfigError, match=r"'model\.width' must be at least 1"):
        ganforge.train(PRESET, out=tmp_path / "bad", overrides=["model.width=0"])


def test_the_toy_family_resumes_bit_for_bit(tmp_path) -> None:
    overrides = [
        "model.name=toyres_tiny",
        "train.deterministic=true",
        "train.ckpt_every=3",
        "train.log_every=1",
    ]
    ganforge.train(PRESET, out=tmp_path / "a", overrides=[*overrides, "train.steps=3"])
    ganforge.train(PRESET, out=tmp_path / "a", overrides=[*overrides, "train.steps=6"], resume=True)
    ganforge.train(PRESET, out=tmp_path / "b", overrides=[*overrides, "train.steps=6"])
    assert state_digest(*final_checkpoint(tmp_path / "a")) == state_digest(*final_checkpoint(tmp_path / "b"))
