"""``ganforge translate RUN IN -o OUT [--direction AtoB|BtoA]``: run a trained pix2pix/CycleGAN.

IN and OUT may each be an image file, a folder of images, or an ``.npz`` whose ``x`` holds
(N, C, H, W) images in [-1, 1]. Image files are read as the ``folder`` dataset reads them
(centre-cropped, resized to the training size, converted to the model's channel count); arrays
from an ``.npz`` are taken as they are and must already have the model's shape. Everything is read
and translated before anything is written, every file is written atomically, and existing outputs
are never replaced without ``--force``: a bad input leaves the disk as it was.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ganforge.errors import ConfigError, DataError
from ganforge.utils.io import atomic_write

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")


def read_inputs(path: str | Path, side: int, channels: int) -> tuple[torch.Tensor, list[str]]:
    """(images (N, C, H, W) in [-1, 1], output file names) from an image, a folder or an .npz."""
    from ganforge.data.files import _list_images
    from ganforge.data.paired import read_rgb_files, rgb_to_unit

    p = Path(path)
    if not p.exists():
        raise DataError(f"input '{path}' does not exist")
    if p.is_dir():
        files = _list_images(p, recursive=True)
        if not files:
            raise DataError(f"no images found in '{path}'")
        names = [str(f.relative_to(p).with_suffix(".png")) for f in files]
        return rgb_to_unit(read_rgb_files(files, side), channels), names
    if p.suffix.lower() == ".npz":
        x = read_npz_images(p)
        return x, [f"{i:05d}.png" for i in range(len(x))]
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return rgb_to_unit(read_rgb_files([p], side), channels), [p.with_suffix(".png").name]
    raise DataError(f"input '{path}' must be an image file, a folder of images or an .npz file")


def read_npz_images(path: Path, key: str = "x") -> torch.Tensor:
    """Array ``key`` of an .npz as float32 (N, C, H, W); its values are checked by the translator."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if key not in f.files:
                raise DataError(f"'{path}' has no array '{key}'; available: {', '.join(f.files) or 'none'}")
            x = f[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"could not read '{path}' as .npz: {err}") from None
    if x.ndim != 4 or not np.issubdtype(x.dtype, np.number):
        raise DataError(f"array '{key}' in '{path}' must be numeric (N, C, H, W) images, got shape {x.shape}")
    return torch.from_numpy(np.asarray(x, dtype=np.float32))


def _picture(image: torch.Tensor) -> Image.Image:
    from ganforge.utils.images import to_uint8

    pixels = to_uint8(image[None])[0]
    return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels[..., :3])


def plan_outputs(out: str | Path, names: list[str], force: bool) -> list[Path] | Path:
    """Where the translations go: one ``.npz``, one image file, or one file per name in a folder.

    Checked before any work, so nothing is written unless all of it can be: an existing output is
    an error without ``force``.
    """
    o = Path(out)
    suffix = o.suffix.lower()
    if suffix == ".npz" or suffix in IMAGE_SUFFIXES:
        if suffix != ".npz" and len(names) != 1:
            raise ConfigError(
                f"-o '{out}' names one image file, but there are {len(names)} translations;"
                " give a folder or an .npz file"
            )
        if o.exists() and not force:
            raise ConfigError(f"output '{out}' exists; pass --force to replace it")
        return o
    if o.exists() and not o.is_dir():
        raise ConfigError(f"output '{out}' exists and is not a folder")
    paths = [o / n for n in names]
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise ConfigError(
            f"{len(existing)} output file(s) exist in '{out}' (e.g. {existing[0].name});"
            " pass --force to replace them"
        )
    return paths


def write_outputs(target: list[Path] | Path, y: torch.Tensor) -> None:
    if isinstance(target, list):
        for path, image in zip(target, y, strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda tmp, im=image: _picture(im).save(tmp, format="PNG"))
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix.lower() == ".npz":
        arrays = {"x": y.numpy().astype(np.float32)}
        atomic_write(target, lambda tmp: _savez(tmp, arrays))
    else:
        fmt = Image.registered_extensions()[target.suffix.lower()]
        atomic_write(target, lambda tmp: _picture(y[0]).save(tmp, format=fmt))


def _savez(tmp: Path, arrays: dict[str, np.ndarray]) -> None:
    with Path(tmp).open("wb") as fh:  # a file object: np.savez would append ".npz" to a path
        np.savez(fh, **arrays)


def cmd_translate(args: argparse.Namespace) -> int:
    from ganforge.api import load_translator

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be positive, got {args.batch_size}")
    handle = load_translator(args.run, ema=not args.no_ema, device=args.device)
    c, h, _ = handle.input_shape(args.direction)
    x, names = read_inputs(args.input, h, c)
    target = plan_outputs(args.output, names, args.force)
    y = handle.translate(x, direction=args.direction, batch_size=args.batch_size)
    write_outputs(target, y)
    print(f"translated {len(y)} image(s) {args.direction} -> {args.output}")
    return 0


def add_translate_parser(sub: Any) -> None:
    p = sub.add_parser(
        "translate",
        help="translate images with a trained pix2pix or CycleGAN run",
        description="Translate images with a trained image-to-image run (pix2pix: AtoB; CycleGAN: both"
        " directions). IN and OUT may be an image file, a folder of images, or an .npz with x (N, C, H, W)"
        " in [-1, 1].",
    )
    p.add_argument("run", help="run directory")
    p.add_argument("input", help="image file, folder of images, or .npz with x (N, C, H, W) in [-1, 1]")
    p.add_argument("-o", "--output", required=True, help="image file (one input only), folder, or .npz")
    p.add_argument("--direction", choices=["AtoB", "BtoA"], default="AtoB", help="default AtoB")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator instead of its EMA")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.set_defaults(func=cmd_translate)


__all__ = ["add_translate_parser", "cmd_translate", "read_inputs"]
