"""``ganforge latent {interpolate,classes,truncation,walk,invert} RUN``: shells over ``ganforge.latent``.

Each loads the run's generator (EMA weights unless ``--no-ema``), draws a sweep from fixed seeds and
writes it as a PNG grid or a GIF (``-o`` decides by its suffix). ``invert`` prints one JSON object
(MSE, PSNR, ...) on stdout and nothing else, so scripts can pipe it; messages go to stderr.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape

from ganforge.cli.common import args_for, console
from ganforge.errors import ConfigError


def _load(args: argparse.Namespace) -> Any:
    from ganforge.api import load

    return load(args.run, ema=not args.no_ema, device=args.device)


def _truncation(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"--truncation must be in [0, 1], got {value}")
    return value


def _wrote(path: Path, what: str) -> None:
    console.print(f"wrote {what} to {escape(str(path))}", soft_wrap=True)


def _output_and_generator(args: argparse.Namespace) -> tuple[Path, Any]:
    """The checked ``-o`` path, then the run's generator: a bad output fails before the slow load."""
    from ganforge.latent.pictures import check_output

    return check_output(args.output), _load(args)


def _save_sweep(args: argparse.Namespace, sweep: Any, out: Path, what: str, bounce: bool = True) -> None:
    """Write ``sweep`` as ``out`` (a PNG grid or a GIF at ``--fps``) and say so."""
    from ganforge.latent import save_sweep

    _wrote(save_sweep(sweep, out, fps=args.fps, bounce=bounce), what)


def cmd_interpolate(args: argparse.Namespace) -> int:
    from ganforge.latent import interpolation_grid

    out, handle = _output_and_generator(args)
    sweep = interpolation_grid(
        handle, args.rows, args.steps, args.method, args.label, args.seed, _truncation(args.truncation)
    )
    _save_sweep(args, sweep, out, f"{args.rows} {args.method} paths")
    return 0


def cmd_classes(args: argparse.Namespace) -> int:
    from ganforge.latent import class_interpolation_grid

    out, handle = _output_and_generator(args)
    if not handle.num_classes:
        raise ConfigError(
            "'latent classes' needs a class-conditional run; this run's generator is unconditional"
        )
    sweep = class_interpolation_grid(
        handle, args.start, args.end, args.rows, args.steps, args.seed, _truncation(args.truncation)
    )
    _save_sweep(args, sweep, out, f"class {args.start} -> {args.end} paths")
    return 0


def cmd_truncation(args: argparse.Namespace) -> int:
    from ganforge.latent import parse_psis, truncation_grid

    psis = parse_psis(args.psis)
    out, handle = _output_and_generator(args)
    sweep = truncation_grid(handle, psis, args.n, args.seed, args.label)  # (ψ, seeds, ...)
    if out.suffix.lower() == ".gif":
        sweep = sweep.transpose(0, 1)  # a GIF animates columns: make them the ψ values
    _save_sweep(args, sweep, out, f"a truncation sweep over ψ = {', '.join(map(str, psis))}")
    return 0


def cmd_walk(args: argparse.Namespace) -> int:
    from ganforge.latent import walk_grid

    out, handle = _output_and_generator(args)
    sweep = walk_grid(**args_for(walk_grid, args, generator=handle, truncation=_truncation(args.truncation)))
    _save_sweep(args, sweep, out, f"a {args.steps}-frame latent walk", bounce=False)
    return 0


