"""BigGAN, lite (Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image Synthesis").

The paper's architecture (Fig. 15, Tables 4-5) at 64 to 512 pixels, at 32 the CIFAR layout of the
authors' BigGAN-PyTorch code and at 1024 the 512 layout with one more ``ch``-wide stage per network,
with widths scaled by ``ch`` (the paper's 128x128 model has ``ch`` 96; ``biggan`` defaults to 32,
``biggan_tiny`` to 4):

* **G**: z is split into equal chunks, one per residual up-block plus one for the input
  (*hierarchical latent*, Sec. 3/Fig. 15 (a)). The first chunk is projected linearly to a 4x4 map;
  every up-block's conditional BatchNorms are driven by ``[shared class embedding, its z chunk]``
  (one class embedding shared by all layers instead of one per layer: less memory and compute and,
  in the paper, 37% fewer iterations to a given score, Sec. 3). BN -> ReLU -> conv3x3 -> tanh
  makes the image.
* **D**: residual down-blocks, then ReLU, global *sum* pooling and a linear score plus the projection
  term ⟨embed(y), h⟩ of Miyato & Koyama 2018 (Eq. 3): the class enters as an inner product with
  D's features, the form the optimal D takes when p(y|x) is log-linear in them, rather than as an
  input channel concatenated to the image.
* **Self-attention** (SAGAN, Zhang et al. 2019) at one resolution in both networks (``ganforge.nn.
  attention``), ``attention_resolution``: half the output size by default, 0 for none.
* **Spectral norm on every conv/linear of G and D** (and on D's class embedding), as in SAGAN and
  BigGAN: it is built in, so ``model.spectral_norm`` on top changes nothing (already-wrapped layers
  are skipped). **Orthogonal initialisation** of every weight (Saxe et al. 2014), as BigGAN uses.

Training recipe (``configs/image/mnist_biggan.yaml``): the ``gan`` objective with ``loss: hinge``
and ``ortho_lambda`` (BigGAN's orthogonal regularisation of G, Eq. 3), Adam betas (0, 0.999), a
D learning rate above G's, and the generator EMA (``train.ema_kimg``).

**Truncation trick.** The paper samples z from a normal truncated at a threshold (values outside it
are resampled) to trade variety for fidelity, and uses orthogonal regularisation to make G behave
under it. ``generate(z, y, truncation=ψ)`` is the base class's form, z·ψ: it shrinks latents toward
the mode of the prior just the same, needs no random resampling (so a seed still names one image)
and means what ψ means for every other ganforge family. Like the paper's (Sec. 3.1) it leaves the
class embedding alone.

Left out of "lite": the deep variant (BigGAN-deep), the batch-statistics "standing stats" used at
sampling time, and cross-replica BatchNorm with the rest of the large-batch machinery. Sampling uses
BatchNorm's running statistics, copied into the EMA generator by the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import ConfigError
from ganforge.models.base import Generator, ImageModelOptions, Networks, register_image_model
from ganforge.nn.attention import SelfAttention2d
from ganforge.nn.conditioning import embed_labels, require_labels
from ganforge.nn.resblocks import DownBlock, UpBlock
from ganforge.nn.spectral import apply_spectral_norm
from ganforge.options import PositiveInt
from ganforge.registry import register_variant

BOTTOM = 4  # G's first feature map is BOTTOM x BOTTOM

# Width multipliers of ``ch`` (Brock et al. 2019, Table 4; BigGAN-PyTorch's CIFAR layout at 32).
# G: the 4x4 map, then each up-block's output. D: each down-block's output; D_DOWNSAMPLE says which
# blocks halve the size.
# 256 and 512 are the paper's (Table 5 / BigGAN-PyTorch's ``arch``); 1024, which the paper does not
# train, adds one more narrowest (``ch``-wide) stage to each network, so the widest stays 16·ch.
G_WIDTHS = {
    32: (4, 4, 4, 4),
    64: (16, 16, 8, 4, 2),
    128: (16, 16, 8, 4, 2, 1),
    256: (16, 16, 8, 8, 4, 2, 1),
    512: (16, 16, 8, 8, 4, 2, 1, 1),
    1024: (16, 16, 8, 8, 4, 2, 1, 1, 1),
}
D_WIDTHS = {
    32: (4, 4, 4, 4),
    64: (1, 2, 4, 8, 16),
    128: (1, 2, 4, 8, 16, 16),
    256: (1, 2, 4, 8, 8, 16, 16),
    512: (1, 1, 2, 4, 8, 8, 16, 16),
    1024: (1, 1, 1, 2, 4, 8, 8, 16, 16),
}
# Every D block halves the size but the last (at 32 px the CIFAR layout's last two).
D_DOWNSAMPLE = {32: (True, True, False, False)} | {
    res: (True,) * (len(widths) - 1) + (False,) for res, widths in D_WIDTHS.items() if res > 32
}
MAX_ATTENTION = 64  # the default attention resolution is half the image size, at most this (the paper's)


def g_resolutions(resolution: int) -> list[int]:
    """Output size of each of G's up-blocks: 32 -> [8, 16, 32]."""
    return [BOTTOM * 2 ** (i + 1) for i in range(len(G_WIDTHS[resolution]) - 1)]


