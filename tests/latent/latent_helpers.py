"""Small generators for the latent-tool tests: built in milliseconds, no training needed."""

from __future__ import annotations

import torch
from torch import nn

from ganforge.models.base import Generator
from ganforge.models.r3gan import ResidualBlock
from ganforge.registry import create_model


def conditional_r3gan(
    seed: int = 0, shape: tuple[int, int, int] = (1, 32, 32), num_classes: int = 10
) -> Generator:
    """An untrained r3gan_tiny G (conditional on 10 classes by default) whose residual branches are
    switched on (non-zero), so it is a genuinely non-linear map of z and labels, not the
    near-linear map of initialisation."""
    with torch.random.fork_rng():  # leave the global RNG as it was
        torch.manual_seed(seed)
        g = create_model("r3gan_tiny", shape=shape, num_classes=num_classes)["g"]
    with torch.no_grad():
        for i, block in enumerate(b for b in g.modules() if isinstance(b, ResidualBlock)):
            gen = torch.Generator().manual_seed(seed * 1000 + i)
            block.project.weight.copy_(0.2 * torch.randn(block.project.weight.shape, generator=gen))
    return g.eval()


class StyleLikeGenerator(Generator):
    """A StyleGAN-shaped toy: ``mapping(z, y) -> ws (N, num_ws, w_dim)``, ``synthesis(ws)`` with one
    affine "style" per layer. What w-space inversion needs, without the StyleGAN2 model."""

    def __init__(self, z_dim: int = 8, w_dim: int = 8, num_ws: int = 3, shape=(1, 8, 8), seed: int = 0):
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.out_shape = z_dim, w_dim, num_ws, tuple(shape)
        with torch.random.fork_rng():  # leave the global RNG as it was
            torch.manual_seed(seed)
            self.map = nn.Sequential(nn.Linear(z_dim, 32), nn.LeakyReLU(0.2), nn.Linear(32, w_dim))
            self.const = nn.Parameter(torch.randn(16))
            self.styles = nn.ModuleList(nn.Linear(w_dim, 16) for _ in range(num_ws))
            self.out = nn.Linear(16, int(torch.tensor(shape).prod()))

    def mapping(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        w = self.map(z) + 1.5  # a mean far from 0, so "starts from w̄" is distinguishable from "from 0"
        return w[:, None, :].expand(-1, self.num_ws, -1)

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        h = self.const.expand(len(ws), -1)
        for i, style in enumerate(self.styles):
            h = torch.nn.functional.leaky_relu(h * style(ws[:, i]), 0.2)
        return torch.tanh(self.out(h)).reshape(len(ws), *self.out_shape)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.synthesis(self.mapping(z, y))
