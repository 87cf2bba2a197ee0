"""WGAN-GP, R1 and R2 against closed forms, and their effect when a critic is trained with them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforge.losses import get_loss
from ganforge.regularizers import gradient_penalty, input_gradients, zero_centered_penalty


def linear_critic(w: torch.Tensor):
    """D(x) = w·x: its input gradient is w everywhere."""
    return lambda x, labels=None: x.flatten(1) @ w


def quadratic_critic(a: float):
    """D(x) = a‖x‖²: ∇D(x) = 2a·x, so ‖∇D(x)‖² = 4a²‖x‖²."""
    return lambda x, labels=None: a * x.flatten(1).square().sum(dim=1)


@pytest.mark.parametrize("shape", [(8, 3), (8, 1, 2, 2)])
def test_gp_of_a_linear_critic_is_exactly_norm_minus_one_squared(shape) -> None:
    """‖∇D(x̂)‖ = ‖w‖ at every interpolate, so GP = (‖w‖ - 1)² whatever α is drawn."""
    torch.manual_seed(0)
    w = torch.tensor([3.0, -1.0, 2.0, 0.5][: shape[-1] if len(shape) == 2 else 4], requires_grad=True)
    real, fake = torch.randn(shape), torch.randn(shape) + 2.0
    gp = gradient_penalty(linear_critic(w), real, fake)
    norm = w.detach().norm().item()
    assert gp.item() == pytest.approx((norm - 1.0) ** 2, rel=1e-6)
    # The penalty reaches D's weights (create_graph): d/dw (‖w‖ - 1)² = 2(‖w‖ - 1) w / ‖w‖.
    (grad,) = torch.autograd.grad(gp, w)
    torch.testing.assert_close(grad, 2 * (norm - 1.0) * w.detach() / norm)


def test_gp_is_zero_for_a_unit_gradient_critic() -> None:
    w = torch.tensor([0.6, 0.8])
    assert gradient_penalty(linear_critic(w), torch.randn(4, 2), torch.randn(4, 2)).item() == pytest.approx(
        0.0
    )


def test_r1_of_a_quadratic_critic_matches_the_closed_form() -> None:
    torch.manual_seed(0)
    a, x = 0.7, torch.randn(16, 5)
    expected = (4 * a**2 * x.square().sum(dim=1)).mean()
    assert zero_centered_penalty(quadratic_critic(a), x).item() == pytest.approx(expected.item(), rel=1e-6)


def test_zero_centered_penalty_does_not_reach_the_generator() -> None:
    """R2 and GP take fakes detached: a penalty on fakes trains D only, never G."""
    g = nn.Linear(2, 2)
    fake = g(torch.randn(8, 2))
    d = nn.Linear(2, 1)
    critic = lambda x, labels=None: d(x).squeeze(1)  # noqa: E731
    total = zero_centered_penalty(critic, fake) + gradient_penalty(critic, torch.randn(8, 2), fake)
    total.backward()
    assert all(p.grad is None for p in g.parameters())
    assert d.weight.grad is not None and d.weight.grad.abs().sum() > 0  # (the bias has no input gradient)


def test_input_gradients_are_per_sample() -> None:
    x = torch.randn(4, 3, requires_grad=True)
    grads = input_gradients((x.square() * torch.arange(1.0, 5.0)[:, None]).sum(dim=1), x)
    torch.testing.assert_close(grads, 2 * x.detach() * torch.arange(1.0, 5.0)[:, None])


def small_critic(seed: int, scale: float = 1.0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(scale)
    return net


def critic_fn(net: nn.Module):
    return lambda x, labels=None: net(x).squeeze(1)


def mean_grad_norm(net: nn.Module, x: torch.Tensor) -> float:
    x = x.clone().requires_grad_(True)
    return input_gradients(critic_fn(net)(x), x).norm(dim=1).mean().item()


def test_gp_drives_a_critics_gradient_norm_toward_one() -> None:
    """Minimising the penalty alone moves ‖∇D‖ at the interpolates from far below 1 to about 1."""
    net = small_critic(0, scale=0.2)
    gen = torch.Generator().manual_seed(1)
    real, fake = torch.randn(256, 2, generator=gen), torch.randn(256, 2, generator=gen) + 3.0
    between = torch.lerp(fake, real, 0.5)
    before = mean_grad_norm(net, between)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        gradient_penalty(critic_fn(net), real, fake).backward()
        opt.step()
    after = mean_grad_norm(net, between)
    assert before < 0.3
    assert abs(after - 1.0) < 0.1, (before, after)


def train_critic(r1_gamma: float, steps: int = 150) -> tuple[nn.Module, torch.Tensor, list[float]]:
    """A critic trained with the non-saturating loss to separate two clouds, optionally with R1."""
    net = small_critic(0)
    gen = torch.Generator().manual_seed(1)
    real, fake = torch.randn(256, 2, generator=gen), torch.randn(256, 2, generator=gen) + 1.5
    loss_fn = get_loss("ns")
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    r1_values = []
    for _ in range(steps):
        opt.zero_grad()
        d = critic_fn(net)
        loss = loss_fn.d_loss(d(real), d(fake))
        r1 = zero_centered_penalty(d, real)
        r1_values.append(r1.item())
        (loss + 0.5 * r1_gamma * r1).backward()
        opt.step()
    return net, real, r1_values


def test_r1_flattens_the_critic_on_real_data() -> None:
    """R1 (Mescheder et al. 2018) is positive and keeps ‖∇ₓD(x)‖ on the real data far lower than an
    unregularised critic's, which sharpens its boundary as it separates the clouds."""
    free, real, free_r1 = train_critic(0.0)
    regularised, _, reg_r1 = train_critic(10.0)
    assert min(reg_r1) > 0
    assert reg_r1[-1] < free_r1[-1] / 3, (reg_r1[-1], free_r1[-1])
    assert mean_grad_norm(regularised, real) < mean_grad_norm(free, real) / 2
