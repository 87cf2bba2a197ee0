"""Residual up- and down-sampling blocks of BigGAN (Brock et al. 2019, Fig. 15 (b)-(c); the
blocks of Miyato et al. 2018's ResNet SNGAN with conditional BatchNorm in G).

Both are pre-activation ResNet blocks (He et al. 2016): the residual branch is
``act -> conv3x3 -> act -> conv3x3`` and the shortcut is an identity or, where the shape changes, a
1x1 convolution. The skip path keeps gradients flowing through deep generators and discriminators,
which is what lets BigGAN scale its widths and depth where DCGAN-style stacks stall.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nn.conditioning import ConditionalBatchNorm2d


class UpBlock(nn.Module):
    """G's block: (N, C_in, H, W) + conditioning (N, cond_dim) -> (N, C_out, 2H, 2W).

    ``CBN(c) -> ReLU -> 2x nearest upsample -> conv3x3 -> CBN(c) -> ReLU -> conv3x3``, plus the
    upsampled input through a 1x1 conv. The conditioning vector ``c`` (BigGAN: the shared class
    embedding concatenated with this block's chunk of z) sets both BatchNorms' gains and biases,
    which is how class and latent information reach every resolution (Brock et al. 2019, Sec. 3).
    """

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(in_channels, cond_dim)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn2 = ConditionalBatchNorm2d(out_channels, cond_dim)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)  # the shape changes: learnable skip

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        # A 1x1 conv commutes with nearest upsampling: convolve first, at a quarter of the pixels.
        return h + F.interpolate(self.shortcut(x), scale_factor=2.0, mode="nearest")


class DownBlock(nn.Module):
    """D's block: (N, C_in, H, W) -> (N, C_out, H/2, W/2), or same size with ``downsample=False``.

    ``ReLU -> conv3x3 -> ReLU -> conv3x3 -> avgpool 2x2`` plus a 1x1-conv shortcut where the shape
    changes. The first block of D gets ``preactivation=False``: a ReLU on raw pixels would discard
    every negative value of the [-1, 1] image, so that block convolves the input directly (BigGAN's
    D, Fig. 15 (c)). No normalisation: spectral norm alone constrains D (Miyato et al. 2018).
    """

    def __init__(
        self, in_channels: int, out_channels: int, downsample: bool = True, preactivation: bool = True
    ) -> None:
        super().__init__()
        self.downsample, self.preactivation = downsample, preactivation
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        learnable = downsample or in_channels != out_channels
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if learnable else None

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self._pool(self.conv2(F.relu(self.conv1(h))))
        # Average pooling commutes with a 1x1 conv (both linear): pool first, 4x fewer MACs.
        skip = self._pool(x)
        return h + (self.shortcut(skip) if self.shortcut is not None else skip)
