"""StyleGAN2, lite and pure PyTorch (Karras et al. 2020, "Analyzing and Improving the Image Quality of
StyleGAN"; conditioning as in Karras et al. 2020, "Training GANs with Limited Data", StyleGAN2-ADA).

Generator (Sec. 2, Fig. 2d; Sec. 4, Fig. 7b "skip"):

* ``mapping(z, y) -> w``: z normalised to the unit sphere (times √dim), for conditional models
  concatenated with the normalised label embedding (StyleGAN2-ADA), then an MLP at 1/100 of the
  learning rate. It tracks w̄ (``w_avg``, EMA with β = 0.995 during training forward passes), the
  centre the truncation trick shrinks toward.
* ``synthesis(ws) -> images``: a learned 4x4 constant, then per resolution two modulated /
  demodulated 3x3 convolutions (the first upsampling 2x) with noise inputs, and a toRGB layer
  whose output is upsampled and summed across resolutions ("skip" generator). ``ws`` holds one w
  per layer, ``num_ws`` = 2·log2(resolution) - 2, so styles can be mixed across layers.
* Deviation, on purpose: the paper's output is linear; here it is clamped to [-1, 1], ganforge's
  image contract, with R3GAN's inward-gradient clamp (``bounded_output``: a clamped pixel still
  gets the gradient that moves it back into range). Measured on MNIST (the preset's settings,
  same seed): with the linear output, pixels reached ±4, D scored fakes lower unclamped than
  clamped (logit -2.5 vs -1.3: out-of-range values are an easy tell) and sample diversity fell
  from 1.1 to 0.53 by step 500 and kept falling; clamped, it dipped to 0.46 at step 200, was back
  at 0.68 at step 500 and 0.73 at step 600, when the label accuracy was 0.43 (chance: 0.10).

Discriminator (Sec. 4, Fig. 7c "residual"): fromRGB at the full resolution, residual blocks that
halve the resolution (each branch scaled by √½), then at 4x4 the minibatch-stddev feature, a 3x3
conv, a fully connected layer and the output layer. Conditional models score with a projection
(StyleGAN2-ADA's ``cmap``): logit = <out(x), e(y)> / √dim, where e(y) is a label embedding.

What "lite" leaves out: custom CUDA ops, fp16 with conv clamping, the fused (grouped) modulated
convolution, and D's label MLP (a single embedding: for hard labels any MLP of a one-hot vector is
a lookup table, and a linear embedding keeps soft-label mixtures linear). Widths follow
StyleGAN2-ADA's ``channel_base / resolution`` capped at ``channel_max``; the defaults are its CIFAR
configuration's base (16384) with a 256 cap, so the models stay trainable on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.models.base import Generator, ImageModelOptions, Networks, register_image_model
from ganforge.nn.conditioning import embed_labels, require_labels
from ganforge.nn.modulated import (
    EqualConv2d,
    EqualLinear,
    MinibatchStd,
    ModulatedConv2d,
    NoiseInjection,
    NoiseMode,
    activate,
    fir_filter,
    normalize_2nd_moment,
    upsample2d,
)
from ganforge.nn.output import bounded_output
from ganforge.options import PositiveInt
from ganforge.registry import register_variant

NOISE_MODES = ("auto", "random", "const", "none")


def channel_widths(resolution: int, channel_base: int, channel_max: int) -> dict[int, int]:
    """Feature maps per resolution 4, 8, ..., ``resolution``: min(base / res, max) (StyleGAN2-ADA)."""
    res_log2 = int(math.log2(resolution))
    return {2**i: max(1, min(channel_base // 2**i, channel_max)) for i in range(2, res_log2 + 1)}


# ---------------------------------------------------------------------------------------- generator


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally upsampling), noise, bias, leaky ReLU (Fig. 2d)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int = 1):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, demodulate=True, up=up)
        self.noise = NoiseInjection(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: NoiseMode) -> torch.Tensor:
        x = self.noise(self.conv(x, w), noise_mode)
        return activate(x + self.bias.to(x.dtype)[:, None, None], "lrelu")


class ToRGB(nn.Module):
    """Modulated 1x1 conv to image channels, without demodulation (its output *is* the image)."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, img_channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(img_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias.to(x.dtype)[:, None, None]


