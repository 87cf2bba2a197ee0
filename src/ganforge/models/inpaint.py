"""Image inpainting networks: a gated-convolution generator and a global + local discriminator.

Generator (``GatedInpaintGenerator``): the coarse network of Yu et al. 2019 ("Free-Form Image
Inpainting with Gated Convolution", Sec. 3.1 and Fig. 3), an encoder-decoder in which every layer
is a *gated* convolution

    out = φ(W_f ∗ x) · σ(W_g ∗ x)          (Eq. 1; φ = ELU, σ = sigmoid)

A vanilla convolution treats a missing pixel as a valid one; partial convolutions (Liu et al. 2018)
fix that with a hand-made binary mask update. Gating learns a soft, per-channel, per-position
validity instead, which also lets the network use the mask channel and user guidance freely. The
middle of the encoder is a stack of dilated gated convolutions (rates 2, 4, ...), Iizuka et al.
2017's way ("Globally and Locally Consistent Image Completion", Sec. 3.1, Table 1) to see context
far beyond the hole without losing resolution; the decoder upsamples by nearest-neighbour resize
then convolution (Yu et al.'s choice; no checkerboard artefacts). DeepFill's second, refinement
stage with contextual attention is left out: at 32 px a hole of 12 pixels sits in an 8×8 feature
map, where the dilated stack already sees the whole image.

The input is the masked image and the mask, C + 1 channels. Masked pixels are zeroed inside the
generator (``x · (1 − m)``), so whatever a caller leaves in the hole never matters, and the output
is composited, ``out = x · (1 − m) + clamp(G(x, m)) · m``: known pixels come back exactly. The last
layer is linear and clamped, as Yu et al.'s, not a tanh (see ``predict``). ``skips`` (off by
default; on in the digits preset, where it learnt faster) adds U-Net skip connections (Ronneberger
et al. 2015): the decoder at each resolution also gets the encoder's features there.
``class_head`` (on labelled data) adds a classifier of the bottleneck, trained by the objective's
``lambda_class``; with ``condition`` its posterior is embedded and added back to the bottleneck, so
the decoder draws the class G has settled on.

Discriminator (``GlobalLocalDiscriminator``, Iizuka et al. 2017, Sec. 3.2): a *global* network on
the whole image and a *local* one on a square crop centred on the hole (the centre of the mask's
bounding box, the crop clamped inside the image; an empty mask crops the image centre). Each is a
stack of 5×5 stride-2 convolutions down to 4×4 and a fully connected layer; as in the paper their
outputs are concatenated and one fully connected layer maps them to a single logit, so D judges
both global coherence and local detail. Both branches see [image, mask] (as SN-PatchGAN, Yu et al.
Sec. 3.3), and every layer is spectrally normalised (Miyato et al. 2018) by default, which with the
hinge loss is Yu et al.'s recipe for a stable discriminator without batch norm.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import ConfigError
from ganforge.models.base import ModelOptions, Networks, register_translation_model
from ganforge.models.translation import TranslationGenerator, check_translation_shape
from ganforge.nn.spectral import apply_spectral_norm
from ganforge.options import PositiveInt
from ganforge.registry import register_variant

FEATURE_GAIN = 2.0
CLASS_HEADS = ("none", "aux", "condition")


def composite(known: torch.Tensor, predicted: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``known`` where the mask is 0, ``predicted`` where it is 1 (soft masks blend linearly).

    Computed in the wider of the two dtypes, so under bf16 autocast the known pixels still come
    back bit for bit (a bf16 round trip would change them)."""
    dtype = torch.promote_types(known.dtype, predicted.dtype)
    mask = mask.to(dtype)
    return known.to(dtype) * (1 - mask) + predicted.to(dtype) * mask


