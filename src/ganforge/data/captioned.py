"""``captioned_digits``: procedural 64x64 RGB scenes of one MNIST digit, each with a caption (issue 21).

Why procedural: text-to-image needs captions whose every word can be checked on the picture, and
combinations a model never saw. A scene is a black 64x64 canvas holding one MNIST digit (the
``train`` split of ``mnist_split_indices`` for training, ``test`` for evaluation: the split of
``configs/i2i/*``) with four attributes:

* ``digit``: the MNIST label, 0-9;
* ``colour``: one of ``COLOURS`` (in that order); ink = MNIST intensity x colour;
* ``size``: the digit's 28x28 box scaled to 20 px (small) or 36 px (large);
* ``position``: the box's centre at one of ``ANCHORS`` (centre, top-left, top-right, bottom-left,
  bottom-right).

**Held-out compositions**: the ten (digit, colour) pairs with ``colour index == digit % 6``
(0-red, 1-green, ..., 6-red, 7-green, 8-blue, 9-yellow) never occur in the ``train`` split (its
colours are drawn among the other five); the ``test`` split draws all six, so it holds both.

**The generator and its seed**: ``numpy.random.default_rng([seed, split code, scenes_per_digit])``
(``seed`` = ``data.seed``, default 0) draws, for each of the split's digits in order and for each
of its ``scenes_per_digit`` renderings: the colour, size, position, the caption's template, which
attributes it omits (each of colour, size and position with probability ``omit``; the digit is
always named) and its word choices (synonyms, numeral or number word). Renderings are stored as
uint8 and cached per process and on disk (``cache_dir()/captioned_digits_*.npz``); building 8,000
scenes takes about a second.

Per sample the dataset keeps ``attrs`` (N, 4) int64 (digit, colour, size, position), ``mentions``
(N, 4) bool (which of them the caption names) and the caption string; its batches carry ``text``,
the caption's sentence embedding from the configured encoder (``data.encoder``; ``ganforge.text``),
and ``attrs``.
"""

from __future__ import annotations

import contextlib
import functools
import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.base import ArrayDataset
from ganforge.data.embedded import _mnist_raw, mnist_split_indices
from ganforge.errors import ConfigError
from ganforge.registry import register_dataset, register_text_encoder
from ganforge.text.encoders import HashEncoder, text_encoder
from ganforge.utils.io import atomic_write_npz, cache_dir

CANVAS = 64
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (60, 90, 255),
    "yellow": (240, 220, 40),
    "magenta": (220, 60, 220),
    "cyan": (40, 210, 220),
}
SIZES: dict[str, int] = {"small": 20, "large": 36}
ANCHORS: dict[str, tuple[int, int]] = {  # (x, y) of the box centre
    "centre": (32, 32),
    "top-left": (18, 18),
    "top-right": (46, 18),
    "bottom-left": (18, 46),
    "bottom-right": (46, 46),
}
ATTRIBUTES = ("digit", "colour", "size", "position")
VALUES: dict[str, tuple[str, ...]] = {
    "digit": tuple(str(d) for d in range(10)),
    "colour": tuple(COLOURS),
    "size": tuple(SIZES),
    "position": tuple(ANCHORS),
}
SPLITS = ("train", "test")
VERSION = 1  # bump when rendering or captions change: the disk cache is keyed by it

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COLOUR_WORDS: dict[str, tuple[str, ...]] = {
    "red": ("red", "crimson"),
    "green": ("green", "emerald"),
    "blue": ("blue", "azure"),
    "yellow": ("yellow", "golden"),
    "magenta": ("magenta", "pink"),
    "cyan": ("cyan", "turquoise"),
}
SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "small": ("small", "little", "tiny"),
    "large": ("large", "big", "huge"),
}
# Position phrases: (the words naming the place, used as "in the ..." or as a heading).
POSITION_WORDS: dict[str, tuple[str, ...]] = {
    "centre": ("centre", "middle", "center"),
    "top-left": ("top left", "top-left corner", "upper left"),
    "top-right": ("top right", "top-right corner", "upper right"),
    "bottom-left": ("bottom left", "bottom-left corner", "lower left"),
    "bottom-right": ("bottom right", "bottom-right corner", "lower right"),
}
# Templates over slots that are "" when the caption omits the attribute (whitespace is tidied after).
TEMPLATES = (
    "a {size} {colour} {digit} {where}",
    "{heading} a {size} {digit}{colour_tail}",
    "the number {digit} {where}{colour_tail}{size_tail}",
    "{size} {colour} {digit}, {where}",
    "there is a {size} {colour} {digit} {where}",
)


def held_out(digit: int, colour: int) -> bool:
    """Whether (digit, colour index) is one of the ten compositions the train split never shows."""
    return colour == digit % len(COLOURS)


