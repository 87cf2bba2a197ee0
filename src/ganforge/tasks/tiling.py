"""Translate images of any size: the whole image at once, or overlapping tiles blended without seams.

A translation network is trained at one size (32×32 digits, 16×16 → 64×64 patches), but the
generators here are fully convolutional: a U-Net (pix2pix), an SRResNet, a gated-conv inpainter and
CycleGAN's ResNet take any image whose sides divide by the product of their strides (``multiple``),
so a photo runs at its own size. Nothing about a family is assumed; the network is *probed*
(``probe_size_plan``):

* ``scale``: output side / input side at the training size (4 for 4× super-resolution);
* ``multiple``: the smallest power of two m such that an (odd·m)×(odd'·m) input works and comes out
  ``scale`` times larger; an odd multiple of m is not a multiple of 2m, so a network that needs 2m
  fails that probe. Inputs are reflect-padded to a multiple of it, run, and cropped back;
* ``fixed``: a network that takes no size but its training size (a fully connected layer on the
  flattened image), or whose fully connected layers read *features of the image* (a global class
  head pooled over the whole image: its meaning would change with the image's size), runs on tiles
  of its training size instead. Found by hooks on ``nn.Linear``/``nn.MultiheadAttention``: their
  inputs change with the image. Layers that only read a per-image condition (an attribute embedding)
  do not count, nor do normalisations (instance norm over the whole image is how CycleGAN is
  applied at full resolution).

Tiles (``--tile T``) bound memory: T×T tiles (T rounded down to a multiple of ``multiple``, starts
at multiples of it, so every tile sees the same stride grid as the whole image) overlapping by
``overlap`` pixels (default T/4). Each tile's weight rises across the overlap on its inner sides:
zero on the outer quarter (where the tile's own border shows), a raised-cosine ramp over the middle
half, one beyond; weights are summed and normalised. A network whose receptive radius is at most a
quarter of the overlap therefore gives *exactly* the whole-image result (every weighted value is far
enough from its tile's border); a wider one differs slightly, smoothly, with no seam.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ganforge.errors import ConfigError, DataError

Run = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]
PROBE_MIN_SIDE = 16  # probe inputs are at least this large, so small-kernel reflection pads fit
PROBE_ERRORS = (RuntimeError, ValueError, IndexError, DataError, ConfigError)


@dataclass(frozen=True)
class SizePlan:
    """How a network runs at a size other than its training size (``probe_size_plan``)."""

    multiple: int = 1  # input sides are padded to a multiple of this
    scale: int = 1  # output side / input side
    fixed: tuple[int, int] | None = None  # the only (H, W) it takes: tiles of this size
    reason: str = ""  # why it is fixed

    def tile_size(self, tile: int, size: tuple[int, int]) -> tuple[int, int]:
        """(H, W) of the tiles for an image of ``size``: ``fixed``, else ``tile`` rounded down to
        a multiple of ``multiple`` (0: the whole padded image), never larger than the padded image."""
        if self.fixed is not None:
            return self.fixed
        padded = padded_size(size, self.multiple)
        if tile <= 0:
            return padded
        t = self.rounded_tile(tile)
        return min(t, padded[0]), min(t, padded[1])

    def rounded_tile(self, tile: int) -> int:
        """``tile`` rounded down to a multiple of ``multiple``, or a ConfigError if below it."""
        if tile < self.multiple:
            raise ConfigError(
                f"--tile must be at least {self.multiple} px, the stride of this run's network"
                f" (its input sides must divide by {self.multiple}), got {tile}"
            )
        return tile // self.multiple * self.multiple

    def describe(self, tile: int, overlap: int | None) -> str:
        """How images are run, in words, for the CLI's report line."""
        if self.fixed is not None:
            h, w = self.fixed
            over = tile_overlap(min(h, w), overlap)
            return f"in {h}x{w} tiles, the training size ({self.reason}), overlapping by {over} px"
        pad = f", sides padded to a multiple of {self.multiple} px as needed" if self.multiple > 1 else ""
        if tile <= 0:
            return f"at their own size, whole{pad}"
        t = self.rounded_tile(tile)
        return f"at their own size, in {t} px tiles overlapping by {tile_overlap(t, overlap)} px{pad}"


