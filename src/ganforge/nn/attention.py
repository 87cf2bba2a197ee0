"""Self-attention for convolutional GANs (Zhang et al. 2019, "Self-Attention Generative Adversarial
Networks", Sec. 3).

A 3x3 convolution only sees its neighbours, so a GAN built from them models long-range structure
(a dog's two ears, the two halves of a symmetric digit) only through many stacked layers. SAGAN
adds one layer in which every position attends to every other one:

    β_{j,i} = softmax_i( f(x_i)ᵀ g(x_j) ),   o_j = v( Σ_i β_{j,i} h(x_i) ),   y = x + γ·o      (Eq. 1-3)

with 1x1 convolutions f, g (C -> C/8 "keys"/"queries"), h (C -> C/2 "values") and v (C/2 -> C).
γ starts at 0, so the network first relies on local cues and learns how much global evidence to
mix in: at initialisation the layer is exactly the identity.

As in BigGAN (Brock et al. 2019) keys and values are max-pooled 2x2 before the product, which cuts
the (HW x HW) attention map to (HW x HW/4) at no measurable cost in quality.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention2d(nn.Module):
    """SAGAN self-attention block: (N, C, H, W) -> (N, C, H, W), identity while ``gamma`` is 0.

    ``H`` and ``W`` must be even (keys/values are pooled 2x2). Widths of the 1x1 projections are
    C/8 and C/2 as in the paper, floored at 1 so tiny test networks still have a layer.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        key_dim, value_dim = max(1, channels // 8), max(1, channels // 2)
        self.query = nn.Conv2d(channels, key_dim, 1, bias=False)  # f in Eq. 1
        self.key = nn.Conv2d(channels, key_dim, 1, bias=False)  # g
        self.value = nn.Conv2d(channels, value_dim, 1, bias=False)  # h
        self.out = nn.Conv2d(value_dim, channels, 1, bias=False)  # v
        self.gamma = nn.Parameter(torch.zeros(()))  # γ = 0: start as the identity (Sec. 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        query = self.query(x).flatten(2)  # (N, C/8, HW)
        key = F.max_pool2d(self.key(x), 2).flatten(2)  # (N, C/8, HW/4)
        value = F.max_pool2d(self.value(x), 2).flatten(2)  # (N, C/2, HW/4)
        # β[n, j, i]: how much output position j draws from (pooled) input position i.
        beta = torch.softmax(torch.bmm(query.transpose(1, 2), key), dim=-1)  # (N, HW, HW/4)
        attended = torch.bmm(value, beta.transpose(1, 2)).reshape(n, -1, h, w)  # (N, C/2, H, W)
        return x + self.gamma.to(x.dtype) * self.out(attended)