@dataclass(frozen=True)
class Scenes:
    """A rendered split: ``images`` (N, 64, 64, 3) uint8, ``attrs`` (N, 4) int64 in ``ATTRIBUTES``
    order, ``mentions`` (N, 4) bool, ``captions`` (N,) str."""

    images: np.ndarray
    attrs: np.ndarray
    mentions: np.ndarray
    captions: np.ndarray


def scaled_digits(images: np.ndarray, size: int) -> np.ndarray:
    """(N, 28, 28) uint8 MNIST digits -> (N, size, size) float32 intensities in [0, 1] (bilinear,
    antialiased: the whole 28x28 box is scaled, so the digit keeps its margin)."""
    x = torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]
    out = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return out[:, 0].clamp(0, 1).numpy()


def render(digits: np.ndarray, attrs: np.ndarray) -> np.ndarray:
    """Scenes (N, 64, 64, 3) uint8 from (N, 28, 28) digits and their (N, 4) attributes."""
    palette = np.array(list(COLOURS.values()), dtype=np.float32)
    anchors = list(ANCHORS.values())
    out = np.zeros((len(digits), CANVAS, CANVAS, 3), dtype=np.uint8)
    for s_index, size in enumerate(SIZES.values()):
        rows = np.flatnonzero(attrs[:, 2] == s_index)
        if len(rows) == 0:
            continue
        ink = scaled_digits(digits[rows], size)
        for row, intensity in zip(rows, ink, strict=True):
            cx, cy = anchors[attrs[row, 3]]
            top, left = cy - size // 2, cx - size // 2
            patch = intensity[:, :, None] * palette[attrs[row, 1]]
            out[row, top : top + size, left : left + size] = np.rint(patch).astype(np.uint8)
    return out


def caption(attrs: np.ndarray, mentions: np.ndarray, rng: np.random.Generator) -> str:
    """One caption for (digit, colour, size, position) naming the attributes ``mentions`` marks."""
    digit, colour, size, position = (VALUES[a][int(v)] for a, v in zip(ATTRIBUTES, attrs, strict=True))
    word = NUMBER_WORDS[int(digit)] if rng.random() < 0.5 else digit
    c = rng.choice(COLOUR_WORDS[colour]) if mentions[1] else ""
    s = rng.choice(SIZE_WORDS[size]) if mentions[2] else ""
    p = rng.choice(POSITION_WORDS[position]) if mentions[3] else ""
    slots = {
        "digit": word,
        "colour": c,
        "size": s,
        "where": f"in the {p}" if p else "",
        "heading": f"{p}:" if p else "",
        "colour_tail": f", coloured {c}" if c else "",
        "size_tail": f", {s}" if s else "",
    }
    text = TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(**slots)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s+,", ",", text).strip(" ,")


def canonical_caption(digit: int, colour: int, size: int, position: int) -> str:
    """The evaluation's form of a caption: every attribute named with its first word, the digit as a
    numeral ("a large red 7 in the top left")."""
    words = (COLOUR_WORDS[VALUES["colour"][colour]][0], SIZE_WORDS[VALUES["size"][size]][0])
    return f"a {words[1]} {words[0]} {digit} in the {POSITION_WORDS[VALUES['position'][position]][0]}"


def draw_attributes(labels: np.ndarray, split: str, rng: np.random.Generator) -> np.ndarray:
    """(N, 4) attributes for digits ``labels``: uniform colour (the train split: among the five that
    are not held out for that digit), size and position."""
    n, k = len(labels), len(COLOURS)
    colour = rng.integers(k - 1 if split == "train" else k, size=n)
    if split == "train":  # skip the held-out colour: indices >= digit % 6 move up by one
        colour = colour + (colour >= labels % k)
    size = rng.integers(len(SIZES), size=n)
    position = rng.integers(len(ANCHORS), size=n)
    return np.stack([labels, colour, size, position], axis=1).astype(np.int64)


def build_scenes(split: str, scenes_per_digit: int, seed: int, omit: float) -> Scenes:
    """Render a split (see the module docstring for the generator and its seed)."""
    idx = np.repeat(mnist_split_indices(split), scenes_per_digit)
    images, labels = _mnist_raw()
    rng = np.random.default_rng([seed, SPLITS.index(split), scenes_per_digit])
    attrs = draw_attributes(labels[idx].astype(np.int64), split, rng)
    mentions = np.ones((len(idx), 4), dtype=bool)
    mentions[:, 1:] = rng.random((len(idx), 3)) >= omit
    captions = np.array([caption(a, m, rng) for a, m in zip(attrs, mentions, strict=True)])
    return Scenes(render(images[idx], attrs), attrs, mentions, captions)