def d_resolutions(resolution: int) -> list[int]:
    """Output size of each of D's down-blocks: 64 -> [32, 16, 8, 4, 4]."""
    sizes, size = [], resolution
    for down in D_DOWNSAMPLE[resolution]:
        size = size // 2 if down else size
        sizes.append(size)
    return sizes


def attention_resolutions(resolution: int) -> list[int]:
    """Sizes at which both G and D have a block output, so both can attend there."""
    return sorted(set(g_resolutions(resolution)) & set(d_resolutions(resolution)))


def chunk_sizes(z_dim: int, n: int) -> list[int]:
    """Split ``z_dim`` into ``n`` near-equal chunks (the first ones one larger if it does not divide)."""
    return [z_dim // n + (1 if i < z_dim % n else 0) for i in range(n)]


@torch.no_grad()
def init_orthogonal(module: nn.Module) -> None:
    """BigGAN's initialisation: every conv, linear and embedding weight orthogonal, biases zero.

    This also replaces ConditionalBatchNorm2d's zero-initialised gain/bias projections, as in
    BigGAN: spectral norm divides by σ(W), which is 0 for an all-zero matrix.
    """
    if isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
        nn.init.orthogonal_(module.weight)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)


class BigGANGenerator(Generator):
    """z (N, z_dim) [+ labels] -> images (N, channels, resolution, resolution) in [-1, 1].

    Labels are integer classes (N,) or soft class weights (N, num_classes) (``embed_labels``): the
    embedding of a mixture of classes is the mixture of their embeddings.
    """

    def __init__(
        self,
        z_dim: int,
        channels: int,
        resolution: int,
        ch: int,
        num_classes: int = 0,
        shared_dim: int = 128,
        attention_resolution: int = 0,
        conditional: bool = True,
    ) -> None:
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        self.conditional = conditional and num_classes > 0
        self.out_shape = (channels, resolution, resolution)
        widths = [ch * m for m in G_WIDTHS[resolution]]
        self.z_sizes = chunk_sizes(z_dim, len(widths))  # one chunk for the input, one per block
        self.shared = nn.Embedding(num_classes, shared_dim) if self.conditional else None
        class_dim = shared_dim if self.conditional else 0
        self.linear = nn.Linear(self.z_sizes[0], widths[0] * BOTTOM * BOTTOM)
        self.blocks = nn.ModuleList(
            UpBlock(c_in, c_out, class_dim + z_size)
            for c_in, c_out, z_size in zip(widths[:-1], widths[1:], self.z_sizes[1:], strict=True)
        )
        sizes = g_resolutions(resolution)
        self.attention_after = sizes.index(attention_resolution) if attention_resolution else -1
        self.attention = (
            SelfAttention2d(widths[self.attention_after + 1]) if attention_resolution else nn.Identity()
        )
        self.to_image = nn.Sequential(
            nn.BatchNorm2d(widths[-1]), nn.ReLU(), nn.Conv2d(widths[-1], channels, 3, padding=1), nn.Tanh()
        )
        self.apply(init_orthogonal)
        apply_spectral_norm(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        chunks = z.reshape(z.shape[0], self.z_dim).split(self.z_sizes, dim=1)  # shape[0]: traceable
        conds = list(chunks[1:])
        if self.shared is not None:
            shared = embed_labels(self.shared, require_labels(y, self.num_classes, "biggan generator"))
            conds = [torch.cat([shared.to(c.dtype), c], dim=1) for c in conds]
        h = self.linear(chunks[0]).reshape(z.shape[0], -1, BOTTOM, BOTTOM)
        for i, (block, cond) in enumerate(zip(self.blocks, conds, strict=True)):
            h = block(h, cond)
            if i == self.attention_after:
                h = self.attention(h)
        return self.to_image(h)


class BigGANDiscriminator(nn.Module):
    """images (N, channels, resolution, resolution) [+ labels] -> logits (N,)."""

    def __init__(
        self,
        channels: int,
        resolution: int,
        ch: int,
        num_classes: int = 0,
        attention_resolution: int = 0,
        conditional: bool = True,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.conditional = conditional and num_classes > 0
        widths = [channels] + [ch * m for m in D_WIDTHS[resolution]]
        self.blocks = nn.ModuleList(
            DownBlock(c_in, c_out, downsample=down, preactivation=i > 0)
            for i, (c_in, c_out, down) in enumerate(
                zip(widths[:-1], widths[1:], D_DOWNSAMPLE[resolution], strict=True)
            )
        )
        sizes = d_resolutions(resolution)
        self.attention_after = sizes.index(attention_resolution) if attention_resolution else -1
        self.attention = (
            SelfAttention2d(widths[self.attention_after + 1]) if attention_resolution else nn.Identity()
        )
        self.linear = nn.Linear(widths[-1], 1)
        self.embed = nn.Embedding(num_classes, widths[-1]) if self.conditional else None
        self.apply(init_orthogonal)
        apply_spectral_norm(self)
        if self.embed is not None:  # SN on the projection too (Miyato & Koyama 2018; BigGAN's SNEmbedding)
            torch.nn.utils.parametrizations.spectral_norm(self.embed)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.attention_after:
                h = self.attention(h)
        h = F.relu(h).sum(dim=(2, 3))  # global sum pooling: (N, C)
        logits = self.linear(h).squeeze(1)
        if self.embed is not None:
            e = embed_labels(self.embed, require_labels(y, self.num_classes, "biggan discriminator"))
            logits = logits + (e.to(h.dtype) * h).sum(dim=1).to(logits.dtype)  # projection term
        return logits


@dataclass(frozen=True)
class BigGANOptions(ImageModelOptions):
    """``ch`` scales G's widths (and D's unless ``d_ch`` is set; None: ``ch``).

    Class-conditional whenever the data have labels (``num_classes > 0``), unless
    ``conditional: false``. ``attention_resolution``: where G and D self-attend; None = half the
    image size up to 64 (the paper's choice at 128 to 512 px), 0 = nowhere. ``shared_dim``: size
    of G's shared class embedding. z is split into one chunk per up-block plus one, so ``z_dim``
    must be at least that many (4 at 32x32, 6 at 128x128, 9 at 1024x1024).
    Those two limits depend on the data's resolution, so the builder checks them, not these options.
    """

    z_dim: int = 120
    ch: PositiveInt = 32
    d_ch: PositiveInt | None = None
    shared_dim: PositiveInt = 128
    attention_resolution: int | None = None
    conditional: bool = True


@register_image_model(
    "biggan",
    BigGANOptions,
    "BigGAN lite (Brock et al. 2019): residual, shared embedding + hierarchical z, SA, SN",
)
def biggan(c: int, res: int, num_classes: int, o: BigGANOptions) -> Networks:
    """BigGAN G and D for (C, H, W) images of ``shape``."""
    d_ch = o.ch if o.d_ch is None else o.d_ch
    slots = len(G_WIDTHS[res])
    if o.z_dim < slots:
        raise ConfigError(
            f"'model.z_dim' must be at least {slots} at {res}x{res} (one chunk per generator block),"
            f" got {o.z_dim}"
        )
    default_attention = min(res // 2, MAX_ATTENTION)  # attention over 512² positions would not fit
    attention = default_attention if o.attention_resolution is None else o.attention_resolution
    valid = attention_resolutions(res)
    if attention != 0 and attention not in valid:
        raise ConfigError(
            f"'model.attention_resolution' must be 0 (none) or one of {', '.join(map(str, valid))}"
            f" at {res}x{res}, got {attention}"
        )
    return {
        "g": BigGANGenerator(o.z_dim, c, res, o.ch, num_classes, o.shared_dim, attention, o.conditional),
        "d": BigGANDiscriminator(c, res, d_ch, num_classes, attention, o.conditional),
    }


register_variant(
    "biggan_tiny",
    base="biggan",
    description="biggan with small widths, for tests",
    z_dim=24,
    ch=4,
    shared_dim=16,
)