class GatedConv2d(nn.Module):
    """φ(W_f ∗ x) · σ(W_g ∗ x) (Yu et al. 2019, Eq. 1): one convolution with 2·out channels, split
    into features and gates; ``same`` padding for any ``dilation``; φ = ELU (as Yu et al.)."""

    def __init__(self, c_in: int, c_out: int, k: int = 3, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, 2 * c_out, k, stride, dilation * (k - 1) // 2, dilation)
        # He-style init with gain 2 on the feature half: the gates start near σ(0) = ½ and halve the
        # signal at every layer, so PyTorch's default init lets it vanish through the ~15-layer
        # stack (std 0.4 -> 0.02 at the output) and G barely learns; gain 1 on the gate half.
        fan_in = c_in * k * k
        with torch.no_grad():
            self.conv.weight[:c_out].normal_(0.0, FEATURE_GAIN / fan_in**0.5)
            self.conv.weight[c_out:].normal_(0.0, 1.0 / fan_in**0.5)
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gates = self.conv(x).chunk(2, dim=1)
        return F.elu(features) * torch.sigmoid(gates)


class GatedUp(nn.Module):
    """×2 nearest-neighbour resize, then a gated 3×3 convolution (resize-convolution)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = GatedConv2d(c_in, c_out, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def default_dilations(bottleneck: int) -> tuple[int, ...]:
    """Rates 2, 4, 8, ... below the bottleneck side: Iizuka et al.'s 2-4-8-16 at 64×64 features,
    2-4 at 8×8 (a rate ≥ the side would reach only padding)."""
    rates, rate = [], 2
    while rate < bottleneck:
        rates.append(rate)
        rate *= 2
    return tuple(rates) or (1,)


class GatedInpaintGenerator(nn.Module):
    """``forward(x, mask)``: (N, C, H, W) images in [-1, 1] (masked pixels ignored) and (N, 1, H, W)
    masks (1 = missing) -> the composited completion in [-1, 1].

    Widths ngf, 2·ngf, 4·ngf at 1, 1/2, 1/4 of the side (``depth`` = 2 halvings, Yu et al.'s);
    ``skips``: concatenate the encoder's features into the decoder at each resolution.
    ``predict`` returns the raw network output before compositing, for losses on every pixel.
    """

    def __init__(
        self,
        channels: int,
        ngf: int = 32,
        depth: int = 2,
        dilations: tuple[int, ...] = (2, 4),
        skips: bool = False,
        num_classes: int = 0,
        class_head: str = "none",
    ) -> None:
        super().__init__()
        if class_head not in CLASS_HEADS:
            raise ConfigError(
                f"'model.class_head' must be one of {', '.join(CLASS_HEADS)}, got {class_head!r}"
            )
        if class_head != "none" and num_classes < 2:
            raise ConfigError(
                f"'model.class_head: {class_head}' needs a labelled dataset (at least 2 classes),"
                f" got {num_classes} classes"
            )
        widths = [ngf * 2**i for i in range(depth + 1)]
        self.skips = skips
        self.stem = GatedConv2d(channels + 1, widths[0], 5)
        self.downs = nn.ModuleList(
            nn.Sequential(
                GatedConv2d(widths[i], widths[i + 1], 3, stride=2), GatedConv2d(widths[i + 1], widths[i + 1])
            )
            for i in range(depth)
        )
        deep = widths[-1]
        middle = [GatedConv2d(deep, deep)]
        middle += [GatedConv2d(deep, deep, 3, dilation=r) for r in dilations]
        middle += [GatedConv2d(deep, deep), GatedConv2d(deep, deep)]
        self.middle = nn.Sequential(*middle)
        # The class head reads the bottleneck (global average pool -> linear); ``condition`` also
        # adds an embedding of its posterior to the bottleneck before decoding.
        self.classifier = nn.Linear(deep, num_classes) if class_head != "none" else None
        self.class_embed = nn.Linear(num_classes, deep) if class_head == "condition" else None
        self.ups = nn.ModuleList(GatedUp(widths[i], widths[i - 1]) for i in range(depth, 0, -1))
        fan = 2 if skips else 1
        self.fuse = nn.ModuleList(
            GatedConv2d(fan * widths[i - 1], widths[i - 1]) for i in range(depth, 0, -1)
        )
        self.last = GatedConv2d(widths[0], max(1, widths[0] // 2))
        self.out = nn.Conv2d(max(1, widths[0] // 2), channels, 3, 1, 1)  # no gate, no tanh: Yu et al.

    def predict(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The raw completion (``predict_with_logits`` without the class logits)."""
        return self.predict_with_logits(x, mask)[0]

    def predict_with_logits(
        self, x: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The raw, unbounded completion of every pixel (known ones included).

        Linear, as Yu et al.'s last layer, rather than tanh: most hole pixels of a digit are
        background at exactly -1, which an L1 loss pulls a tanh into saturation for, and a
        saturated tanh passes no gradient to the stroke pixels either. Clamp it (``complete``)
        to get an image. Second: the class head's logits (N, classes), or None without one."""
        mask = mask.to(x.dtype)
        h = self.stem(torch.cat([x * (1 - mask), mask], dim=1))
        feats = [h]
        for down in self.downs:
            h = down(h)
            feats.append(h)
        h = self.middle(h)
        logits = None
        if self.classifier is not None:
            logits = self.classifier(h.mean(dim=(2, 3)))
            if self.class_embed is not None:
                h = h + self.class_embed(logits.softmax(dim=1))[:, :, None, None]
        for level, (up, fuse) in enumerate(zip(self.ups, self.fuse, strict=True)):
            h = up(h)
            if self.skips:
                h = torch.cat([h, feats[-2 - level]], dim=1)
            h = fuse(h)
        return self.out(self.last(h)), logits

    def complete(self, x: torch.Tensor, mask: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        """The image: the known pixels of ``x`` and, in the hole, ``raw`` clamped to [-1, 1]."""
        return composite(x, raw.clamp(-1.0, 1.0), mask)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.complete(x, mask, self.predict(x, mask))


def hole_crop_origin(mask: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-left corners (N,), (N,) of ``size``×``size`` crops centred on each mask's bounding box,
    clamped inside the image; an empty mask gives the centred crop."""
    n, _, h, w = mask.shape
    hole = mask[:, 0] > 0.5
    rows, cols = hole.any(dim=2), hole.any(dim=1)  # (N, H), (N, W)

    def span(any_: torch.Tensor, side: int) -> torch.Tensor:
        idx = torch.arange(side, device=mask.device).expand(n, side)
        first = torch.where(any_, idx, side).amin(dim=1)
        last = torch.where(any_, idx, -1).amax(dim=1)
        empty = first > last
        centre2 = torch.where(empty, torch.full_like(first, side), first + last + 1)  # twice the centre
        return ((centre2 - size) // 2).clamp(0, side - size)

    return span(rows, h), span(cols, w)


def crop_at(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, size, size): each sample's crop at its own (top, left); differentiable in ``x``."""
    offsets = torch.arange(size, device=x.device)
    r = (top[:, None] + offsets)[:, :, None]  # (N, size, 1)
    c = (left[:, None] + offsets)[:, None, :]  # (N, 1, size)
    n = torch.arange(len(x), device=x.device)[:, None, None]
    return x.permute(0, 2, 3, 1)[n, r, c].permute(0, 3, 1, 2)


class ConvBranch(nn.Module):
    """5×5 stride-2 convs (LeakyReLU 0.2), widths ndf·2^i capped at 8·ndf, down to ≤ 4×4, then a
    fully connected layer to ``features`` (Iizuka et al. 2017, Tables 2 and 3)."""

    def __init__(self, c_in: int, side: int, ndf: int, features: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width, i = c_in, 0
        while side > 4:
            nxt = ndf * min(2**i, 8)
            layers += [nn.Conv2d(width, nxt, 5, 2, 2), nn.LeakyReLU(0.2, True)]
            width, side, i = nxt, (side + 1) // 2, i + 1
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Linear(width * side * side, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.fc(self.convs(x).flatten(1)), 0.2)


class GlobalLocalDiscriminator(nn.Module):
    """``forward(image, mask)`` -> (N, 1) logits from the concatenated features of a global branch
    (the whole [image, mask]) and a local branch (a ``local``×``local`` crop centred on the hole)."""

    def __init__(
        self, channels: int, side: int, local: int, ndf: int = 32, features: int = 256, sn: bool = True
    ) -> None:
        super().__init__()
        self.local = local
        self.global_branch = ConvBranch(channels + 1, side, ndf, features)
        self.local_branch = ConvBranch(channels + 1, local, ndf, features)
        self.head = nn.Linear(2 * features, 1)
        if sn:
            apply_spectral_norm(self)

    def crop(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        top, left = hole_crop_origin(mask, self.local)
        return crop_at(x, top, left, self.local)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.cat([image, mask.to(image.dtype)], dim=1)
        feats = torch.cat([self.global_branch(x), self.local_branch(self.crop(x, mask))], dim=1)
        return self.head(feats)


@dataclass(frozen=True)
class InpaintOptions(ModelOptions):
    """``ngf``/``ndf``: the widths of G's and D's first layers. G: ``depth`` halvings, then
    ``dilations`` (None: 2, 4, ... below the bottleneck side, ``default_dilations``); ``skips``:
    U-Net skip connections. D: local crops of ``local`` px (None: half the image side), branch
    features ``d_features``, spectral norm unless ``d_spectral_norm`` is false.

    ``class_head`` (``aux`` or ``condition``, on a labelled dataset) gives G a classifier of its
    bottleneck, trained by ``objective.lambda_class``; ``condition`` also feeds its posterior to the
    decoder.
    """

    ngf: PositiveInt = 32
    ndf: PositiveInt = 32
    depth: PositiveInt = 2
    dilations: list[int] | tuple[int, ...] | None = None
    local: int | None = None
    d_features: PositiveInt = 256
    d_spectral_norm: bool = True
    skips: bool = False
    class_head: str = "none"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dilations is not None:
            rates = tuple(self.dilations)
            if not rates or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in rates):
                raise ConfigError(
                    f"'model.dilations' must be a list of positive integers, got {self.dilations!r}"
                )


@register_translation_model(
    "inpaint",
    InpaintOptions,
    "inpainting: gated-conv encoder-decoder G (Yu et al. 2019) + global/local D (Iizuka et al.)",
)
def inpaint(shape: tuple[int, ...], num_classes: int, o: InpaintOptions) -> Networks:
    """``g``: gated-conv G, conditioned on the known pixels only; ``d``: global + local D.

    ``num_classes`` (of a labelled dataset) sizes the class head, when ``class_head`` asks for one.
    """
    c, side = check_translation_shape("inpaint", shape, 2**o.depth)
    rates = tuple(default_dilations(side // 2**o.depth) if o.dilations is None else o.dilations)
    local = side // 2 if o.local is None else o.local
    if isinstance(local, bool) or not isinstance(local, int) or not 4 <= local <= side:
        raise ConfigError(
            f"'model.local' (the local D's crop) must be between 4 and the side {side}, got {local!r}"
        )
    g = GatedInpaintGenerator(
        c, o.ngf, o.depth, rates, skips=bool(o.skips), num_classes=num_classes, class_head=o.class_head
    )
    d = GlobalLocalDiscriminator(c, side, local, o.ndf, o.d_features, sn=bool(o.d_spectral_norm))
    return {"g": TranslationGenerator(g, None, shape, shape, conditions=("mask",)), "d": d}


register_variant(
    "inpaint_tiny",
    base="inpaint",
    description="inpaint with small widths, for tests",
    ngf=8,
    ndf=8,
    d_features=32,
)
