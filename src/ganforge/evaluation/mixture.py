"""Mode coverage of the 2-D Gaussian mixtures (``toy2d``), scored in the data's own coordinates."""

from __future__ import annotations

from typing import Any

from ganforge.config import Config
from ganforge.errors import EvalError
from ganforge.evaluation.core import EvalContext, Values, dataset_meta, register_metric


def _check_mixture(cfg: Config) -> None:
    if "modes" not in dataset_meta(cfg).get("metrics", ()):
        raise EvalError(
            f"metric 'modes' needs a run trained on the toy2d Gaussian mixtures, but this run's data is"
            f" '{cfg.data.name}'"
        )


def mixture_params(cfg: Config) -> dict[str, Any]:
    """The resolved mixture a toy2d run was trained on: kind, modes, std, radius (defaults filled in
    by the dataset's own ``mixture`` metadata, as the metric scores against)."""
    p = cfg.data.params
    kind = p.get("kind", "grid")
    centers, std = dataset_meta(cfg)["mixture"](p)
    out: dict[str, Any] = {"kind": kind, "modes": len(centers), "std": std}
    if kind == "ring":
        out["radius"] = float(p.get("radius", 1.0))
    return out


def _modes_help() -> str:
    from ganforge.metrics import modes

    return (modes.__doc__ or "").strip()


@register_metric(
    "modes",
    extractor="raw",
    keys=("modes_covered", "modes_total", "hq_fraction", "reverse_kl"),
    check=_check_mixture,
    higher_is_better=True,
    default_n=2500,
    description="mode coverage of a 2-D Gaussian mixture (VEEGAN / PacGAN protocol)",
    help=_modes_help(),
    facts=lambda cfg: {"mixture": mixture_params(cfg)},
)
def modes_metric(ctx: EvalContext) -> Values:
    """Score samples against the exact centres and spread in the run's resolved ``data`` config."""
    from ganforge.metrics import mode_coverage

    centers, std = dataset_meta(ctx.config)["mixture"](ctx.config.data.params)
    return mode_coverage(ctx.samples(), centers, std)