def tile_overlap(tile: int, overlap: int | None) -> int:
    """``overlap`` (None: a quarter of the tile), checked to leave a positive stride."""
    o = tile // 4 if overlap is None else overlap
    if o < 0 or o >= tile:
        raise ConfigError(f"--tile-overlap must be at least 0 and below the tile size {tile}, got {o}")
    return o


def padded_size(size: tuple[int, int], multiple: int, at_least: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    return tuple(max(math.ceil(s / multiple) * multiple, m) for s, m in zip(size, at_least, strict=True))


def _probe_inputs(
    channels: int, size: tuple[int, int], conditions: dict[str, torch.Tensor], seed: int = 0
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One seeded image of ``size`` in [-1, 1], with spatial conditions zero (a mask: nothing
    missing) and per-image ones as their first row."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(1, channels, *size, generator=gen) * 2 - 1
    cond = {k: torch.zeros(1, v.shape[1], *size) if v.ndim == 4 else v[:1] for k, v in conditions.items()}
    return x, cond


def _output_scale(run: Run, channels: int, size: tuple[int, int], conditions: dict) -> int | None:
    """Output side / input side for an input of ``size``, or None if the network refuses it."""
    try:
        y = run(*_probe_inputs(channels, size, conditions))
    except PROBE_ERRORS:
        return None
    scale = y.shape[-1] // size[1]
    return scale if scale >= 1 and tuple(y.shape[-2:]) == (scale * size[0], scale * size[1]) else None


def _reads_whole_image(
    net: nn.Module, run: Run, channels: int, size: tuple[int, int], conditions: dict
) -> bool:
    """Whether a fully connected (or attention) layer's input changes with the image's content."""
    seen: list[list[torch.Tensor]] = [[], []]
    layers = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.MultiheadAttention))]
    if not layers:
        return False
    for seed, record in enumerate(seen):
        hooks = [m.register_forward_pre_hook(lambda _m, args, r=record: r.append(args[0])) for m in layers]
        try:
            run(*_probe_inputs(channels, size, conditions, seed=seed))
        finally:
            for h in hooks:
                h.remove()
    return any(a.shape != b.shape or not torch.equal(a, b) for a, b in zip(*seen, strict=True))


def probe_size_plan(
    net: nn.Module, run: Run, channels: int, size: tuple[int, int], conditions: dict[str, torch.Tensor]
) -> SizePlan:
    """The ``SizePlan`` of network ``net`` (run by ``run``) trained on ``channels``×``size`` inputs,
    found by running it on a few small seeded inputs (module docstring)."""
    scale = _output_scale(run, channels, size, conditions)
    if scale is None:
        raise DataError(f"this run's network does not run on its own {size[0]}x{size[1]} inputs")
    h, w = size
    if _reads_whole_image(net, run, channels, size, conditions):
        return SizePlan(1, scale, size, "its fully connected layers read the whole image")
    multiple = 1
    while multiple <= min(h, w):
        odd = max(1, math.ceil(PROBE_MIN_SIDE / multiple)) | 1
        probe = (odd * multiple, (odd + 2) * multiple)
        if probe != size and _output_scale(run, channels, probe, conditions) == scale:
            return SizePlan(multiple, scale)
        multiple *= 2
    return SizePlan(1, scale, size, f"its network takes {h}x{w} inputs only")