class SynthesisBlock(nn.Module):
    """One resolution of the skip generator: (const or up-conv), conv, toRGB; consumes 2 or 3 ws."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int):
        super().__init__()
        self.first = resolution == 4
        if self.first:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution)
        self.torgb = ToRGB(out_channels, img_channels, w_dim)
        self.num_conv = 1 if self.first else 2
        self.register_buffer("fir", fir_filter(), persistent=False)

    def forward(
        self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, noise_mode: NoiseMode
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.first:
            x = self.const[None].expand(ws.shape[0], -1, -1, -1).to(ws.dtype)  # shape[0]: traceable
            x = self.conv1(x, ws[:, 0], noise_mode)
        else:
            assert x is not None and img is not None
            x = self.conv0(x, ws[:, 0], noise_mode)
            x = self.conv1(x, ws[:, 1], noise_mode)
        rgb = self.torgb(x, ws[:, self.num_conv])  # shares its w with the next block's first conv
        img = rgb if img is None else upsample2d(img, self.fir).to(rgb.dtype) + rgb
        return x, img


class StyleGAN2Generator(Generator):
    """z (N, z_dim) [+ labels] -> w (N, w_dim) -> images (N, C, R, R); ``generate`` adds truncation ψ.

    ``noise_mode``: ``auto`` (random noise in train mode, the fixed ``const`` noise in eval mode, so
    sampling is deterministic and never touches the training RNG), ``random``, ``const`` or ``none``.
    """

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        img_channels: int,
        resolution: int,
        widths: dict[int, int],
        mapping_layers: int = 8,
        mapping_lr_mul: float = 0.01,
        num_classes: int = 0,
        conditional: bool = True,
        w_avg_beta: float = 0.995,
    ) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_classes = z_dim, w_dim, num_classes
        self.conditional = conditional and num_classes > 0
        self.out_shape = (img_channels, resolution, resolution)
        self.w_avg_beta = w_avg_beta
        self.noise_mode = "auto"
        # Mapping network (Sec. 2 of StyleGAN; StyleGAN2-ADA's label embedding is concatenated to z).
        self.embed = nn.Embedding(num_classes, w_dim) if self.conditional else None
        layers, width = [], z_dim + (w_dim if self.conditional else 0)
        for _ in range(mapping_layers):
            layers.append(EqualLinear(width, w_dim, lr_mul=mapping_lr_mul, activation="lrelu"))
            width = w_dim
        self.mapping_net = nn.Sequential(*layers)
        self.register_buffer("w_avg", torch.zeros(w_dim))
        if self.conditional:
            self.register_buffer("w_avg_class", torch.zeros(num_classes, w_dim))
        # Synthesis network.
        self.blocks = nn.ModuleList(
            SynthesisBlock(widths.get(res // 2, 0), widths[res], w_dim, res, img_channels)
            for res in sorted(widths)
        )
        self.num_ws = sum(b.num_conv for b in self.blocks) + 1

    # ------------------------------------------------------------------ the two networks
    def mapping(
        self, z: torch.Tensor, y: torch.Tensor | None = None, *, update_w_avg: bool | None = None
    ) -> torch.Tensor:
        """w = f(z, y), (N, w_dim), in fp32 whatever the autocast (the MLP is cheap; w̄ stays exact).

        ``update_w_avg`` (default: in train mode) moves w̄ (and the class centres) toward this
        batch's mean w; the stylegan2 objective passes it explicitly (once per step).
        """
        with torch.autocast(z.device.type, enabled=False):
            x = normalize_2nd_moment(z.float())
            if self.embed is not None:
                y = require_labels(y, self.num_classes, "the StyleGAN2 generator")
                x = torch.cat([x, normalize_2nd_moment(embed_labels(self.embed, y).float())], dim=1)
            w = self.mapping_net(x)
            if update_w_avg if update_w_avg is not None else self.training:
                self._track_w_avg(w.detach(), y)
        return w

    def synthesis(self, ws: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        """Images from per-layer styles ``ws`` (N, num_ws, w_dim); a plain (N, w_dim) w is broadcast."""
        if ws.ndim == 2:
            ws = ws[:, None].expand(-1, self.num_ws, -1)
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must be (N, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        mode = self.noise_mode if noise_mode is None else noise_mode
        if mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {', '.join(NOISE_MODES)}, got {mode!r}")
        if mode == "auto":
            mode = "random" if self.training else "const"
        x = img = None
        start = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, start : start + block.num_conv + 1], mode)
            start += block.num_conv
        assert img is not None
        return bounded_output(img)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.synthesis(self.mapping(z, y))

    # ------------------------------------------------------------------ w̄ and truncation
    @torch.no_grad()
    def _track_w_avg(self, w: torch.Tensor, y: torch.Tensor | None) -> None:
        beta = self.w_avg_beta
        self.w_avg.copy_(w.mean(dim=0).lerp(self.w_avg, beta))
        if self.conditional and y is not None:
            weights = self._class_weights(y)  # (N, K): per-class means of w, soft labels weighted
            counts = weights.sum(dim=0)
            means = (weights.T @ w) / counts.clamp_min(1e-8)[:, None]
            seen = (counts > 0)[:, None]
            self.w_avg_class.copy_(torch.where(seen, means.lerp(self.w_avg_class, beta), self.w_avg_class))

    def _class_weights(self, y: torch.Tensor) -> torch.Tensor:
        if y.is_floating_point():
            return y.float()
        return nn.functional.one_hot(y.long(), self.num_classes).float()

    def w_center(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """The w the truncation trick shrinks toward, (n, w_dim): w̄, or for a conditional model the
        centre of each sample's class (class weights mix centres for soft labels).

        StyleGAN2-ADA shrinks every class toward one global w̄, so ψ = 0 draws the same image for
        every label; per-class centres (as StyleGAN-XL does) keep truncated samples in their class.
        """
        if self.conditional and y is not None:
            return self._class_weights(y) @ self.w_avg_class
        return self.w_avg[None].expand(n, -1)

    def truncate(self, w: torch.Tensor, y: torch.Tensor | None, truncation: float) -> torch.Tensor:
        """w' = w̄ + ψ(w - w̄) (StyleGAN Sec. 3.2 / StyleGAN2 Appendix C, "truncation trick")."""
        return self.w_center(w.shape[0], y).lerp(w, truncation)

    def generate(
        self, z: torch.Tensor, y: torch.Tensor | None = None, truncation: float = 1.0
    ) -> torch.Tensor:
        """Samples with the truncation trick in W: ψ = 1 is plain ``forward``, ψ = 0 the centre image."""
        if not 0.0 <= truncation <= 1.0:
            raise ValueError(f"truncation must be in [0, 1], got {truncation}")
        w = self.mapping(z, y, update_w_avg=False)
        return self.synthesis(self.truncate(w, y, truncation) if truncation != 1.0 else w)