def parse_caption(text: str) -> dict[str, int | None]:
    """The attribute indices a caption states (None where it is silent), read back from the word
    tables above: what tests use to check that captions say what the scenes show."""
    t = " " + re.sub(r"[^a-z0-9 ]", " ", text.lower().replace("-", " ")) + " "
    found: dict[str, int | None] = dict.fromkeys(ATTRIBUTES)
    for d, word in enumerate(NUMBER_WORDS):
        if f" {word} " in t or f" {d} " in t:
            found["digit"] = d
    tables = {"colour": COLOUR_WORDS, "size": SIZE_WORDS, "position": POSITION_WORDS}
    for attr, table in tables.items():
        for index, words in enumerate(table.values()):
            if any(f" {w.replace('-', ' ')} " in t for w in words):
                found[attr] = index
    return found


class AttributeOracle(HashEncoder):
    """Encoder ``attributes``: the caption's attributes as read by ``parse_caption``, one-hot per
    attribute (10 + 6 + 2 + 5 = 23-d; zeros for one the caption omits). An oracle that needs no
    language, for the benchmark's upper baseline: a text model should come within a few points of
    the same generator conditioned on it. It reads only this dataset's vocabulary."""

    def __init__(self) -> None:
        super().__init__(dim=sum(len(v) for v in VALUES.values()))
        self.cache_key = "attributes"

    def embed(self, prompts: list[str]) -> np.ndarray:
        out = np.zeros((len(prompts), self.dim), dtype=np.float32)
        offsets = np.cumsum([0, *(len(VALUES[a]) for a in ATTRIBUTES)])
        for row, prompt in enumerate(prompts):
            for j, value in enumerate(parse_caption(prompt).values()):
                if value is not None:
                    out[row, offsets[j] + value] = 1.0
        return out


@register_text_encoder(
    "attributes", description="oracle: the caption's parsed attributes one-hot, 23-d (no language)"
)
def attribute_oracle() -> AttributeOracle:
    return AttributeOracle()


def check_options(split: str, scenes_per_digit: int, omit: float) -> None:
    if split not in SPLITS:
        raise ConfigError(f"data.split must be one of {', '.join(SPLITS)}, got {split!r}")
    if isinstance(scenes_per_digit, bool) or not isinstance(scenes_per_digit, int) or scenes_per_digit < 1:
        raise ConfigError(f"data.scenes_per_digit must be a positive integer, got {scenes_per_digit!r}")
    if not 0.0 <= omit < 1.0:
        raise ConfigError(f"data.omit must be a probability in [0, 1), got {omit!r}")


@functools.lru_cache(maxsize=4)
def scenes(split: str = "train", scenes_per_digit: int = 2, seed: int = 0, omit: float = 0.15) -> Scenes:
    """A split's scenes, cached in the process and as a plain ``.npz`` (no pickle) on disk."""
    check_options(split, scenes_per_digit, omit)
    path = cache_dir() / f"captioned_digits_v{VERSION}_{split}_{scenes_per_digit}_{seed}_{omit:g}.npz"
    if path.is_file():
        with contextlib.suppress(OSError, ValueError, KeyError), np.load(path, allow_pickle=False) as f:
            return Scenes(f["images"], f["attrs"], f["mentions"], f["captions"])
    built = build_scenes(split, scenes_per_digit, seed, omit)
    with contextlib.suppress(OSError):  # a read-only home: build again next time
        atomic_write_npz(path, {k: getattr(built, k) for k in ("images", "attrs", "mentions", "captions")})
    return built


def scene_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, 64, 64, 3) uint8 -> (N, 3, 64, 64) float32 in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()


@register_dataset(
    "captioned_digits",
    native_resolution=CANVAS,
    channels=3,
    tiny={"encoder": "hash", "scenes_per_digit": 1},
    description="64x64 RGB scenes of one MNIST digit, captioned (colour, size, position); 10 held-out pairs",
)
def captioned_digits(
    split: str = "train",
    scenes_per_digit: int = 2,
    seed: int = 0,
    omit: float = 0.15,
    encoder: str = "minilm",
) -> ArrayDataset:
    """Scenes as (N, 3, 64, 64) in [-1, 1]; batches carry ``text`` (the caption's embedding by
    ``encoder``, a ``ganforge.text`` encoder name or ``sentence-transformers:PATH``) and ``attrs``.
    The encoder is recorded in the checkpoint's ``info``, so a trained model encodes prompts as it
    was trained."""
    data = scenes(split, scenes_per_digit, seed, float(omit))
    enc = text_encoder(encoder)
    text = enc.encode([str(c) for c in data.captions])
    return ArrayDataset(
        x=scene_tensor(data.images),
        name="captioned_digits",
        extras={"text": text, "attrs": torch.from_numpy(data.attrs.copy())},
        model_inputs={"text_dim": enc.dim},
        info={"text_encoder": encoder},
    )
