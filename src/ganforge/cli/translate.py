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
read at their own size (converted to the model's channel count) and come back at it (times the
model's scale: a 300×200 photo upscaled 4× is 1200×800), run whole by the fully convolutional
network or, with ``--tile T``, by overlapping T-pixel tiles blended without seams
(``TranslatorHandle.translate_any``, ``tasks/tiling.py``); ``--resize`` centre-crops and resizes
them to the training size instead, as the ``folder`` dataset reads them. Arrays from an ``.npz``
are taken as they are and must already have the model's shape. A mask must have its image's size
(``--resize`` resizes it with the images). Everything is read and translated before anything is
written, every file is written atomically, and existing outputs are never replaced without
``--force``: a bad input leaves the disk as it was.
"""

from __future__ import annotations

import argparse
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from ganforge.cli.common import add_command
from ganforge.errors import ConfigError, DataError
from ganforge.utils.io import atomic_write, atomic_write_npz

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")
SIZES_HELP = (
    "Sizes: image files are read and returned at their own size (times the run's scale), never"
    " shrunk to the training size. A fully convolutional generator runs on the whole image,"
    " reflect-padded to a multiple of its stride and cropped back; --tile T runs overlapping T-pixel"
    " tiles instead, blended with smooth weights so no seam shows. A generator that takes its"
    " training size only (or reads the whole image through fully connected layers) runs on tiles of"
    " its training size; the report line says how the images were run. --resize restores the old"
    " behaviour (centre-crop and resize to the training size). An .npz must hold the training size."
)


def read_inputs(
    path: str | Path, channels: int, side: int | None = None
) -> tuple[list[torch.Tensor], list[str]]:
    """(images (C, H, W) in [-1, 1], output file names) from an image, a folder or an .npz.

    Image files are read at their own size, or with ``side`` centre-cropped and resized to
    ``side``×``side`` (as the ``folder`` dataset reads them); .npz arrays are taken as they are."""
    from ganforge.data.files import _list_images

    p = Path(path)
    if not p.exists():
        raise DataError(f"input '{path}' does not exist")
    if p.is_dir():
        files = _list_images(p, recursive=True)
        if not files:
            raise DataError(f"no images found in '{path}'")
        names = [str(f.relative_to(p).with_suffix(".png")) for f in files]
        return [read_image(f, channels, side) for f in files], names
    if p.suffix.lower() == ".npz":
        x = read_npz_images(p)
        return list(x), [f"{i:05d}.png" for i in range(len(x))]
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return [read_image(p, channels, side)], [p.with_suffix(".png").name]
    raise DataError(f"input '{path}' must be an image file, a folder of images or an .npz file")


def read_image(path: Path, channels: int, side: int | None = None) -> torch.Tensor:
    """(C, H, W) in [-1, 1]: the file at its own size (EXIF rotation applied, alpha dropped,
    colour to luma for a 1-channel model), or with ``side`` centre-cropped and resized to it."""
    from ganforge.data.decode import rgb_to_unit
    from ganforge.data.paired import read_rgb

    if side is not None:
        return rgb_to_unit(read_rgb(path, side)[None], channels)[0]
    try:
        with Image.open(path) as im:
            rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"could not read image '{path}': {err}") from None
    return rgb_to_unit(rgb[None], channels)[0]


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
    from ganforge.utils.images import picture, to_uint8

    return picture(to_uint8(image[None])[0])


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


def write_outputs(target: list[Path] | Path, ys: list[torch.Tensor]) -> None:
    """Write the translations ``ys`` (C, H, W) where ``plan_outputs`` said; one .npz needs one size."""
    if isinstance(target, list):
        for path, image in zip(target, ys, strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda tmp, im=image: _picture(im).save(tmp, format="PNG"))
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix.lower() == ".npz":
        arrays = {"x": torch.stack(ys).numpy().astype(np.float32)}
        atomic_write_npz(target, arrays)
    else:
        fmt = Image.registered_extensions()[target.suffix.lower()]
        atomic_write(target, lambda tmp: _picture(ys[0]).save(tmp, format=fmt))


def read_mask(path: str | Path, side: int | None = None) -> torch.Tensor:
    """(M, 1, H, W) mask, 1 = missing, from an image at its own size (grey > ½ = missing; with
    ``side`` resized to ``side``×``side`` with nearest, so it stays binary) or an ``.npz`` with
    ``mask`` (taken as is). Its size must match the images' (checked by ``run_translator``)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"mask '{path}' does not exist or is not a file")
    if p.suffix.lower() == ".npz":
        return read_npz_images(p, key="mask")
    if p.suffix.lower() not in IMAGE_SUFFIXES:
        raise DataError(f"mask '{path}' must be an image file or an .npz with 'mask'")
    try:
        with Image.open(p) as im:
            grey = ImageOps.exif_transpose(im).convert("L")
            if side is not None:
                grey = grey.resize((side, side), Image.Resampling.NEAREST)
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"could not read mask '{path}': {err}") from None
    return torch.from_numpy((np.asarray(grey) > 127).astype(np.float32))[None, None]