def cmd_invert(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ganforge.latent import invert, load_target
    from ganforge.latent.pictures import check_output
    from ganforge.utils.images import make_grid, save_image

    out = check_output(args.output, (".png",))
    if args.save_latent is not None and Path(args.save_latent).suffix.lower() != ".npz":
        raise ConfigError(f"--save-latent '{args.save_latent}' must end in .npz")
    handle = _load(args)
    target = load_target(args.target, tuple(handle.generator.out_shape), index=args.index)
    result = invert(**args_for(invert, args, generator=handle, target=target))
    pair = torch.stack([result.target, result.reconstruction])
    save_image(make_grid(pair, nrow=2, scale=max(1, 128 // pair.shape[-1])), out)
    summary = {**result.summary(), "output": str(out)}
    if args.save_latent is not None:
        from ganforge.utils.io import atomic_write

        def write(tmp: Path) -> None:
            with tmp.open("wb") as fh:
                np.savez(fh, latent=result.latent.numpy(), space=np.array(result.space))

        atomic_write(args.save_latent, write)
        summary["latent"] = str(args.save_latent)
    print(json.dumps(summary))
    return 0


def _common(p: argparse.ArgumentParser, output: str) -> None:
    p.add_argument("run", help="run directory")
    p.add_argument("-o", "--output", default=output, help=f"where to write (default {output})")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default 0): same seed, same picture")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator instead of its EMA")
    p.add_argument("--device", default="cpu")


def _label(p: argparse.ArgumentParser, default_help: str) -> None:
    p.add_argument("--label", type=int, default=None, help=f"class for conditional runs ({default_help})")


def _picture(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--truncation", type=float, default=1.0, help="truncation ψ in [0, 1] for every image (default 1)"
    )
    p.add_argument("--fps", type=float, default=10.0, help="GIF frames per second (default 10)")


def add_latent_parser(sub: Any) -> None:
    """``ganforge latent ...``: registered by ``cli/main.py``."""
    latent = sub.add_parser(
        "latent",
        help="latent-space pictures: interpolation, class interpolation, truncation, walks, inversion",
        description="Explore a trained generator's latent space. Each subcommand writes a PNG grid or a"
        " GIF (chosen by the -o suffix) from fixed seeds; see docs/latent.md.",
    )
    tools = latent.add_subparsers(dest="tool", required=True)
    _add_picture_tools(tools)
    _add_walk_and_invert(tools)


def _add_picture_tools(tools: Any) -> None:
    """``interpolate``, ``classes``, ``truncation``: grids of fixed seeds."""
    p = tools.add_parser("interpolate", help="rows of latent interpolations between seeded pairs")
    _common(p, "interpolate.png")
    p.add_argument("--steps", type=int, default=8, help="images per row, ends included (default 8)")
    p.add_argument("--rows", type=int, default=4, help="number of paths (default 4)")
    p.add_argument("--method", choices=["slerp", "lerp"], default="slerp", help="default slerp")
    _label(p, "default: row r gets class r mod K")
    _picture(p)
    p.set_defaults(func=cmd_interpolate)

    p = tools.add_parser("classes", help="class interpolation at fixed latents (soft labels)")
    _common(p, "classes.png")
    p.add_argument("--from", dest="start", type=int, required=True, help="class at the left end")
    p.add_argument("--to", dest="end", type=int, required=True, help="class at the right end")
    p.add_argument("--steps", type=int, default=8, help="images per row, ends included (default 8)")
    p.add_argument("--rows", type=int, default=4, help="number of latents (default 4)")
    _picture(p)
    p.set_defaults(func=cmd_classes)

    p = tools.add_parser("truncation", help="truncation sweep: rows = ψ, columns = seeds")
    _common(p, "truncation.png")
    p.add_argument(
        "--psis", default="1,0.8,0.6,0.4,0.2,0", help="comma-separated ψ in [0, 1] (default 1,0.8,...,0)"
    )
    p.add_argument("-n", type=int, default=8, help="number of seeds, the columns (default 8)")
    _label(p, "default: column j gets class j mod K")
    p.add_argument("--fps", type=float, default=4.0, help="GIF frames (ψ values) per second (default 4)")
    p.set_defaults(func=cmd_truncation)


def _add_walk_and_invert(tools: Any) -> None:
    """``walk`` (a GIF on the latent sphere) and ``invert`` (an image's latent)."""
    p = tools.add_parser("walk", help="a smooth random walk on the latent sphere, as a GIF")
    _common(p, "walk.gif")
    p.add_argument("--steps", type=int, default=60, help="frames (default 60)")
    p.add_argument(
        "--step-size", type=float, default=0.2, help="angle in radians moved per frame (default 0.2)"
    )
    p.add_argument(
        "--smoothness", type=float, default=0.9, help="in [0, 1): how much direction each step keeps"
    )
    p.add_argument("--rows", type=int, default=1, help="independent walks side by side (default 1)")
    _label(p, "default: walk r gets class r mod K")
    _picture(p)
    p.set_defaults(func=cmd_walk)

    p = tools.add_parser("invert", help="find the latent that reconstructs an image; prints MSE/PSNR JSON")
    _common(p, "inversion.png")
    p.add_argument("target", help="image file (PNG, JPEG...) or .npz with 'x' (C, H, W) in [-1, 1]")
    p.add_argument("--index", type=int, default=0, help="which image of an (N, C, H, W) .npz (default 0)")
    p.add_argument("--space", choices=["z", "w"], default="z", help="latent to optimise (w: StyleGAN-like)")
    p.add_argument("--steps", type=int, default=500, help="optimisation steps (default 500)")
    p.add_argument("--lr", type=float, default=0.05, help="Adam learning rate (default 0.05)")
    p.add_argument("--restarts", type=int, default=4, help="random starts optimised together (default 4)")
    p.add_argument("--prior-weight", type=float, default=None, help="weight of the latent prior term")
    _label(p, "required for conditional runs: the target's class")
    p.add_argument("--save-latent", default=None, help="also write the latent found to this .npz")
    p.set_defaults(func=cmd_invert)


__all__ = ["add_latent_parser"]