# ------------------------------------------------------------------------------------ discriminator


class DiscriminatorBlock(nn.Module):
    """Residual block (Fig. 7c): two 3x3 convs (the second halving the resolution) plus a 1x1 skip."""

    def __init__(self, in_channels: int, out_channels: int, img_channels: int, first: bool) -> None:
        super().__init__()
        self.fromrgb = EqualConv2d(img_channels, in_channels, 1, activation="lrelu") if first else None
        self.conv0 = EqualConv2d(in_channels, in_channels, 3, activation="lrelu")
        self.conv1 = EqualConv2d(
            in_channels, out_channels, 3, activation="lrelu", down=2, gain=math.sqrt(0.5)
        )
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, down=2, gain=math.sqrt(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fromrgb is not None:
            x = self.fromrgb(x)
        return self.skip(x) + self.conv1(self.conv0(x))


class StyleGAN2Discriminator(nn.Module):
    """images (N, C, R, R) [+ labels] -> logits (N,)."""

    def __init__(
        self,
        img_channels: int,
        resolution: int,
        widths: dict[int, int],
        num_classes: int = 0,
        conditional: bool = True,
        mbstd_group: int = 4,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.conditional = conditional and num_classes > 0
        self.blocks = nn.Sequential(
            *(
                DiscriminatorBlock(widths[res], widths[res // 2], img_channels, first=res == resolution)
                for res in sorted(widths, reverse=True)
                if res > 4
            )
        )
        c = widths[4]
        self.mbstd = MinibatchStd(mbstd_group, num_channels=1)
        self.conv = EqualConv2d(c + 1, c, 3, activation="lrelu")
        self.fc = EqualLinear(c * 16, c, activation="lrelu")
        self.cmap_dim = c if self.conditional else 0
        self.out = EqualLinear(c, self.cmap_dim or 1)
        self.embed = nn.Embedding(num_classes, c) if self.conditional else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x = self.conv(self.mbstd(self.blocks(x)))
        x = self.out(self.fc(x.flatten(1)))
        if self.embed is None:
            return x.reshape(-1)
        y = require_labels(y, self.num_classes, "the StyleGAN2 discriminator")
        cmap = normalize_2nd_moment(embed_labels(self.embed, y)).to(x.dtype)
        return (x * cmap).sum(dim=1) / math.sqrt(self.cmap_dim)


# ------------------------------------------------------------------------------------ builders


@dataclass(frozen=True)
class StyleGAN2Options(ImageModelOptions):
    """Widths per resolution are min(``channel_base`` / res, ``channel_max``) (StyleGAN2-ADA).

    ``conditional``: with labelled data (``num_classes`` > 0) condition both networks on the labels;
    False trains an unconditional model on labelled data. ``mbstd_group``: samples per minibatch-
    stddev group (4, the paper's; batches it does not divide use the largest divisor below it).
    ``mapping_lr_mul``: the mapping network's learning-rate multiplier (1/100 in the paper).
    """

    z_dim: PositiveInt = 512
    w_dim: PositiveInt = 512
    mapping_layers: PositiveInt = 8
    mapping_lr_mul: float = 0.01
    channel_base: PositiveInt = 16384
    channel_max: PositiveInt = 256
    mbstd_group: PositiveInt = 4
    conditional: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.mapping_lr_mul > 0:  # EqualLinear stores weights divided by it
            raise ConfigError(f"'model.mapping_lr_mul' must be positive, got {self.mapping_lr_mul}")


@register_image_model(
    "stylegan2",
    StyleGAN2Options,
    "StyleGAN2 (Karras et al. 2020), lite pure-PyTorch: skip G, residual D, conditional",
)
def stylegan2(c: int, res: int, num_classes: int, o: StyleGAN2Options) -> Networks:
    """StyleGAN2 G and D for (C, H, W) images of ``shape``."""
    widths = channel_widths(res, o.channel_base, o.channel_max)
    g = StyleGAN2Generator(
        o.z_dim, o.w_dim, c, res, widths, o.mapping_layers, o.mapping_lr_mul, num_classes, o.conditional
    )
    d = StyleGAN2Discriminator(c, res, widths, num_classes, o.conditional, o.mbstd_group)
    return {"g": g, "d": d}


register_variant(
    "stylegan2_tiny",
    base="stylegan2",
    description="stylegan2 with small widths and a 2-layer mapping network, for tests",
    z_dim=32,
    w_dim=32,
    mapping_layers=2,
    channel_base=256,
    channel_max=16,
)
