"""What the report draws from the trained generator itself: a latent walk, a 2-D scatter, or (for
an image-to-image run) input / output / target strips of held-out test pairs.

Both use fixed seeds, so two reports of the same checkpoint show the same pictures and reports of
successive checkpoints walk the same latent path (differences are the training's, not the RNG's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ganforge.latent import interpolation_path
from ganforge.report.plots import image_data_uri, scatter_figure
from ganforge.utils.images import make_grid

INTERP_ROWS = 4
INTERP_STEPS = 10
SCATTER_N = 2500  # the mode-coverage protocol's sample count, so the picture matches `eval modes`
SEED = 0


@dataclass
class GeneratedView:
    """One picture (a PNG data URI) and the sentence that explains it."""

    kind: str  # "interpolation" or "scatter"
    uri: str
    caption: str


@torch.no_grad()
def interpolation_strip(
    handle: Any, rows: int = INTERP_ROWS, steps: int = INTERP_STEPS, seed: int = SEED
) -> str:
    """``rows`` slerp paths between pairs of fixed-seed latents, ``steps`` images each, as one grid.

    A conditional generator keeps one class per row (row ``r`` gets class ``r mod K``), so only the
    latent moves along a row.
    """
    g = handle.generator
    ends = g.sample_z(2 * rows, generator=torch.Generator().manual_seed(seed))
    z = torch.cat([interpolation_path(ends[2 * r], ends[2 * r + 1], steps) for r in range(rows)])
    labels = None
    if getattr(g, "num_classes", 0):
        labels = (torch.arange(rows) % g.num_classes).repeat_interleave(steps).to(handle.device)
    images = g(z.to(handle.device), labels).float().cpu()
    return image_data_uri(make_grid(images, nrow=steps, scale=max(1, 64 // images.shape[-1])))


def mixture_of(config: Any) -> tuple[np.ndarray | None, float | None]:
    """The centres and std a toy2d run was trained on (``None, None`` for other vector data)."""
    if config.data.name != "toy2d":
        return None, None
    from ganforge.data import mixture_spec

    p = config.data.params
    centres, std = mixture_spec(p.get("kind", "grid"), p.get("modes"), p.get("std"), p.get("radius", 1.0))
    return np.asarray(centres, dtype=np.float64), float(std)


def generator_view(handle: Any) -> GeneratedView | None:
    """The interpolation strip for image generators, the scatter for 2-D vectors; else ``None``."""
    shape = tuple(getattr(handle.generator, "out_shape", ()))
    which = "EMA" if "ema" in _weights(handle) else "raw"
    step = handle.checkpoint.stem
    if len(shape) == 3:
        return GeneratedView(
            "interpolation",
            interpolation_strip(handle),
            f"{INTERP_ROWS} rows, each a spherical interpolation (slerp) in {INTERP_STEPS} steps between"
            f" two fixed-seed latents (seed {SEED}), {which} generator of {step}.",
        )
    if len(shape) == 1 and shape[0] >= 2:
        x = handle.sample(SCATTER_N, seed=SEED).numpy().astype(np.float64)
        centres, std = mixture_of(handle.config)
        where = "over the training mixture's centres (circles: 3 std)" if centres is not None else ""
        dims = "" if shape[0] == 2 else f" (first two of {shape[0]} dimensions)"
        return GeneratedView(
            "scatter",
            scatter_figure(x, centres, std),
            f"{SCATTER_N:,} samples (seed {SEED}){dims} {where}, {which} generator of {step}.".replace(
                "  ", " "
            ),
        )
    return None


STRIP_ROWS = 8


@torch.no_grad()
def translation_view(run_dir: Any, config: Any, rows: int = STRIP_ROWS) -> GeneratedView:
    """The first ``rows`` test pairs (the evaluation's protocol, ``evaluation/translation.py``): per
    row input | output | target; a smaller input (super-resolution) is enlarged with nearest, a masked
    input shows its hole in mid grey, an editing run's row shows the attribute it was asked for."""
    import torch.nn.functional as F

    from ganforge.evaluation import EvalContext

    t = EvalContext(config, rows, seed=SEED, run_dir=run_dir).translation()
    a, out, x = t.pairs.a, t.outputs, t.pairs.x
    if a.shape[-2:] != out.shape[-2:]:
        a = F.interpolate(a, size=out.shape[-2:], mode="nearest")
    panels, names = [a, out, x], "input | output | target"
    if "attr" in t.pairs.conditions:  # the target is not the output's ground truth here
        panels, names = [a, out], "input | output at the requested attribute"
    k = len(panels)
    images = torch.stack(panels, dim=1).reshape(-1, *out.shape[1:])
    asked = ""
    if "attr" in t.pairs.conditions:
        values = ", ".join(f"{v:.2g}" for v in t.pairs.conditions["attr"][:, 0].tolist())
        asked = f" Requested attribute per row: {values}."
    caption = (
        f"{len(out)} held-out test pairs ({config.data.name}, split test), one per row: {names};"
        f" {'EMA' if 'ema' in _weights(t.handle) else 'raw'} generator of {t.handle.checkpoint.stem}.{asked}"
    )
    return GeneratedView(
        "translation", image_data_uri(make_grid(images, nrow=k, scale=max(1, 64 // out.shape[-1]))), caption
    )


def _weights(handle: Any) -> str:
    """``"ema"`` when the handle was built from EMA weights present in its checkpoint, else ``"raw"``."""
    from safetensors import safe_open

    with safe_open(str(handle.checkpoint), framework="pt") as fh:
        has_ema = any(k.startswith("ema.g.") for k in fh.keys())  # noqa: SIM118 (safe_open has no __iter__)
    return "ema" if has_ema else "raw"


__all__ = ["GeneratedView", "generator_view", "interpolation_strip", "mixture_of", "translation_view"]
