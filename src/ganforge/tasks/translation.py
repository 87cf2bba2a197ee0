"""Task ``translation``: an image (and its conditions) in, an image out; scored on the test split.

A translation model has no latent to sample: it is scored on the held-out *test split* of its own
dataset, ``n`` pairs in dataset order, as the restoration literature scores models. The run's data
config with ``split: test`` (top level, or inside ``base_params`` for wrapper datasets such as
``degraded`` and ``masked``) gives the inputs ``a``, the targets ``x``, their labels ``y`` and any
conditions the translator takes; an evaluation then treats the translations as the "samples" and
the test targets as the "real" set, so FID/KID/precision-recall compare outputs with real held-out
images of the output domain, unchanged.

Conditions the test split does not carry are made by a documented protocol:

* ``mask`` (inpainting): the centred square hole of side ``objective.hole`` (default 3/8 of the
  side: 12 px at 32 px, issue 8's protocol); PSNR and SSIM are then computed inside the hole only.
* ``attr`` (attribute editing): each test image is asked for one of five evenly spaced values from
  the 5th to the 95th percentile of the test split's own attribute (image i gets level i mod 5), so
  requested and measured attributes can be correlated (metric ``attribute``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from ganforge.config import Config
from ganforge.errors import ConfigError, DataError, EvalError
from ganforge.models.translation import TranslationGenerator, check_condition
from ganforge.registry import DATASETS, register_task
from ganforge.tasks.base import Graph, Handle, Task
from ganforge.tasks.graphs import translator_graph
from ganforge.tasks.tiling import SizePlan, probe_size_plan, run_any_size
from ganforge.tasks.views import STRIP_ROWS, GeneratedView, grid_uri, weights_of

ATTR_LEVELS = 5


class TranslatorHandle(Handle):
    """A trained image-to-image translator: ``load_translator("runs/edges2digits").translate(x)``.

    ``translate`` takes and returns (N, C, H, W) tensors in [-1, 1] (or one (C, H, W) image) at the
    size the model was trained on (its contract, which evaluation relies on); ``translate_any``
    takes images of any size and returns them at their own size (times the model's scale), run
    whole or by overlapping tiles (``tasks/tiling.py``). ``directions`` lists what it can do
    (pix2pix: ``AtoB``; CycleGAN: both). The generator runs in eval mode (``Handle``), so the same
    input always gives the same output.
    """

    generator: TranslationGenerator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._size_plans: dict[str, SizePlan] = {}

    @property
    def directions(self) -> tuple[str, ...]:
        return tuple(self.generator.directions)

    def input_shape(self, direction: str = "AtoB") -> tuple[int, ...]:
        """(C, H, W) of the images ``translate`` takes in ``direction``."""
        self._check_direction(direction)
        return tuple(self.generator.input_shape(direction))

    def _check_direction(self, direction: str) -> None:
        if direction not in self.directions:
            raise ConfigError(
                f"this run's model translates {' and '.join(self.directions)} only, not {direction!r}"
            )

    @property
    def conditions(self) -> tuple[str, ...]:
        """What ``translate`` needs besides the images: ``("mask",)`` (inpainting), ``("attr",)``
        (attribute editing), or nothing."""
        return tuple(self.generator.conditions)

    @torch.no_grad()
    def translate(
        self, x: Any, direction: str = "AtoB", batch_size: int = 64, **conditions: Any
    ) -> torch.Tensor:
        """Translate images ``x`` of the training size in ``direction``; the result is on the CPU,
        in [-1, 1].

        ``conditions`` are the model's ``conditions`` by name, e.g. ``mask=`` (1 = missing) for an
        inpainting run or ``attr=`` (target attribute values) for an editing run; one row is
        broadcast to every image.
        """
        x, cond, single = self._checked(x, direction, conditions, any_size=False)
        y = self._run(x, cond, direction, batch_size).clamp_(-1.0, 1.0)
        return y[0] if single else y

    @torch.no_grad()
    def translate_any(
        self,
        x: Any,
        direction: str = "AtoB",
        batch_size: int = 64,
        tile: int = 0,
        overlap: int | None = None,
        **conditions: Any,
    ) -> torch.Tensor:
        """``translate`` for images of any size H×W (one size per call): the result is scale·H ×
        scale·W (4× for a 4× super-resolution run), run fully convolutionally on the whole image
        (reflect-padded to the network's stride), or with ``tile`` > 0 on ``tile``-pixel tiles
        overlapping by ``overlap`` (default ``tile``/4), blended without seams. A network that
        takes its training size only, or reads the whole image through fully connected layers,
        runs on tiles of its training size (``size_plan`` says which). A ``mask`` must have the
        images' size; the known pixels (mask 0) come back exactly. At the training size without
        ``tile`` this is ``translate``.
        """
        x, cond, single = self._checked(x, direction, conditions, any_size=True)
        if tile == 0 and tuple(x.shape[-2:]) == tuple(self.input_shape(direction)[-2:]):
            y = self._run(x, cond, direction, batch_size)
        else:
            plan = self.size_plan(x, direction, **conditions)

            def run(xb: torch.Tensor, cb: dict[str, torch.Tensor]) -> torch.Tensor:
                return self._run(xb, cb, direction, batch_size)

            y = run_any_size(run, x, cond, plan, tile, overlap, batch_size)
        y = y.clamp_(-1.0, 1.0)
        if "mask" in cond and y.shape == x.shape:  # blending must not touch a known pixel
            y = torch.where(cond["mask"] == 0, x, y)
        return y[0] if single else y

    def size_plan(self, x: Any, direction: str = "AtoB", **conditions: Any) -> SizePlan:
        """How ``translate_any`` runs images like ``x`` with these conditions: the network's
        stride multiple and scale, or the training size it must be tiled at (and why); probed once
        per direction (``tasks/tiling.py``)."""
        plans = self._size_plans
        if direction not in plans:
            x, cond, _ = self._checked(x, direction, conditions, any_size=True)
            c, h, w = self.input_shape(direction)

            def run(xb: torch.Tensor, cb: dict[str, torch.Tensor]) -> torch.Tensor:
                return self._run(xb, cb, direction, 1)

            plans[direction] = probe_size_plan(self.generator, run, c, (h, w), cond)
        return plans[direction]

    def _checked(
        self, x: Any, direction: str, conditions: dict[str, Any], any_size: bool
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], bool]:
        """(images (N, C, H, W), conditions checked for them, whether one image was given), or a
        DataError/ConfigError saying what is wrong."""
        c, h, w = self.input_shape(direction)
        x = torch.as_tensor(x, dtype=torch.float32)
        single = x.ndim == 3
        x = x[None] if single else x
        if x.ndim != 4 or len(x) == 0 or min(x.shape[-2:]) == 0:
            raise DataError(f"translate needs (N, C, H, W) or (C, H, W) images, got shape {tuple(x.shape)}")
        if x.shape[1] != c:
            raise DataError(
                f"this translator takes {c}-channel images ({direction}), got {x.shape[1]} channel(s)"
            )
        if not any_size and tuple(x.shape[-2:]) != (h, w):
            raise DataError(
                f"this translator takes {h}x{w} images, got {x.shape[-2]}x{x.shape[-1]}"
                " (translate_any takes any size)"
            )
        if not torch.isfinite(x).all() or x.abs().max() > 1 + 1e-3:
            raise DataError("images to translate must be finite values in [-1, 1]")
        needed = self.conditions if direction == "AtoB" else ()
        missing = [k for k in needed if conditions.get(k) is None]
        unknown = [k for k in conditions if k not in needed]
        if missing or unknown:
            what = f"needs {', '.join(f'{k}=' for k in needed)}" if needed else "takes no conditions"
            raise ConfigError(
                f"this run's translator ({direction}) {what}; missing {missing}, unexpected {unknown}"
            )
        side = (x.shape[-2], x.shape[-1])
        return x, {k: check_condition(k, conditions[k], len(x), side) for k in needed}, single

    def _run(
        self, x: torch.Tensor, cond: dict[str, torch.Tensor], direction: str, batch_size: int
    ) -> torch.Tensor:
        """The generator on ``x`` in batches of ``batch_size`` on the handle's device, as float on
        the CPU (not clamped)."""
        step = max(1, batch_size)
        out = [
            self.generator(
                x[i : i + step].to(self.device),
                direction,
                **{k: v[i : i + step].to(self.device) for k, v in cond.items()},
            )
            .float()
            .cpu()
            for i in range(0, len(x), step)
        ]
        return torch.cat(out)


def held_out_params(cfg: Config) -> dict[str, Any]:
    """The run's dataset parameters with the held-out split selected, or an EvalError saying why not."""
    params = dict(cfg.data.params)
    accepted = DATASETS.get(cfg.data.name).parameters()
    if "split" in params or "split" in accepted:
        params["split"] = "test"
    elif isinstance(params.get("base_params"), dict) and "split" in params["base_params"]:
        params["base_params"] = {**params["base_params"], "split": "test"}
    else:
        raise EvalError(
            f"task metrics score a run on its dataset's held-out split, but data '{cfg.data.name}'"
            " (with these parameters) has none: give it a 'split' (or base_params.split) parameter"
        )
    if cfg.data.resolution is not None and "resolution" in accepted:
        params["resolution"] = cfg.data.resolution
    return params


@dataclass
class HeldOutPairs:
    """The first ``n`` test pairs: inputs ``a``, targets ``x``, labels ``y`` (or None), and the
    conditions the translator takes (``mask``, ``attr``), all on the CPU."""

    a: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor | None
    conditions: dict[str, torch.Tensor] = field(default_factory=dict)
    attribute: str | None = None  # the dataset's attribute measurement, for ``attr`` conditions


def load_held_out_pairs(cfg: Config, n: int, conditions: tuple[str, ...]) -> HeldOutPairs:
    """The first ``n`` test pairs with the conditions the translator takes. A plain image dataset
    (inpainting trains on ``mnist``, ``faces``, ``folder`` as they are) has no inputs ``a``: with a
    ``mask`` condition they are its images with the hole filled with 0, as the objective builds them."""
    ds = DATASETS.build(cfg.data.name, **held_out_params(cfg))
    k = min(n, len(ds.x))
    a = ds.extras.get("a")
    pairs = HeldOutPairs(a=ds.x[:k] if a is None else a[:k], x=ds.x[:k], y=None if ds.y is None else ds.y[:k])
    pairs.attribute = DATASETS.get(cfg.data.name).meta.get("attribute")
    for name in conditions:
        given = ds.extras.get(name)
        pairs.conditions[name] = given[:k] if given is not None else _protocol_condition(name, cfg, pairs)
    if a is None:
        if "mask" not in pairs.conditions:
            raise EvalError(f"the test split of '{cfg.data.name}' holds no input images 'a' to translate")
        from ganforge.data.masked import masked_input

        pairs.a = masked_input(pairs.x, pairs.conditions["mask"])
    return pairs


def _protocol_condition(name: str, cfg: Config, pairs: HeldOutPairs) -> torch.Tensor:
    """A condition the test split does not carry, made as the module docstring documents."""
    side = pairs.a.shape[-1]
    if name == "mask":
        from ganforge.data.masked import default_hole, draw_masks

        hole = int(cfg.objective.params.get("hole") or default_hole(side))  # None: the objective's default
        return draw_masks("center", len(pairs.a), side, hole)
    raise EvalError(f"the test split of '{cfg.data.name}' carries no '{name}' for this translator")


def attr_requests(attr: torch.Tensor) -> torch.Tensor:
    """Five evenly spaced levels from the 5th to the 95th percentile of ``attr`` (N, K), image i asking
    for level i mod 5. Percentiles, not the extremes: a few odd measurements (a "1" read as 15 px
    wide) would otherwise ask for values no training image has."""
    lo, hi = torch.quantile(attr.float(), 0.05, dim=0), torch.quantile(attr.float(), 0.95, dim=0)
    levels = lo + (hi - lo) * torch.linspace(0, 1, ATTR_LEVELS)[:, None]
    return levels[torch.arange(len(attr)) % ATTR_LEVELS]


class TranslationSamples:
    """What an evaluation of a translation run scores: its handle, the first ``n`` test pairs and
    their translations."""

    def __init__(self, handle: TranslatorHandle, n: int) -> None:
        self.handle = handle
        conditions = tuple(handle.conditions)
        self.pairs = load_held_out_pairs(handle.config, n, conditions)
        if "attr" in self.pairs.conditions:
            self.pairs.conditions["attr"] = attr_requests(self.pairs.conditions["attr"])
        self.outputs = self.handle.translate(self.pairs.a, **self.pairs.conditions)


@register_task("translation", description="image [+ mask | attribute] -> image: pix2pix, CycleGAN, SR, ...")
class TranslationTask(Task):
    handle_class = TranslatorHandle
    report_title = "Test translations"
    loader = "ganforge.load_translator (or `ganforge translate`)"
    network = TranslationGenerator

    def check_evaluable(self, cfg: Config) -> None:
        held_out_params(cfg)  # scored on the test split, which must exist

    def export_graph(self, handle: Any, direction: str = "AtoB", truncation: float = 1.0) -> Graph:
        return translator_graph(handle.generator, direction)

    def samples(self, ctx: Any) -> TranslationSamples:
        """The context's test pairs and translations, computed once per context."""
        if ctx.cache.get("translation") is None:
            ctx.cache["translation"] = TranslationSamples(ctx.generator(), ctx.n)
        return ctx.cache["translation"]

    def eval_samples(self, ctx: Any) -> torch.Tensor:
        return self.samples(ctx).outputs

    def eval_count(self, ctx: Any) -> int:
        return len(self.samples(ctx).outputs)  # at most the test split's size

    def eval_reference(self, ctx: Any) -> torch.Tensor | None:
        return self.samples(ctx).pairs.x

    def eval_facts(self, ctx: Any) -> dict[str, Any]:
        return {"split": "test"}

    @torch.no_grad()
    def report_view(self, handle: TranslatorHandle, rows: int = STRIP_ROWS) -> GeneratedView:
        """The first ``rows`` test pairs (the evaluation's protocol): per row input | output |
        target; a smaller input (super-resolution) is enlarged with nearest, a masked input shows
        its hole in mid grey, an editing run's row shows the attribute it was asked for."""
        t = TranslationSamples(handle, rows)
        a, out, x = t.pairs.a, t.outputs, t.pairs.x
        if a.shape[-2:] != out.shape[-2:]:
            a = F.interpolate(a, size=out.shape[-2:], mode="nearest")
        panels, names = [a, out, x], "input | output | target"
        asked = ""
        if "attr" in t.pairs.conditions:  # the target is not the output's ground truth here
            panels, names = [a, out], "input | output at the requested attribute"
            values = ", ".join(f"{v:.2g}" for v in t.pairs.conditions["attr"][:, 0].tolist())
            asked = f" Requested attribute per row: {values}."
        images = torch.stack(panels, dim=1).reshape(-1, *out.shape[1:])
        caption = (
            f"{len(out)} held-out test pairs ({handle.config.data.name}, split test), one per row: {names};"
            f" {weights_of(handle)} generator of {handle.checkpoint.stem}.{asked}"
        )
        return GeneratedView("translation", grid_uri(images, nrow=len(panels)), caption)
