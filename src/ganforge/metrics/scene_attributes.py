"""Reading a ``captioned_digits`` scene's four attributes back off its pixels (issue 21's protocol).

Why readers and not a trained attribute classifier: each attribute has a definition on the canvas
(``data/captioned.py``), so it is measured by that definition, and the same code reads real and
generated scenes alike. On a scene (3, 64, 64) in [-1, 1]:

* **ink**: pixels whose brightest channel exceeds ``INK_THRESHOLD`` (ink = MNIST intensity x colour,
  and every palette colour has a channel of at least 220/255); the **box** is the ink's bounding box.
* **size**: small or large by the box's longer side against ``SIZE_THRESHOLD`` px. MNIST scales
  every digit's longer side to 20 of its 28 px, so a 20 px digit box holds about 14 px of ink and a
  36 px one about 26 px; the height alone would read a short, wide large digit (a flat 2, a 4
  whose top is cut) as small: on the test scenes heights of the two sizes overlap at 15 px.
* **position**: the anchor nearest the box's centre.
* **colour**: the palette entry nearest in direction (cosine) to the ink's mean colour, so the
  intensity of the strokes does not matter.
* **digit**: ``mnist-cnn`` on the crop around the ink, framed as MNIST frames its digits (a
  square of 28/20 of the box's longer side, centred on the box, resized to 28 px and padded to 32),
  in grey: the brightest channel divided by the read colour's brightest channel.

A scene without ink reads digit -1, colour -1, size 0 and position 0 (wrong on any prompt that
names them). ``tests/metrics/test_scene_attributes.py`` checks the readers on real test scenes.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.captioned import ANCHORS, ATTRIBUTES, COLOURS
from ganforge.errors import EvalError
from ganforge.metrics.features import create_extractor

INK_THRESHOLD = 0.25
SIZE_THRESHOLD = 20.0
MNIST_BOX = 28 / 20  # MNIST fits each digit in a 20 px box inside its 28 px frame


def ink_strength(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W) brightest channel in [0, 1]."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise EvalError(f"scene readers need (N, 3, H, W) images in [-1, 1], got shape {tuple(x.shape)}")
    return ((x.detach().float().cpu() + 1) / 2).clamp(0, 1).amax(dim=1)


def ink_boxes(strength: torch.Tensor) -> torch.Tensor:
    """(N, 4) float boxes (top, left, bottom, right), inclusive; rows of -1 where there is no ink."""
    mask = strength > INK_THRESHOLD
    boxes = torch.full((len(mask), 4), -1.0)
    for i, m in enumerate(mask):
        rows, cols = torch.nonzero(m.any(1)).flatten(), torch.nonzero(m.any(0)).flatten()
        if len(rows):
            boxes[i] = torch.tensor([rows[0], cols[0], rows[-1], cols[-1]], dtype=torch.float32)
    return boxes


def read_colour(x: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
    """(N,) palette index nearest in direction to the mean ink colour; -1 without ink."""
    rgb = ((x.detach().float().cpu() + 1) / 2).clamp(0, 1)
    mask = (strength > INK_THRESHOLD).float()[:, None]
    mean = (rgb * mask).sum((2, 3)) / mask.sum((2, 3)).clamp(min=1)
    palette = torch.tensor(list(COLOURS.values()), dtype=torch.float32)
    cosine = F.normalize(mean, dim=1) @ F.normalize(palette, dim=1).T
    return torch.where(mask.sum((1, 2, 3)) > 0, cosine.argmax(1), -1)


def digit_crops(strength: torch.Tensor, boxes: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """(N, 1, 28, 28) grey crops in [-1, 1] around each box, framed as MNIST (module docstring)."""
    palette_max = torch.tensor([max(c) / 255 for c in COLOURS.values()])
    scale = torch.where(colour >= 0, palette_max[colour.clamp(min=0)], torch.ones(len(colour)))
    grey = (strength / scale[:, None, None]).clamp(0, 1)
    size = strength.shape[-1]
    padded = F.pad(grey, (size, size, size, size))
    crops = torch.zeros(len(grey), 1, 28, 28)
    for i, (top, left, bottom, right) in enumerate(boxes.tolist()):
        if top < 0:
            continue
        side = max(bottom - top + 1, right - left + 1) * MNIST_BOX
        cy, cx = (top + bottom + 1) / 2 + size, (left + right + 1) / 2 + size
        t, lft = round(cy - side / 2), round(cx - side / 2)
        s = max(round(side), 1)
        patch = padded[i, t : t + s, lft : lft + s][None, None]
        crops[i] = F.interpolate(patch, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)[
            0
        ]
    return crops.clamp(0, 1) * 2 - 1


def read_attributes(x: torch.Tensor, classifier: torch.nn.Module | None = None) -> torch.Tensor:
    """(N, 4) int64 (digit, colour, size, position) read off scenes (N, 3, 64, 64) in [-1, 1];
    ``classifier`` defaults to the bundled ``mnist-cnn``."""
    strength = ink_strength(x)
    boxes = ink_boxes(strength)
    colour = read_colour(x, strength)
    extent = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) + 1
    size = (extent >= SIZE_THRESHOLD).long()
    centre = torch.stack([(boxes[:, 1] + boxes[:, 3] + 1) / 2, (boxes[:, 0] + boxes[:, 2] + 1) / 2], 1)
    anchors = torch.tensor(list(ANCHORS.values()), dtype=torch.float32)
    position = torch.cdist(centre, anchors).argmin(1)
    classifier = classifier if classifier is not None else create_extractor("mnist-cnn")
    logits = classifier.extract(digit_crops(strength, boxes, colour), progress=False)["logits"]
    digit = torch.where(boxes[:, 0] >= 0, logits.argmax(1), -1)
    no_ink = boxes[:, 0] < 0
    return torch.stack([digit, colour, size.masked_fill(no_ink, 0), position.masked_fill(no_ink, 0)], 1)


def accuracy_by_attribute(read: np.ndarray, wanted: np.ndarray, stated: np.ndarray) -> dict[str, float]:
    """Per attribute, the share of samples read as ``wanted`` among those whose prompt ``stated`` it;
    plus ``all``: the share with every stated attribute right (NaN where nothing was stated)."""
    right = (read == wanted) | ~stated
    out = {}
    for j, name in enumerate(ATTRIBUTES):
        out[name] = float(right[stated[:, j], j].mean()) if stated[:, j].any() else float("nan")
    out["all"] = float(right.all(1).mean())
    return out
