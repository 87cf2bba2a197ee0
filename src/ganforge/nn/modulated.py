"""StyleGAN2's layers in plain PyTorch (Karras et al. 2020, "Analyzing and Improving the Image Quality
of StyleGAN"; equalized learning rate from Karras et al. 2018, "Progressive Growing of GANs").

No custom CUDA kernels: the FIR resampling filter [1, 3, 3, 1] runs as a depthwise (transposed)
convolution, modulation scales activations instead of building per-sample weights, and every op
has a double backward, which R1 (through D) and path-length regularisation (through G) need.

* ``EqualLinear`` / ``EqualConv2d``: weights stored as N(0, 1) and scaled by He's constant at run
  time (ProGAN Sec. 4.1), so Adam's per-parameter step is the same relative change in every layer;
  ``lr_mul`` slows a layer down (StyleGAN's mapping network uses 0.01, StyleGAN Sec. C.1).
* ``ModulatedConv2d``: style modulation (Eq. 1) and weight demodulation (Eq. 2-3), which replace
  AdaIN's instance normalisation and remove its droplet artifacts (Sec. 2.2).
* ``NoiseInjection``: per-pixel noise scaled by one learned strength per layer (Fig. 2c).
* ``MinibatchStd``: the minibatch standard-deviation feature of D's last block (ProGAN Sec. 3).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Activation = Literal["linear", "lrelu"]
NoiseMode = Literal["random", "const", "none"]
LRELU_GAIN = math.sqrt(2.0)  # keeps a leaky ReLU layer's output variance at its input's (He et al. 2015)


def fir_filter(taps: tuple[float, ...] = (1.0, 3.0, 3.0, 1.0)) -> torch.Tensor:
    """The separable 2-D low-pass filter StyleGAN2 resamples with, normalised to sum 1: (4, 4).

    [1, 3, 3, 1] is the binomial (bilinear) filter: with a stride of 2 it is exactly bilinear
    up/downsampling with half-pixel centres, but zero-padded at the borders, as in the paper's code.
    """
    f = torch.tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def _depthwise(f: torch.Tensor, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    return (f * gain).to(x.dtype)[None, None].expand(x.shape[1], 1, *f.shape).contiguous()


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2x upsampling: zero insertion then the FIR filter with gain 4 (so a constant stays constant).

    A depthwise stride-2 transposed convolution with padding 1 does both in one op; output[2m] =
    ¼x[m-1] + ¾x[m] and output[2m+1] = ¾x[m] + ¼x[m+1] along each axis.
    """
    return F.conv_transpose2d(x, _depthwise(f, x, 4.0), stride=2, padding=1, groups=x.shape[1])


def downsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2x downsampling: FIR low-pass (anti-aliasing) then keep every second pixel."""
    return F.conv2d(x, _depthwise(f, x), stride=2, padding=1, groups=x.shape[1])


def blur2d(x: torch.Tensor, f: torch.Tensor, padding: int, gain: float = 1.0) -> torch.Tensor:
    """The FIR filter alone, zero-padded by ``padding`` on every side."""
    return F.conv2d(x, _depthwise(f, x, gain), padding=padding, groups=x.shape[1])


def activate(x: torch.Tensor, activation: Activation, gain: float = 1.0) -> torch.Tensor:
    """``linear`` or leaky ReLU (slope 0.2) times √2, then ``gain`` (StyleGAN2's ``bias_act``)."""
    if activation == "lrelu":
        x = F.leaky_relu(x, 0.2) * LRELU_GAIN
    return x * gain if gain != 1.0 else x


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """x / sqrt(mean(x²)) per sample: puts z (and label embeddings) on the unit sphere times √dim."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class EqualLinear(nn.Module):
    """Fully connected layer with equalized learning rate (ProGAN Sec. 4.1).

    ``bias_init`` is the effective initial bias (StyleGAN2's style affines start at 1, so
    modulation starts as the identity); ``lr_mul`` scales the effective learning rate.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activation: Activation = "linear",
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_mul)) if bias else None
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation: Activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        return activate(F.linear(x, self.weight * self.weight_gain, bias), self.activation)

    def extra_repr(self) -> str:
        out, inp = self.weight.shape
        return f"in_features={inp}, out_features={out}, lr_mul={self.lr_mul}, activation={self.activation}"


