"""Penalties on the discriminator's input gradient ∇ₓD(x), all built on one helper.

* WGAN-GP (Gulrajani et al. 2017, Eq. 3): λ E[(‖∇D(x̂)‖₂ - 1)²] at random interpolates x̂ of real
  and fake samples, a soft version of the 1-Lipschitz constraint the Wasserstein critic needs.
* R1 / R2 (Mescheder et al. 2018, Eq. 9-10; R3GAN, Huang et al. 2024, Eq. 4-5): γ/2 E[‖∇D(x)‖²]
  on real (R1) or fake (R2) samples. Zero-centred: D is pushed to be *flat* on the data, which makes
  the game locally convergent; R3GAN uses both. One function serves both, as in R3GAN's code.

``d`` is any callable ``d(x, labels) -> logits``: a network, or an objective's wrapper that packs
or adds noise first (the gradient is then taken w.r.t. what the caller passes in). Fakes must come
without a graph into G (``fake.detach()``): the penalty trains D only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Critic = Callable[..., torch.Tensor]  # d(x, labels) -> logits


def input_gradients(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∇ₓ of ``logits.sum()`` flattened per sample, (N, -1), with a graph (``create_graph``) so a
    penalty on it can be back-propagated into D's weights. Summing is exact: sample i's logit
    depends on x_i only (BatchNorm's batch statistics aside)."""
    (grad,) = torch.autograd.grad(logits.float().sum(), x, create_graph=True)
    return grad.float().reshape(len(x), -1)


def mean_squared_gradient(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """E[‖∇ₓD(x)‖²] from a forward already made on ``x`` (which must require grad): lets an
    objective reuse the D(x) of its loss for R1, as R3GAN does, instead of a second forward."""
    return input_gradients(logits, x).square().sum(dim=1).mean()


def _with_grad(x: torch.Tensor) -> torch.Tensor:
    return x.detach().requires_grad_(True)


def zero_centered_penalty(d: Critic, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """E[‖∇ₓD(x)‖²]: R1 on real ``x``, R2 on (detached) fake ``x``; the caller scales by γ/2."""
    x = _with_grad(x)
    return mean_squared_gradient(d(x, labels), x)


def gradient_penalty(
    d: Critic, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None = None
) -> torch.Tensor:
    """E[(‖∇D(x̂)‖₂ - 1)²] with x̂ = αx + (1-α)x̃, α ~ U[0, 1] per sample (Gulrajani et al., Alg. 1)."""
    real, fake = real.detach(), fake.detach().to(real.dtype)  # under autocast G's fakes may be bf16
    alpha = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = _with_grad(torch.lerp(fake, real, alpha))
    norms = torch.linalg.vector_norm(input_gradients(d(x_hat, labels), x_hat), dim=1)
    return (norms - 1.0).square().mean()