def run_translator(
    args: argparse.Namespace,
    direction: str = "AtoB",
    verb: str = "translated",
    check: Callable[[Any], None] | None = None,
    **conditions: Callable[[int | None], torch.Tensor],
) -> int:
    """Load the run (``check`` may refuse it), read IN, plan OUT (refusing to overwrite), translate
    each size of image in turn, then write: the shared body of every image-to-image command.
    ``conditions`` maps a condition's name to a function of the resize side (None: images keep
    their own size) that makes it."""
    from ganforge.api import load_translator

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be positive, got {args.batch_size}")
    if args.tile < 0:
        raise ConfigError(f"--tile must be a number of pixels (0: whole images), got {args.tile}")
    handle = load_translator(args.run, ema=not args.no_ema, device=args.device)
    if check is not None:
        check(handle)
    c, h, w = handle.input_shape(direction)
    resize = h if args.resize else None
    images, names = read_inputs(args.input, c, resize)
    if Path(args.input).suffix.lower() == ".npz" and tuple(images[0].shape[-2:]) != (h, w):
        got = images[0].shape
        raise DataError(
            f"this translator takes {h}x{w} images from an .npz, got {got[-2]}x{got[-1]}"
            " (image files are read at any size)"
        )
    target = plan_outputs(args.output, names, args.force)
    groups = _same_size_groups(images)
    if not isinstance(target, list) and target.suffix.lower() == ".npz" and len(groups) > 1:
        raise ConfigError(
            f"-o '{args.output}' is one .npz, but the images come in {len(groups)} sizes;"
            " give a folder (or --resize)"
        )
    given = {name: make(resize) for name, make in conditions.items()}
    ys: list[torch.Tensor] = [torch.empty(0)] * len(images)
    how = f"resized to {h}x{w}" if resize else f"at the training size {h}x{w}"
    for idx in groups:
        x = torch.stack([images[i] for i in idx])
        cond = {k: _condition_rows(k, v, idx, names, tuple(x.shape[-2:])) for k, v in given.items()}
        if args.tile or tuple(x.shape[-2:]) != (h, w):
            plan = handle.size_plan(x[:1], direction, **{k: v[:1] for k, v in cond.items()})
            how = plan.describe(args.tile, args.tile_overlap)
        y = handle.translate_any(
            x, direction, args.batch_size, tile=args.tile, overlap=args.tile_overlap, **cond
        )
        for i, image in zip(idx, y, strict=True):
            ys[i] = image
    write_outputs(target, ys)
    print(
        f"{verb} {len(ys)} image(s){' ' + direction if verb == 'translated' else ''} {how} -> {args.output}"
    )
    return 0


def _same_size_groups(images: list[torch.Tensor]) -> list[list[int]]:
    """Indices of the images of each size, in order of first appearance: one batch per size."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault(tuple(image.shape), []).append(i)
    return list(groups.values())


def _condition_rows(
    name: str, value: torch.Tensor, idx: list[int], names: list[str], size: tuple[int, ...]
) -> torch.Tensor:
    """The rows of condition ``value`` for images ``idx`` of ``size`` (H, W) among ``names``
    (one row serves every image), checking that a spatial one (a mask) has their size."""
    n = len(names)
    if len(value) not in (1, n):
        raise DataError(f"the {name} holds {len(value)} rows for {n} image(s); give 1 or {n}")
    if value.ndim == 4 and tuple(value.shape[-2:]) != tuple(size):
        raise DataError(
            f"the {name} is {value.shape[-1]}x{value.shape[-2]} pixels (width x height) but image"
            f" '{names[idx[0]]}' is {size[1]}x{size[0]}: a {name} must be the size of its image"
        )
    return value[idx] if len(value) == n and n > 1 else value


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
    Image files are translated at their own size (a 301x199 photo comes back 301x199), the whole
    image at once by the fully convolutional generator, or in overlapping tiles with --tile.
    """
    return run_translator(args, direction=args.direction, verb="translated")


def cmd_upscale(args: argparse.Namespace) -> int:
    """super-resolve images with a trained SR run

    Upscale images with a trained super-resolution run (e.g. restore/sr4x_patches). Image files
    are upscaled from their own size by the run's factor (a 300x200 photo from a 4x run comes back
    1200x800), the whole image at once by the fully convolutional generator, or in overlapping
    tiles with --tile; an .npz must hold the run's input size.
    """
    return run_translator(args, verb="upscaled", check=_is_super_resolution)


def cmd_inpaint(args: argparse.Namespace) -> int:
    """fill the masked pixels of images with a trained inpainting run

    Inpaint images with a trained inpainting run. MASK: an image (white = missing) or an .npz whose
    'mask' holds (N or 1, 1, H, W) with 1 = missing; one mask is used for every image and must be
    its size. Images are filled at their own size, whole by the fully convolutional generator or
    in overlapping tiles with --tile (a generator whose fully connected layers read the whole
    image, such as a class head, runs on tiles of its training size). Known pixels are returned
    unchanged.
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
    comma-separated. Image files are edited at their own size, whole or in overlapping tiles with
    --tile.
    """
    from ganforge.models.translation import parse_attr

    attr = parse_attr(args.attr)
    return run_translator(args, verb="edited", check=_requires("attr", "edit"), attr=lambda side: attr)


def _image_command(sub: Any, name: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """The parser of image-to-image command ``name`` (worded by ``func``'s docstring) with the
    arguments all four share."""
    p = add_command(sub, name, func, epilog=SIZES_HELP)
    p.add_argument("run", help="run directory")
    p.add_argument("input", help="image file, folder of images, or .npz with x (N, C, H, W) in [-1, 1]")
    p.add_argument("-o", "--output", required=True, help="image file (one input only), folder, or .npz")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator instead of its EMA")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    p.add_argument(
        "--tile",
        type=int,
        default=0,
        metavar="T",
        help="run T x T pixel tiles (rounded down to the network's stride), blended without seams;"
        " bounds memory (default 0: the whole image at once)",
    )
    p.add_argument(
        "--tile-overlap", type=int, default=None, metavar="PX", help="tile overlap in pixels (default T/4)"
    )
    p.add_argument(
        "--resize",
        action="store_true",
        help="centre-crop and resize image files (and a mask image) to the training size first",
    )
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
