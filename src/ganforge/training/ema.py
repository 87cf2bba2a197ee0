"""Exponential moving average of generator weights (Karras et al. 2018; Yazıcı et al. 2019).

The decay is set as a half-life in images, as in StyleGAN2-ADA (``ema_kimg``), so it means the same
whatever the batch size; ``rampup`` shortens the half-life early in training so the average is
not dominated by the random initial weights.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, half_life_kimg: float = 10.0, rampup: float | None = 0.05) -> None:
        self.half_life_kimg = half_life_kimg
        self.rampup = rampup
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def beta(self, batch_size: int, images_seen: int) -> float:
        half_life = self.half_life_kimg * 1000
        if self.rampup is not None:
            half_life = min(half_life, images_seen * self.rampup)
        return 0.5 ** (batch_size / max(half_life, 1e-8))

    @torch.no_grad()
    def update(self, model: nn.Module, batch_size: int, images_seen: int) -> None:
        beta = self.beta(batch_size, images_seen)
        ema_params = list(self.model.parameters())
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - beta)
        for ema_buf, buf in zip(self.model.buffers(), model.buffers(), strict=True):
            ema_buf.copy_(buf)
