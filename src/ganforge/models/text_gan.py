"""``text_gan``: a sentence-embedding-conditioned generator and a matching-aware projection D (issue 21).

Both networks are the projection cGAN's (``models/conditional.py``) with the class embedding
replaced by a learned map of the prompt's sentence embedding, so text conditioning reuses the
parts that already condition on labels:

* G: ``ConditionalGenerator`` with conditional BatchNorm (de Vries et al. 2017; Miyato & Koyama
  2018). A ``TextMapping`` MLP turns the frozen sentence embedding t (N, text_dim) into a code
  c (N, hidden), which reaches every BatchNorm as "soft class weights": the gain and bias of every
  layer are affine in c, as DF-GAN's deep fusion makes every block's affine a function of the
  sentence (Tao et al. 2022), here through one shared MLP instead of one per block.
* D: ``ProjectionDiscriminator``, f(x, t) = ψ(φ(x)) + ⟨V m(t), φ(x)⟩ (Miyato & Koyama 2018, Eq. 3,
  with the label embedding V e_y replaced by V m(t)): the inner product scores whether the image
  matches the text, which the ``text_gan`` objective trains with mismatched captions as negatives
  (GAN-INT-CLS, Reed et al. 2016).

Without text (``y`` None, or integer class labels, which carry no text) both networks use a learned
``null`` embedding in text space: the unconditional prompt. The width of the text comes from the
data (``model_inputs["text_dim"]``, recorded in every checkpoint), so one family serves every encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganforge.models.base import IMAGE_RESOLUTIONS, ImageModelOptions, Networks, register_data_model
from ganforge.models.conditional import ConditionalGenerator, ProjectionDiscriminator
from ganforge.options import PositiveInt
from ganforge.registry import register_variant

DEFAULT_TEXT_DIM = 384  # all-MiniLM-L6-v2's width, for builds without data (the registry battery)


class TextMapping(nn.Module):
    """Sentence embedding (N, text_dim) -> code (N, hidden): two linear layers with LeakyReLU, and
    the learned ``null`` embedding standing in for a missing prompt."""

    def __init__(self, text_dim: int, hidden: int) -> None:
        super().__init__()
        self.text_dim = text_dim
        self.null = nn.Parameter(torch.randn(text_dim) / text_dim**0.5)  # about unit norm, like MiniLM's
        self.net = nn.Sequential(nn.Linear(text_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden))

    def forward(self, text: torch.Tensor | None, n: int) -> torch.Tensor:
        if text is None or not torch.is_floating_point(text):
            text = self.null.expand(n, -1)
        return self.net(text.to(self.null.dtype))


class TextGenerator(ConditionalGenerator):
    """``forward(z, text)`` -> (N, C, H, W) in [-1, 1]; ``text`` (N, text_dim) sentence embeddings."""

    def __init__(
        self,
        z_dim: int,
        channels: int,
        resolution: int,
        ngf: int,
        text_dim: int,
        hidden: int,
        num_classes: int,
    ) -> None:
        super().__init__("text_gan", z_dim, channels, resolution, ngf, hidden, hidden, "cbn")
        self.num_classes = num_classes  # the data's, recorded; class labels carry no text (the null prompt)
        self.text_dim = text_dim
        # The code enters every CBN as soft weights over ``hidden`` rows of an embedding matrix.
        self.mapping = TextMapping(text_dim, hidden)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(z, self.mapping(y, len(z)))


class MatchingDiscriminator(ProjectionDiscriminator):
    """``forward(x, text)`` -> logits (N,): realism ψ(φ(x)) plus the image-text match ⟨V m(t), φ(x)⟩."""

    def __init__(
        self, channels: int, resolution: int, ndf: int, text_dim: int, hidden: int, batchnorm: bool = True
    ) -> None:
        super().__init__(channels, resolution, ndf, hidden, batchnorm=batchnorm)
        self.mapping = TextMapping(text_dim, hidden)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(x, self.mapping(y, len(x)))


@dataclass(frozen=True)
class TextGANOptions(ImageModelOptions):
    """``ngf``/``ndf``: the narrowest stage widths (DCGAN's layout); ``hidden``: the width of the text
    code each network maps the sentence embedding to; ``d_batchnorm: false`` drops D's inner
    BatchNorms, for spectral normalisation (``conditional.down_stages``)."""

    z_dim: PositiveInt = 64
    ngf: PositiveInt = 32
    ndf: PositiveInt = 32
    hidden: PositiveInt = 128
    d_batchnorm: bool = True


@register_data_model(
    "text_gan",
    TextGANOptions,
    "text-conditioned CBN generator + matching-aware projection D (GAN-INT-CLS)",
    resolutions=IMAGE_RESOLUTIONS,
    inputs=("image",),
    task="text_to_image",
)
def text_gan(shape: tuple[int, ...], num_classes: int, o: TextGANOptions, model_inputs: dict) -> Networks:
    """G and D for (C, H, W) scenes, conditioned on ``model_inputs["text_dim"]``-wide sentence
    embeddings; ``num_classes`` is accepted and ignored (the text is the condition)."""
    c, res = o.image_shape("text_gan", shape)
    text_dim = int(model_inputs.get("text_dim", DEFAULT_TEXT_DIM))
    return {
        "g": TextGenerator(o.z_dim, c, res, o.ngf, text_dim, o.hidden, num_classes),
        "d": MatchingDiscriminator(c, res, o.ndf, text_dim, o.hidden, o.d_batchnorm),
    }


register_variant(
    "text_gan_tiny",
    base="text_gan",
    description="text_gan with small widths, for tests",
    z_dim=16,
    ngf=8,
    ndf=8,
    hidden=16,
)
