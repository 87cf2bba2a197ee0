"""The classic two-player objective (Goodfellow et al. 2014): phases ``D`` (``repeats=n_critic``) then ``G``.

Serves vanilla GAN, DCGAN, LSGAN, hinge GAN and WGAN alike: only the loss function changes.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.losses import get_loss
from ganforge.models.base import Generator
from ganforge.objectives.base import Batch, Context, Phase
from ganforge.registry import register_objective


class AdversarialObjective:
    """Discriminator step on real vs detached fakes, then a generator step through D.

    ``reuse_fakes=True`` (the default, as in the PyTorch DCGAN example) generates each step's fakes
    once: the D phase builds them with G's graph (``Phase.keep_graph``), trains D on them detached,
    and the G phase back-propagates through the same fakes into G. That saves one generator forward
    per step (~8% of a DCGAN step). ``False`` draws fresh latents for the G phase instead, with the
    D phase's fakes made under ``no_grad`` (the stylegan2-ada habit).
    """

    def __init__(
        self,
        g: Generator,
        d: nn.Module,
        ctx: Context,
        loss: str = "ns",
        n_critic: int = 1,
        reuse_fakes: bool = True,
    ) -> None:
        if n_critic < 1:
            raise ConfigError(f"'objective.n_critic' must be at least 1, got {n_critic}")
        self.g, self.d, self.ctx = g, d, ctx
        self.loss = get_loss(loss)
        self.n_critic = n_critic
        self.reuse_fakes = reuse_fakes
        self._pending_fake: torch.Tensor | None = None  # the last D phase's fakes, with G's graph

    def networks(self) -> dict[str, nn.Module]:
        return {"g": self.g, "d": self.d}

    def phases(self) -> list[Phase]:
        keep = ("g",) if self.reuse_fakes else ()
        return [
            Phase("D", trains="d", repeats=self.n_critic, keep_graph=keep),
            Phase("G", trains="g", fresh_batch=False),
        ]

    def _fake(self, n: int, labels: torch.Tensor | None) -> torch.Tensor:
        z = self.ctx.randn(n, self.g.z_dim)
        return self.g(z, labels)

    def step(self, phase: str, batch: Batch) -> dict[str, torch.Tensor]:
        real, labels = batch["x"], batch.get("y")
        if phase == "D":
            if self.reuse_fakes:
                fake = self._pending_fake = self._fake(len(real), labels)
            else:
                with torch.no_grad():
                    fake = self._fake(len(real), labels)
            real_logits = self.d(real, labels).float()
            fake_logits = self.d(fake.detach(), labels).float()
            loss = self.loss.d_loss(real_logits, fake_logits)
            accuracy = 0.5 * ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean())
            return {
                "loss": loss,
                "loss_d": loss.detach(),
                "d_real": real_logits.detach().mean(),
                "d_fake": fake_logits.detach().mean(),
                "d_acc": accuracy.detach(),
            }
        if phase == "G":
            fake, self._pending_fake = self._pending_fake, None
            if fake is None or not fake.requires_grad:
                fake = self._fake(len(real), labels)
            loss = self.loss.g_loss(self.d(fake, labels).float())
            return {"loss": loss, "loss_g": loss.detach()}
        raise ValueError(f"unknown phase '{phase}'")


@register_objective("gan", description="two-player GAN: D then G, any adversarial loss, n_critic repeats")
def build_gan(
    nets: dict[str, nn.Module], ctx: Context, loss: str = "ns", n_critic: int = 1, reuse_fakes: bool = True
) -> AdversarialObjective:
    return AdversarialObjective(
        nets["g"], nets["d"], ctx, loss=loss, n_critic=n_critic, reuse_fakes=reuse_fakes
    )  # type: ignore[arg-type]