def _pad(t: torch.Tensor, target: tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
    """``t`` (N, C, H, W) padded to ``target`` (H, W), split evenly between the two sides by
    reflection (by replication where the image is too small to reflect); the (top, left) offsets."""
    dh, dw = target[0] - t.shape[-2], target[1] - t.shape[-1]
    top, left = dh // 2, dw // 2
    if dh == 0 and dw == 0:
        return t, (0, 0)
    pads = (left, dw - left, top, dh - top)
    mode = "reflect" if max(pads[:2]) < t.shape[-1] and max(pads[2:]) < t.shape[-2] else "replicate"
    return torch.nn.functional.pad(t, pads, mode=mode), (top, left)


def _starts(length: int, tile: int, stride: int) -> list[int]:
    """Tile origins along an axis: every ``stride`` from 0, the last one flush with the end."""
    if tile >= length:
        return [0]
    return sorted({*range(0, length - tile, stride), length - tile})


def _window(length: int, overlap: int, rise_start: bool, rise_end: bool) -> torch.Tensor:
    """1-D blending weights of a tile: 0 on the outer quarter of the overlap at an inner side, a
    raised-cosine ramp over its middle half, 1 beyond; 1 at sides on the image's border."""
    d = torch.arange(length, dtype=torch.float64) + 0.5
    w = torch.ones(length, dtype=torch.float64)
    if overlap <= 0:
        return w
    for rise, dist in ((rise_start, d), (rise_end, length - d)):
        if rise:
            r = ((dist - overlap / 4) / (overlap / 2)).clamp(0.0, 1.0)
            w = w * torch.sin(r * math.pi / 2) ** 2
    return w


def run_any_size(
    run: Run,
    x: torch.Tensor,
    conditions: dict[str, torch.Tensor],
    plan: SizePlan,
    tile: int = 0,
    overlap: int | None = None,
    batch_size: int = 64,
) -> torch.Tensor:
    """``run`` on images ``x`` (N, C, H, W) of any size -> (N, C', scale·H, scale·W): padded to the
    network's multiple (or to its fixed size), run whole or by blended tiles, cropped back.
    Spatial conditions (N, ·, H, W) are padded and tiled with the images; others go as they are."""
    h, w = x.shape[-2:]
    th, tw = plan.tile_size(tile, (h, w))
    target = padded_size((h, w), plan.multiple, at_least=(th, tw))
    xp, (top, left) = _pad(x, target)
    spatial = {k: _pad(v, target)[0] for k, v in conditions.items() if v.ndim == 4}
    flat = {k: v for k, v in conditions.items() if v.ndim != 4}
    if (th, tw) == target:
        y = run(xp, {**spatial, **flat})
    else:
        nominal = min(plan.fixed) if plan.fixed is not None else plan.rounded_tile(tile)
        y = _run_tiles(run, xp, spatial, flat, (th, tw), plan, tile_overlap(nominal, overlap), batch_size)
    s = plan.scale
    return y[..., s * top : s * (top + h), s * left : s * (left + w)]


def _run_tiles(
    run: Run,
    xp: torch.Tensor,
    spatial: dict[str, torch.Tensor],
    flat: dict[str, torch.Tensor],
    tile: tuple[int, int],
    plan: SizePlan,
    overlap: int,
    batch_size: int,
) -> torch.Tensor:
    """Blend ``run`` over overlapping ``tile``-sized crops of the padded images ``xp``."""
    n, _, hp, wp = xp.shape
    (th, tw), s, m = tile, plan.scale, plan.multiple
    # strides are multiples of m (every tile on the whole image's stride grid), so the overlap
    # each window blends over is rounded up to what is left: t - stride >= overlap
    stride_h, stride_w = (max(m, (t - overlap) // m * m) for t in (th, tw))
    over_h, over_w = th - stride_h, tw - stride_w
    spots = [(i, j) for i in _starts(hp, th, stride_h) for j in _starts(wp, tw, stride_w)]
    out: torch.Tensor | None = None
    weight = torch.zeros(s * hp, s * wp)
    chunk = max(1, batch_size // n)
    for first in range(0, len(spots), chunk):
        group = spots[first : first + chunk]
        crops = torch.cat([xp[..., i : i + th, j : j + tw] for i, j in group])
        cond = {k: torch.cat([v[..., i : i + th, j : j + tw] for i, j in group]) for k, v in spatial.items()}
        cond.update({k: v.repeat(len(group), *([1] * (v.ndim - 1))) for k, v in flat.items()})
        y = run(crops, cond).float()
        if out is None:
            out = torch.zeros(n, y.shape[1], s * hp, s * wp)
        for k, (i, j) in enumerate(group):
            wy = _window(s * th, s * over_h, i > 0, i + th < hp)
            wx = _window(s * tw, s * over_w, j > 0, j + tw < wp)
            win = (wy[:, None] * wx[None, :]).float()
            rows, cols = slice(s * i, s * (i + th)), slice(s * j, s * (j + tw))
            out[..., rows, cols] += y[k * n : (k + 1) * n] * win
            weight[rows, cols] += win
    assert out is not None and bool((weight > 0).all()), "every pixel is covered by a tile"
    return out / weight
