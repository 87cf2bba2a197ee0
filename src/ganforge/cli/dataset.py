"""``ganforge dataset prepare SRC -o data.zip``: a folder of images decoded once into a training archive."""

from __future__ import annotations

import argparse
from typing import Any

from rich.markup import escape

from ganforge.cli.common import add_command, console


def cmd_prepare(args: argparse.Namespace) -> int:
    """decode a folder of images once into a .zip to train from (data.path: data.zip)

    Every image is read as the `folder` dataset reads it (EXIF rotation, transparency over
    --background, centre crop to square, LANCZOS to --resolution; sub-folders become class labels,
    unreadable files are skipped) and stored losslessly as a PNG, with dataset.json holding the
    resolution, channels, class names and labels. Training from the archive skips decoding large
    photos and scanning thousands of files, in memory or streamed (data.cache: none).
    """
    from ganforge.data.files import prepare_folder

    result = prepare_folder(args.source, args.output, args.resolution, args.channels, args.background)
    classes = f", {len(result['classes'])} classes" if result["classes"] else ""
    skipped = f"; skipped {len(result['skipped'])} unreadable file(s)" if result["skipped"] else ""
    what = f"{result['images']} images at {result['resolution']}px{classes}"
    console.print(f"wrote {what} to {escape(args.output)}{skipped}", soft_wrap=True)
    return 0


def add_dataset_parser(sub: Any) -> None:
    p = sub.add_parser("dataset", help="prepare training data: `ganforge dataset prepare SRC -o data.zip`")
    dsub = p.add_subparsers(dest="dataset_command", required=True)
    prep = add_command(dsub, "prepare", cmd_prepare)
    prep.add_argument("source", help="a folder of images (sub-folders: classes)")
    prep.add_argument("-o", "--output", required=True, help="the .zip archive to write")
    prep.add_argument(
        "--resolution", type=int, default=None, help="side in px (default: the smallest image's)"
    )
    prep.add_argument(
        "--channels", type=int, choices=(1, 3), default=None, help="1 or 3 (default: as stored)"
    )
    prep.add_argument("--background", choices=("white", "black"), default="white", help="behind transparency")
