"""Differentiable augmentation of D's inputs, for training GANs on little data.

Kinds (``AUGMENTS``, a registry ``ganforge list`` can show):

- ``none``: identity.
- ``diffaug``: DiffAugment (Zhao et al. 2020), a fixed policy applied to every sample.
- ``ada``: the ADA pipeline (Karras et al. 2020) at a probability p that the overfitting heuristic
  adapts from D's outputs on reals.
- ``ada_fixed``: the ADA pipeline at a constant p (the paper's fixed-p baselines, Fig. 5).

How an objective uses one (``aug = build_augment(...)``), as in StyleGAN2-ADA's ``loss.py``:

1. Augment **both** real and fake images before **every** call of D: ``D(aug(real))`` and
   ``D(aug(fake))`` in the D phase, ``D(aug(fake))`` in the G phase (G's gradient flows through the
   augmentation, which is why every op is differentiable). R1 / R2 see D through the augmentation
   too, as in StyleGAN2-ADA's ``loss.py`` and DiffAugment's code: ``r = real.detach().requires_grad_();
   logits = D(aug(r)); penalty = |grad(logits.sum(), r)|^2`` (the gradient w.r.t. the un-augmented
   images, through the augmentation). Draw a fresh augmentation per call; never augment only the
   reals, which would teach G to produce augmented images. Augment per image, *before* PacGAN
   packing (packing stacks samples along channels, which the colour ops would mix).
2. Call ``aug.observe(real_logits)`` in every D step with D's logits on the augmented reals (a no-op
   except for ``ada``). ADA's speed counts ``len(real_logits)`` as images, so with packing (one
   logit per ``pac`` images) p moves ``pac`` times slower unless ``ada_kimg`` is divided by ``pac``.
3. Log ``aug.stats()`` (``aug_p``, ``ada_rt``) with the phase's statistics if wanted.
4. Checkpoint with ``aug.state_dict()`` / ``aug.load_state_dict()``: plain JSON-safe numbers (p and
   the controller's partial sums); prefix the keys (e.g. ``augment.p``) in the objective's state.

Every kind works on (N, C, H, W) images in any dtype and memory layout; ``diffaug`` / ``ada`` raise
``ConfigError`` on vector (N, D) data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch

from ganforge.augment.ada import AdaAugment, AdaController, AdaPipeline
from ganforge.augment.diffaugment import DiffAugment
from ganforge.augment.stateless import StatelessAugment
from ganforge.options import Options
from ganforge.registry import Registry


@runtime_checkable
class Augment(Protocol):
    """What ``build_augment`` returns and an objective relies on."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...
    @property
    def p(self) -> float: ...
    def observe(self, real_logits: torch.Tensor) -> None: ...
    def stats(self) -> dict[str, float]: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Identity(StatelessAugment):
    """Kind ``none``: images pass through untouched (the same tensor)."""

    kind = "none"
    p = 0.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x


AUGMENTS = Registry("augment")


@AUGMENTS.register("none", description="no augmentation")
def _build_none() -> Identity:
    return Identity()


@AUGMENTS.register("diffaug", description="DiffAugment (Zhao et al. 2020): color, translation, cutout")
def _build_diffaug(policy: str = "color,translation,cutout") -> DiffAugment:
    return DiffAugment(policy)


@AUGMENTS.register("ada", description="ADA (Karras et al. 2020): p adapted from sign(D(real))")
def _build_ada(
    policy: str = "bgc", p: float = 0.0, target: float = 0.6, ada_kimg: float = 500.0, interval: int = 4
) -> AdaAugment:
    return AdaAugment(AdaPipeline(policy), AdaController(target, ada_kimg, interval, p))


@AUGMENTS.register("ada_fixed", description="ADA's pipeline at a fixed probability p")
def _build_ada_fixed(policy: str = "bgc", p: float = 0.0) -> AdaAugment:
    return AdaAugment(AdaPipeline(policy), p=p)


def build_augment(kind: str = "none", **settings: Any) -> Augment:
    """The one door: an ``Augment`` of ``kind`` (``none``, ``diffaug``, ``ada``, ``ada_fixed``).

    ``settings`` are the kind builders' keywords: ``policy`` (None for the kind's default,
    ``"color,translation,cutout"`` for diffaug, ``"bgc"`` for ADA), ``p`` (ADA's initial or
    constant probability), ``target``, ``ada_kimg``, ``interval`` (the ADA controller: r_t target,
    thousands of images for p to move by 1, D steps per update). Settings a kind does not use are
    ignored, so an objective can pass all of its options whatever the kind. An unknown kind is a
    ``RegistryError`` (a ConfigError).
    """
    unknown = set(settings) - SETTINGS
    if unknown:
        raise TypeError(f"build_augment() got unknown settings {sorted(unknown)}; known: {sorted(SETTINGS)}")
    entry = AUGMENTS.get(kind)
    accepted = entry.parameters()
    return entry.builder(**{k: v for k, v in settings.items() if k in accepted and v is not None})


# What the kinds' builders take between them (a misspelt setting is an error, not ignored).
SETTINGS = {"policy", "p", "target", "ada_kimg", "interval"}


@dataclass(frozen=True)
class AugmentOptions(Options):
    """The augmentation keys of every objective that augments D's inputs (its ``Options`` inherit
    these): ``objective.augment`` is the kind, the others its settings (see ``build_augment``)."""

    augment: str = "none"
    augment_policy: str | None = None
    augment_p: float = 0.0
    ada_target: float = 0.6
    ada_kimg: float = 500.0
    ada_interval: int = 4

    def build_augment(self) -> Augment:
        return build_augment(
            self.augment,
            policy=self.augment_policy,
            p=self.augment_p,
            target=self.ada_target,
            ada_kimg=self.ada_kimg,
            interval=self.ada_interval,
        )


__all__ = [
    "AUGMENTS",
    "AdaAugment",
    "AdaController",
    "AdaPipeline",
    "Augment",
    "AugmentOptions",
    "DiffAugment",
    "Identity",
    "build_augment",
]