class EqualConv2d(nn.Module):
    """Convolution with equalized learning rate, optionally downsampling 2x as StyleGAN2's D does.

    ``down=2`` low-pass filters before striding (anti-aliasing, Sec. 4 / Zhang 2019): a 3x3 conv
    sees the blurred map zero-padded by 2 and strides by 2; a 1x1 conv (the residual skip) sees the
    filtered, subsampled map. ``gain`` multiplies the activated output (√½ on both residual branches
    keeps the sum's variance, Sec. 4.1).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: Activation = "linear",
        down: int = 1,
        gain: float = 1.0,
    ) -> None:
        super().__init__()
        if down not in (1, 2):
            raise ValueError(f"down must be 1 or 2, got {down}")
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.activation: Activation = activation
        self.down, self.gain = down, gain
        self.register_buffer("fir", fir_filter(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        k = w.shape[-1]
        if self.down == 1:
            x = F.conv2d(x, w, self.bias, padding=k // 2)
        elif k == 1:
            x = F.conv2d(downsample2d(x, self.fir), w, self.bias)
        else:
            x = F.conv2d(blur2d(x, self.fir, padding=k // 2 + 1), w, self.bias, stride=2)
        return activate(x, self.activation, self.gain)


class ModulatedConv2d(nn.Module):
    """Style-modulated convolution with optional demodulation (StyleGAN2 Sec. 2.2, Eq. 1-3).

    Eq. 1 scales the weights' input channels by the style s = A(w): w'_ijk = s_i·w_ijk. Eq. 3
    rescales each output channel j by 1/σ_j with σ_j = sqrt(Σ_ik w'_ijk² + ε), the output std if
    the input activations are i.i.d. with unit variance (Eq. 2): demodulation normalises the
    *expected* statistics instead of the actual ones, as AdaIN did.

    Because a convolution is linear in its input channels, we scale the activations by s, convolve
    with the shared weight and scale the output by 1/σ (StyleGAN2's non-fused path): one ordinary
    convolution for the whole batch instead of a grouped convolution with per-sample weights.
    ``up=2`` is a stride-2 transposed convolution followed by the FIR filter (gain 4), as in the
    paper's code. Without demodulation (toRGB) the style carries He's constant instead.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        w_dim: int,
        demodulate: bool = True,
        up: int = 1,
    ) -> None:
        super().__init__()
        if up not in (1, 2):
            raise ValueError(f"up must be 1 or 2, got {up}")
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.demodulate, self.up = demodulate, up
        self.style_gain = 1.0 if demodulate else 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.register_buffer("fir", fir_filter(), persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.style_gain  # (N, in)
        x = x * styles[:, :, None, None].to(x.dtype)
        k = self.weight.shape[-1]
        if self.up == 2:
            x = F.conv_transpose2d(x, self.weight.transpose(0, 1), stride=2)  # (2H + k - 2)²
            x = blur2d(x, self.fir, padding=(3 - k) // 2 + 1, gain=4.0)  # 2H x 2H
        else:
            x = F.conv2d(x, self.weight, padding=k // 2)
        if self.demodulate:
            # σ_j² = Σ_i s_i² Σ_k w_ijk² (Eq. 3), for all samples at once: (N, in) @ (in, out).
            sigma_sq = styles.float().square() @ self.weight.float().square().sum(dim=(2, 3)).T
            x = x * (sigma_sq + 1e-8).rsqrt()[:, :, None, None].to(x.dtype)
        return x


class NoiseInjection(nn.Module):
    """Adds per-pixel Gaussian noise times a learned per-layer strength (StyleGAN2 Fig. 2c: B).

    The strength starts at 0, so noise only matters once G learns to use it for stochastic detail.
    ``const`` mode adds a fixed noise image (a buffer, saved with the weights): G is then a
    deterministic function of its latents, which sampling and latent inversion rely on.
    """

    def __init__(self, resolution: int) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))

    def forward(self, x: torch.Tensor, mode: NoiseMode) -> torch.Tensor:
        if mode == "none":
            return x
        if mode == "random":
            n, _, h, w = x.shape
            noise = torch.randn(n, 1, h, w, device=x.device, dtype=x.dtype)
        else:
            noise = self.noise_const.to(x.dtype)
        return x + noise * self.strength.to(x.dtype)


def stddev_group_size(batch: int, group_size: int) -> int:
    """The largest divisor of ``batch`` that is at most ``group_size``.

    The feature compares samples within groups of equal size; a batch the configured size does
    not divide (a last odd batch, 6 samples with groups of 4) uses the largest group that fits
    (6 -> 3) instead of failing. A prime batch above ``group_size`` gets groups of 1, whose std is
    0: the feature is then constant and D simply ignores it for that batch.
    """
    return max(g for g in range(1, min(group_size, batch) + 1) if batch % g == 0)


class MinibatchStd(nn.Module):
    """Appends the mean standard deviation over groups of samples as extra feature maps (ProGAN Sec. 3).

    Per group of G samples (sample i is in group i mod N/G) and per feature and pixel, the std
    over the group, averaged over features and pixels in ``num_channels`` chunks: a statistic D
    can use to notice that a generated minibatch is too uniform, which discourages mode collapse.
    """

    def __init__(self, group_size: int = 4, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g, f = stddev_group_size(n, self.group_size), self.num_channels
        y = x.float().reshape(g, n // g, f, c // f, h, w)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (n/g, F, c/F, H, W)
        y = y.mean(dim=(2, 3, 4)).reshape(n // g, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y.to(x.dtype)], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_channels={self.num_channels}"
