"""``masked``: any registered image dataset with fixed inpainting masks as a batch key.

Training needs no such dataset: the ``inpaint`` objective draws fresh masks every step from its own
seeded stream and builds the masked input itself, so ``data.name: mnist`` (or ``faces``, or the
user's ``folder``) is inpainting data as it is. What this dataset adds is masks that never change:
a benchmark's test set, ``objective.masks: data`` (train on the user's own masks), or the input of
``ganforge inpaint``. Each batch holds

* ``x``: the images (and ``y`` their labels, when the base has them),
* ``mask``: (N, 1, H, W), 1 = missing (``masks``: ``center``, a centred ``hole``×``hole`` square,
  default 3/8 of the side, 12 px at 32; ``free_form``, seeded brush strokes; ``mixed``, each image
  one or the other with probability ½, all from ``seed``),
* ``a``: the masked image, the hole filled with 0 (mid grey), the generator's input.
"""

from __future__ import annotations

import torch

from ganforge.data.base import ArrayDataset
from ganforge.data.degrade import apply_mask, center_mask, free_form_masks
from ganforge.data.paired import BaseImages
from ganforge.errors import ConfigError
from ganforge.registry import register_dataset

MASK_MODES = ("center", "free_form", "mixed", "data")
FILL = 0.0  # the value of the hole in the generator's input (and in previews): mid grey


def default_hole(side: int) -> int:
    """3/8 of the image side: issue 8's 12×12 hole at 32 px."""
    return max(1, round(side * 3 / 8))


def masked_input(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The generator's input: ``x`` with the missing pixels (mask 1) set to ``FILL``."""
    return apply_mask(x, mask, FILL)


def draw_masks(
    mode: str, n: int, side: int, hole: int, gen: torch.Generator | None = None, seed: int | None = None
) -> torch.Tensor:
    """(n, 1, side, side) masks of ``mode`` (center, free_form, mixed), 1 = missing.

    Random draws come from ``gen`` (the objective's per-step stream) or, without one, from
    ``seed`` (fixed masks: previews, the ``masked`` dataset); ``mixed`` picks per sample."""
    if mode == "center":
        return center_mask(side, hole).expand(n, 1, side, side).clone()
    if gen is not None:
        seed = int(torch.randint(0, 2**62, (), generator=gen))
    if mode == "free_form":
        return free_form_masks(n, side, seed=int(seed or 0))
    if mode == "mixed":
        rng = torch.Generator().manual_seed(int(seed or 0))
        centre = torch.rand(n, generator=rng) < 0.5
        free = free_form_masks(n, side, seed=int(seed or 0) + 1)
        return torch.where(centre[:, None, None, None], center_mask(side, hole), free)
    raise ConfigError(f"masks must be one of {', '.join(MASK_MODES)}, got {mode!r}")


@register_dataset(
    "masked",
    pairing="paired",
    description="paired: any image dataset (x) with fixed inpainting masks (mask) and masked images (a)",
    options=BaseImages,
)
def masked(
    masks: str = "center", hole: int | None = None, seed: int = 0, options: BaseImages | None = None
) -> ArrayDataset:
    """The ``base`` images with ``masks`` (center, free_form, mixed; from ``seed``) and the masked
    images ``a`` (hole = 0)."""
    modes = [m for m in MASK_MODES if m != "data"]
    if masks not in modes:
        raise ConfigError(f"data.masks must be one of {', '.join(modes)}, got {masks!r}")
    options = options or BaseImages()
    target = options.build("to be masked")
    n, _, h, w = target.x.shape
    if h != w:
        raise ConfigError(f"masked needs square images, got {h}x{w}")
    hole = default_hole(h) if hole is None else hole
    if isinstance(hole, bool) or not isinstance(hole, int) or not 0 < hole <= h:
        raise ConfigError(f"data.hole must be between 1 and the image side {h}, got {hole!r}")
    mask = draw_masks(masks, n, h, hole, seed=int(seed)).contiguous()
    return ArrayDataset(
        x=target.x,
        y=target.y,
        name=f"{options.base}+{masks}",
        num_classes=target.num_classes,
        extras={"a": masked_input(target.x[:], mask).contiguous(), "mask": mask},  # floats of any x
    )
