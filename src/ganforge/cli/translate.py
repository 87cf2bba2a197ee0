"""Run a trained image-to-image model on the user's images: ``translate``, ``upscale``, ``inpaint``, ``edit``.

* ``ganforge translate RUN IN -o OUT [--direction AtoB|BtoA]``: pix2pix, CycleGAN;
* ``ganforge upscale RUN IN -o OUT``: a super-resolution run (its input side is smaller than its output's);
* ``ganforge inpaint RUN IN --mask MASK -o OUT``: an inpainting run; MASK is an image (white = missing)
  or an ``.npz`` whose ``mask`` holds (N or 1, 1, H, W), 1 = missing; one mask serves every image;
* ``ganforge edit RUN IN --attr VALUE -o OUT``: an attribute-editing run, VALUE the target attribute
  (comma-separated for several).

All four are one code path (``run_translator``): the run's translator says what it needs
(``TranslatorHandle.conditions``), each command supplies it. IN and OUT may each be an image file, a
folder of images, or an ``.npz`` whose ``x`` holds (N, C, H, W) images in [-1, 1]. Image files are
read as the ``folder`` dataset reads them (centre-cropped, resized to the training size, converted to
the model's channel count); arrays from an ``.npz`` are taken as they are and must already have the
model's shape. Everything is read and translated before anything is written, every file is written
atomically, and existing outputs are never replaced without ``--force``: a bad input leaves the disk
as it was.
"""

from __future__ import annotations

import argparse
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ganforge.cli.common import add_command
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


def read_mask(path: str | Path, side: int) -> torch.Tensor:
    """(M, 1, side, side) mask, 1 = missing, from an image (grey > ½ = missing; resized with
    nearest, so it stays binary) or an ``.npz`` with ``mask`` (taken as is: its size must match)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"mask '{path}' does not exist or is not a file")
    if p.suffix.lower() == ".npz":
        return read_npz_images(p, key="mask")
    if p.suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(f"mask '{path}' must be an image file or an .npz with 'mask'")
    try:
        with Image.open(p) as im:
            grey = im.convert("L").resize((side, side), Image.Resampling.NEAREST)
    except (OSError, ValueError) as err:
        raise DataError(f"could not read mask '{path}': {err}") from None
    return torch.from_numpy((np.asarray(grey) > 127).astype(np.float32))[None, None]


def parse_attr(text: str) -> torch.Tensor:
    """``"2.5"`` or ``"1,0.5"`` -> a (1, K) target attribute row."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--attr must be numbers separated by commas, got {text!r}") from None
    if not values or not all(np.isfinite(values)):
        raise ConfigError(f"--attr must be finite numbers, got {text!r}")
    return torch.tensor([values], dtype=torch.float32)


def run_translator(
    args: argparse.Namespace,
    direction: str = "AtoB",
    verb: str = "translated",
    check: Callable[[Any], None] | None = None,
    **conditions: Callable[[int], torch.Tensor],
) -> int:
    """Load the run (``check`` may refuse it), read IN, plan OUT (refusing to overwrite), translate,
    then write: the shared body of every image-to-image command. ``conditions`` maps a condition's
    name to a function of the input side that makes it."""
    from ganforge.api import load_translator

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be positive, got {args.batch_size}")
    handle = load_translator(args.run, ema=not args.no_ema, device=args.device)
    if check is not None:
        check(handle)
    c, h, _ = handle.input_shape(direction)
    x, names = read_inputs(args.input, h, c)
    target = plan_outputs(args.output, names, args.force)
    given = {name: make(h) for name, make in conditions.items()}
    y = handle.translate(x, direction=direction, batch_size=args.batch_size, **given)
    write_outputs(target, y)
    print(f"{verb} {len(y)} image(s){' ' + direction if verb == 'translated' else ''} -> {args.output}")
    return 0


def _requires(condition: str, command: str) -> Callable[[Any], None]:
    kind = {"mask": "an inpainting", "attr": "an attribute-editing"}[condition]

    def check(handle: Any) -> None:
        if condition not in handle.conditions:
            raise ConfigError(f"'ganforge {command}' needs {kind} run; this run's model takes no {condition}")

    return check


def _is_super_resolution(handle: Any) -> None:
    (_, h_in, _), (_, h_out, _) = handle.input_shape("AtoB"), handle.generator.out_shape
    if h_out <= h_in:
        raise ConfigError(
            f"'ganforge upscale' needs a super-resolution run; this one maps {h_in}px to {h_out}px images"
        )


def cmd_translate(args: argparse.Namespace) -> int:
    """translate images with a trained pix2pix or CycleGAN run

    Translate images with a trained image-to-image run (pix2pix: AtoB; CycleGAN: both directions).
    IN and OUT may be an image file, a folder of images, or an .npz with x (N, C, H, W) in [-1, 1].
    """
    return run_translator(args, direction=args.direction, verb="translated")


def cmd_upscale(args: argparse.Namespace) -> int:
    """super-resolve images with a trained SR run

    Upscale images with a trained super-resolution run (e.g. restore/sr4x_digits). Image files are
    resized to the run's input size first; an .npz must already have it.
    """
    return run_translator(args, verb="upscaled", check=_is_super_resolution)


def cmd_inpaint(args: argparse.Namespace) -> int:
    """fill the masked pixels of images with a trained inpainting run

    Inpaint images with a trained inpainting run. MASK: an image (white = missing) or an .npz whose
    'mask' holds (N or 1, 1, H, W) with 1 = missing; one mask is used for every image. Known pixels
    are returned unchanged.
    """
    return run_translator(
        args,
        verb="inpainted",
        check=_requires("mask", "inpaint"),
        mask=lambda side: read_mask(args.mask, side),
    )


def cmd_edit(args: argparse.Namespace) -> int:
    """set an attribute of images with a trained attribute-editing run

    Edit images with a trained attribute-editing run (e.g. i2i/thickness_edit): VALUE is the target
    attribute on the run's scale (see docs/attribute_editing.md); several attributes are
    comma-separated.
    """
    attr = parse_attr(args.attr)
    return run_translator(args, verb="edited", check=_requires("attr", "edit"), attr=lambda side: attr)


def _image_command(sub: Any, name: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """The parser of image-to-image command ``name`` (worded by ``func``'s docstring) with the
    arguments all four share."""
    p = add_command(sub, name, func)
    p.add_argument("run", help="run directory")
    p.add_argument("input", help="image file, folder of images, or .npz with x (N, C, H, W) in [-1, 1]")
    p.add_argument("-o", "--output", required=True, help="image file (one input only), folder, or .npz")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator instead of its EMA")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    return p


def add_translate_parser(sub: Any) -> None:
    """``translate``, ``upscale``, ``inpaint`` and ``edit``."""
    p = _image_command(sub, "translate", cmd_translate)
    p.add_argument("--direction", choices=["AtoB", "BtoA"], default="AtoB", help="default AtoB")
    _image_command(sub, "upscale", cmd_upscale)
    p = _image_command(sub, "inpaint", cmd_inpaint)
    p.add_argument("--mask", required=True, help="mask image (white = missing) or .npz with 'mask'")
    p = _image_command(sub, "edit", cmd_edit)
    p.add_argument("--attr", required=True, help="target attribute value(s), e.g. 2.5 or 1,0.5")


__all__ = ["add_translate_parser", "read_inputs", "read_mask", "run_translator"]
