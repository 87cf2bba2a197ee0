"""f-AnoGAN (Schlegl et al. 2019): a WGAN-GP on normal images, then the izi_f encoder with G frozen.

    stage 1, steps < gan_steps:   the ``gan`` objective's WGAN-GP game (critic ``n_critic`` = 5
                                  times per G step, λ = 10), composed, not restated
    stage 2, steps >= gan_steps:  phase E: min_E  ‖x − G(E(x))‖²/n + κ·‖f(x) − f(G(E(x)))‖²/n_f
                                  (Eq. 6, izi_f), G and D frozen

Why two stages of one run rather than two runs: ``Phase.start``/``stop`` are the spine's
mechanism for staged schedules (SRGAN pre-trains the same way), so G, D and E share one run dir
and one checkpoint, ``--resume`` works across the boundary bit for bit, and the detector a user
loads is one run. Two runs would need a way to load another run's frozen networks into a new
model, which nothing else needs.

E lives inside the ``g`` network (the Trainer keeps one optimiser per network name, ``g`` and
``d``), so the E phase trains ``g``; it freezes G itself by switching the decoder's
``requires_grad`` off (its parameters then get no gradient, so Adam leaves them as they are)
and putting the decoder in eval mode (BatchNorm on its running statistics, as it will score).
D is frozen by the Trainer, which only lets the phase's own network require gradients.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ganforge.models.anomaly import Critic, FAnoGANGenerator
from ganforge.objectives.base import Batch, Phase, Stats, TwoPlayerObjective, WrapsGame
from ganforge.objectives.gan import AdversarialObjective, GANOptions
from ganforge.options import NonNegativeFloat, NonNegativeInt, PositiveInt
from ganforge.registry import register_objective


@dataclass(frozen=True)
class FAnoGANObjectiveOptions(GANOptions):
    """The ``gan`` objective's keys with WGAN-GP's defaults (``loss`` is set by the config's
    ``objective.loss``: write ``wgan`` there), plus ``gan_steps``: the length of stage 1."""

    n_critic: PositiveInt = 5
    gp_lambda: NonNegativeFloat = 10.0
    gan_steps: NonNegativeInt = 1000


@register_objective("fanogan")
class FAnoGANObjective(WrapsGame, TwoPlayerObjective):
    """f-AnoGAN: WGAN-GP for gan_steps, then the izi_f encoder with G and D frozen (Schlegl et al. 2019)"""

    Options = FAnoGANObjectiveOptions
    g: FAnoGANGenerator
    d: Critic

    def setup(self, options: FAnoGANObjectiveOptions) -> None:
        self.game = AdversarialObjective({"g": self.g, "d": self.d}, self.ctx, options)

    def phases(self) -> list[Phase]:
        stage1 = [dataclasses.replace(p, stop=self.options.gan_steps) for p in self.game.phases()]
        return [*stage1, Phase("E", trains="g", step=self.e_step, start=self.options.gan_steps)]

    def e_step(self, batch: Batch) -> Stats:
        x = batch["x"]
        self.g.decoder.requires_grad_(False).eval()  # G frozen: E alone learns (see module docstring)
        _, pixels, features = self.g.residuals(x, self.d)
        pixels, features = pixels.mean(), features.mean()
        loss = pixels + self.g.kappa * features
        return {
            "loss": loss,
            "loss_e": loss.detach(),
            "izi_pixels": pixels.detach(),
            "izi_features": features.detach(),
        }
