"""The Objective base class: *what* is optimised, in phases. The Trainer decides *how*.

Modelled on stylegan2-ada's ``loss.py``: an objective lists its phases (``D`` then ``G``; later
``Greg`` every 4, ``Dreg`` every 16, ...), each carrying the method that computes its loss from a
batch, so an objective reads as its phase list and nothing dispatches on a phase's name. It never
touches optimisers, precision, devices or ``requires_grad``; the trainer owns all of that, which is
why one trainer serves every family.

An objective declares its hyper-parameters once, as a frozen dataclass ``Options`` (its config
schema: ``objective.<field>``); groups several objectives share (augmentation, stabilisers) are
dataclasses its ``Options`` inherits, so each key is declared in one place.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.losses import AdversarialLoss

Batch = dict[str, torch.Tensor]
NoiseFn = Callable[..., torch.Tensor]
Stats = dict[str, torch.Tensor]
StepFn = Callable[[Batch], Stats]


@dataclass(frozen=True)
class Phase:
    """One optimisation step of the network ``trains`` (a key of ``Objective.networks()``).

    ``step(batch)``: the loss of the phase, ``{"loss": scalar, **stats}`` (stats detached scalars).
    ``every``: run the phase on steps where ``step % every == 0`` (lazy regularisation).
    ``repeats``: how many times in a row (WGAN's n_critic).
    ``fresh_batch``: draw a new real batch for each repeat; False reuses the previous phase's batch
    (a generator step needs only its size and labels, so it should not consume data).
    ``keep_graph``: networks that keep ``requires_grad`` during this phase although it does not
    step them, so the objective can build their graph now and reuse it in a later phase (the D
    phase's fakes, reused by the G phase, as in the PyTorch DCGAN example: one G forward per step).
    ``start`` / ``stop``: the phase runs on steps ``start <= step < stop`` only (``stop`` None: to
    the end), for schedules in stages: SRGAN pre-trains G on its content loss alone, then adds D.
    """

    name: str
    trains: str
    step: StepFn = field(kw_only=True, compare=False)
    every: int = 1
    repeats: int = 1
    fresh_batch: bool = True
    keep_graph: tuple[str, ...] = ()
    start: int = 0
    stop: int | None = None

    def due(self, step: int) -> bool:
        """Whether the phase runs at ``step`` (0-based): inside [start, stop) and on its ``every``."""
        in_stage = self.start <= step and (self.stop is None or step < self.stop)
        return in_stage and step % self.every == 0


@dataclass(frozen=True)
class NoOptions:
    """Options of an objective that has none."""


class Objective:
    """Base of every objective: ``networks()`` and ``phases()``; every optional hook a no-op.

    Subclasses are built as ``cls(nets, ctx, options)`` with ``options`` an instance of their
    ``Options`` dataclass (the registry makes it from the config's ``objective.*`` keys).
    """

    Options: ClassVar[type] = NoOptions
    # Whether D's scores have a fixed zero (real > 0 > fake), so their sign is a guess worth
    # checking; objectives without an adversarial ``loss`` key say it here (a Wasserstein critic: no).
    signed_logits: ClassVar[bool] = True

    def networks(self) -> dict[str, nn.Module]:
        """Trainable networks by optimiser name: ``{"g": G, "d": D}`` (``optim.<name>`` configures each)."""
        return {}

    def phases(self) -> list[Phase]:
        """The phases of one training step, in order."""
        return []

    def step(self, phase: str, batch: Batch) -> Stats:
        """The loss of the phase named ``phase`` on ``batch`` (for tests and tools that drive one phase)."""
        for candidate in self.phases():
            if candidate.name == phase:
                return candidate.step(batch)
        raise ValueError(f"unknown phase '{phase}'; this objective has {[p.name for p in self.phases()]}")

    def check_batch_size(self, batch_size: int) -> None:
        """Raise a ConfigError when this objective cannot train on batches of ``batch_size`` per
        process (PacGAN packs); called before a run dir is written."""

    def after_optimizer_step(self, phase: Phase) -> None:
        """Called right after ``phase``'s optimiser step (WGAN's weight clipping)."""

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint (ADA's p, LeCam's EMAs, RNG streams): tensors go to safetensors, the rest
        to the JSON sidecar."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""

    def preview(self, g: nn.Module, batch: Batch) -> torch.Tensor | None:
        """Panels (N, K, C, H, W) for the sample grid (input | output | target ...), or None to show
        latent samples: translation objectives return the panels of a fixed batch."""
        return None


class WrapsGame:
    """Mixin of an objective built around another objective's game (``self.game``, e.g. the ``gan``
    objective's): its optimiser hook and its checkpointed state are the game's, so they are
    forwarded here once instead of in each such objective (ACGAN, f-AnoGAN, ...)."""

    game: Objective

    def after_optimizer_step(self, phase: Phase) -> None:
        self.game.after_optimizer_step(phase)

    def state_dict(self) -> dict[str, Any]:
        return self.game.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.game.load_state_dict(state)


class TwoPlayerObjective(Objective):
    """An objective of a generator ``g`` and a discriminator ``d``, trained by the optimisers
    ``optim.g`` and ``optim.d`` (every game ganforge ships; CycleGAN's pairs are one ``g``, one ``d``).

    Its ``__init__`` is what every such game's constructor did: take ``g`` and ``d`` from ``nets``,
    check them against ``fits`` when the subclass names the ``model`` family it trains (a
    ConfigError naming that family otherwise), keep ``g``, ``d`` and ``ctx``, then hand the options
    to ``setup``. A subclass declares what is its own: ``Options``, ``model``, the classes of its
    ``g`` and ``d`` (as annotations, which ``fits`` reads) and ``setup``.
    """

    g: nn.Module
    d: nn.Module
    options: Any  # an instance of ``Options``
    # The model family whose networks it trains: ``register_objective`` sets the objective's own
    # name (objective pix2pix trains model pix2pix or pix2pix_tiny) unless the class sets it; None:
    # any ``g`` and ``d`` of the annotated classes (the ``gan`` objective).
    model: ClassVar[str | None] = None

    def __init__(self, nets: dict[str, nn.Module], ctx: Context, options: Any = None) -> None:
        g, d = nets.get("g"), nets.get("d")
        if self.model is not None and not self.fits(g, d):
            raise ConfigError(
                f"objective '{self.model}' needs a '{self.model}' model"
                f" (model.name: {self.model} or {self.model}_tiny)"
            )
        self.g, self.d, self.ctx = g, d, ctx  # type: ignore[assignment]
        # Kept whole and read where used (``self.options.lambda_l1``): copying each key into an
        # attribute of its own would declare it a second time.
        self.options = self.Options() if options is None else options
        self.setup(self.options)

    @classmethod
    def fits(cls, g: Any, d: Any) -> bool:
        """Whether ``g`` and ``d`` are networks of the ``model`` family: instances of the classes the
        subclass annotates ``g`` and ``d`` with, so a family's network types are declared once. The
        built-in families need nothing more: their discriminator classes tell them apart. A subclass
        whose networks a class cannot tell apart extends this."""
        hints = typing.get_type_hints(cls)
        return isinstance(g, hints["g"]) and isinstance(d, hints["d"])

    def setup(self, options: Any) -> None:
        """Read ``options`` (an instance of ``Options``); ``g``, ``d`` and ``ctx`` are already set."""

    def networks(self) -> dict[str, nn.Module]:
        return {"g": self.g, "d": self.d}


def discriminator_terms(
    loss: AdversarialLoss, real_logits: torch.Tensor, fake_logits: torch.Tensor, versus_mean: bool = False
) -> dict[str, torch.Tensor]:
    """A D phase's output from its logits: the loss and the logged ``loss_d``, ``d_real``, ``d_fake``,
    ``d_acc``. D's accuracy for a relativistic loss is whether it ranks each real above its fake
    (``versus_mean``: above the fakes' mean, RaGAN's comparison), else the mean of real > 0 and
    fake < 0."""
    value = loss.d_loss(real_logits, fake_logits)
    if loss.needs_real_in_g:
        accuracy = (real_logits > (fake_logits.mean() if versus_mean else fake_logits)).float().mean()
    else:
        accuracy = 0.5 * ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean())
    return {
        "loss": value,
        "loss_d": value.detach(),
        "d_real": real_logits.detach().mean(),
        "d_fake": fake_logits.detach().mean(),
        "d_acc": accuracy.detach(),
    }


def prefixed(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The entries of a checkpointed ``state`` under ``prefix.``, prefix removed: how an objective
    hands each part it owns (augmentation, LeCam, history pools) back its own state."""
    return {k[len(prefix) + 1 :]: v for k, v in state.items() if k.startswith(prefix + ".")}


@dataclass
class Context:
    """What the trainer lends an objective: where tensors live and how to draw noise.

    ``randn(n, *shape)`` draws this rank's share of a global noise batch, so a run on N processes
    sees exactly the noise a single process would (tensors are sliced, not re-seeded per rank).
    """

    device: torch.device
    randn: NoiseFn
    rank: int = 0
    world_size: int = 1
    extras: dict[str, Any] | None = None
