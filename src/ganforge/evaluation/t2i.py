"""Does the image say what the prompt says? Attribute accuracy of a text-to-image run (issue 21).

A fixed list of 20 prompts, two per digit, each naming all four attributes in the canonical form
(``captioned.canonical_caption``): one **held-out** composition per digit (its colour is
``digit % 6``, never seen with that digit in training) and one **seen** one (colour
``(digit + 3) % 6``); sizes and positions vary with the digit so every value occurs. ``n`` samples
per prompt (seed ``seed``) are read by ``metrics.scene_attributes.read_attributes``; the result
holds per-attribute accuracy and the all-attributes-correct rate, for seen and held-out prompts apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ganforge.data.captioned import ATTRIBUTES, canonical_caption, held_out
from ganforge.metrics.scene_attributes import accuracy_by_attribute, read_attributes

COLOUR_COUNT = 6


def eval_compositions() -> list[tuple[int, int, int, int]]:
    """The 20 (digit, colour, size, position) compositions: per digit the held-out one, then a seen one."""
    out = []
    for d in range(10):
        out.append((d, d % COLOUR_COUNT, d % 2, d % 5))
        out.append((d, (d + 3) % COLOUR_COUNT, (d + 1) % 2, (d + 2) % 5))
    return out


def eval_prompts() -> list[str]:
    """The fixed prompt list, in ``eval_compositions`` order."""
    return [canonical_caption(*c) for c in eval_compositions()]


def attribute_accuracy(handle: Any, n: int = 20, seed: int = 0, classifier: Any = None) -> dict[str, Any]:
    """``{"seen": {...}, "held_out": {...}}``, each per attribute (``digit``, ``colour``, ``size``,
    ``position``) and ``all``, over ``n`` samples of each fixed prompt from ``handle`` (a
    ``TextHandle``); ``read`` counts how many images were read."""
    x = handle.sample(n, eval_prompts(), seed=seed)
    result: dict[str, Any] = {"prompts": len(eval_compositions()), "n_per_prompt": n, "seed": seed}
    return {**result, **score_prompt_samples(x, n, classifier), "attributes": list(ATTRIBUTES)}


def score_prompt_samples(x: torch.Tensor, n: int, classifier: Any = None) -> dict[str, dict[str, float]]:
    """``seen`` and ``held_out`` accuracies of images ``x`` holding ``n`` per fixed prompt, in prompt
    order (a generator's samples, or a baseline's answers: retrieved training scenes)."""
    wanted = np.repeat(np.array(eval_compositions()), n, axis=0)
    read = read_attributes(x, classifier).numpy()
    unseen = np.array([held_out(d, c) for d, c in wanted[:, :2]])
    stated = np.ones_like(wanted, dtype=bool)
    groups = (("seen", ~unseen), ("held_out", unseen))
    return {name: accuracy_by_attribute(read[rows], wanted[rows], stated[rows]) for name, rows in groups}
