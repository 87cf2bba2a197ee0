"""What every generator shares, so the trainer, sampler and API can drive any family the same way."""

from __future__ import annotations

import torch
from torch import nn


class Generator(nn.Module):
    """Base class for generators: ``forward(z, y=None)`` maps latents (and labels) to samples.

    Subclasses set ``z_dim``, ``num_classes`` (0 = unconditional) and ``out_shape`` (one sample's
    shape) in their constructor; everything that samples (grids, ``ganforge sample``, eval) uses
    ``sample_z`` so latent distributions stay a property of the model, not of the caller.
    """

    z_dim: int
    num_classes: int = 0
    out_shape: tuple[int, ...]
    # True only where forward really uses y: a model may be built with the data's num_classes and
    # still ignore labels (unconditional DCGAN on labelled MNIST); sampling "class 7" from it would lie.
    conditional: bool = False

    @property
    def draw_log_prob(self) -> torch.Tensor | None:
        """Per sample of the last forward: the log-probability of a discrete latent choice whose
        probabilities G learns (the mlp's ``MixtureLatent`` islands); None for a plain latent. The
        ``gan`` objective trains those probabilities with a score-function gradient."""
        return None

    def sample_z(
        self, n: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Standard-normal latents (N, z_dim); pass a seeded ``generator`` for reproducible draws."""
        return torch.randn(n, self.z_dim, generator=generator, device=device)

    def generate(
        self, z: torch.Tensor, y: torch.Tensor | None = None, truncation: float = 1.0
    ) -> torch.Tensor:
        """Samples with the truncation trick: ``truncation`` ψ in [0, 1] trades variety for fidelity.

        ψ = 1 is plain ``forward``. The default shrinks the latent toward its mean (z·ψ), the
        Gaussian-latent form of BigGAN's trick; families with a learned latent mean (StyleGAN2's
        w̄) override this to shrink there instead. Everything that samples for users (the API's
        ``sample``, ``ganforge sample --truncation``, latent tools) goes through here.
        """
        if not 0.0 <= truncation <= 1.0:
            raise ValueError(f"truncation must be in [0, 1], got {truncation}")
        return self(z if truncation == 1.0 else z * truncation, y)


def init_dcgan_weights(module: nn.Module) -> None:
    """Radford et al. 2015: conv weights ~ N(0, 0.02), BN weights ~ N(1, 0.02), BN biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
