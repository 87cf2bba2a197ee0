"""LeCam regularisation (Tseng et al. 2021): EMA anchors and the one-sided squared penalty."""

from __future__ import annotations

import pytest
import torch

from ganforge.regularizers import LeCam


def test_first_update_initialises_then_decays_at_0_99() -> None:
    lecam = LeCam()
    lecam.update(torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0]))
    assert (lecam.ema_real.item(), lecam.ema_fake.item()) == (2.0, -1.0)
    lecam.update(torch.tensor([4.0]), torch.tensor([1.0]))
    assert lecam.ema_real.item() == pytest.approx(0.99 * 2.0 + 0.01 * 4.0)
    assert lecam.ema_fake.item() == pytest.approx(0.99 * -1.0 + 0.01 * 1.0)
    for _ in range(2000):  # a constant input is the EMA's fixed point
        lecam.update(torch.tensor([4.0]), torch.tensor([1.0]))
    assert lecam.ema_real.item() == pytest.approx(4.0, abs=1e-4)
    assert lecam.ema_fake.item() == pytest.approx(1.0, abs=1e-4)


def test_penalty_is_one_sided_and_matches_hand_computation() -> None:
    """E[relu(D(x) - α_F)²] + E[relu(α_R - D(G(z)))²] with α_R = 0.5, α_F = -0.5."""
    lecam = LeCam()
    lecam.ema_real, lecam.ema_fake = torch.tensor(0.5), torch.tensor(-0.5)
    real, fake = torch.tensor([1.5, -1.0]), torch.tensor([-1.5, 1.0])
    # real: relu(2.0)² = 4, relu(-0.5)² = 0 -> 2.0; fake: relu(2.0)² = 4, relu(-0.5)² = 0 -> 2.0
    assert lecam.penalty(real, fake).item() == pytest.approx(4.0)
    # Scores on the anchors' safe side cost nothing.
    assert lecam.penalty(torch.tensor([-0.6]), torch.tensor([0.6])).item() == 0.0


def test_penalty_gradient_pulls_scores_toward_the_anchors() -> None:
    lecam = LeCam()
    lecam.update(torch.tensor([0.0]), torch.tensor([0.0]))
    real, fake = torch.tensor([2.0], requires_grad=True), torch.tensor([-2.0], requires_grad=True)
    grad_real, grad_fake = torch.autograd.grad(lecam.penalty(real, fake), (real, fake))
    assert grad_real.item() == pytest.approx(4.0) and grad_fake.item() == pytest.approx(-4.0)


def test_update_does_not_track_gradients_and_penalty_needs_an_update() -> None:
    lecam = LeCam()
    with pytest.raises(RuntimeError, match="update"):
        lecam.penalty(torch.zeros(2), torch.zeros(2))
    real = torch.ones(3, requires_grad=True)
    lecam.update(real, real * 2)
    assert not lecam.ema_real.requires_grad and not lecam.ema_fake.requires_grad


def test_state_dict_round_trip_is_exact() -> None:
    a = LeCam()
    assert a.state_dict() == {}
    for i in range(5):
        a.update(torch.tensor([0.1 * i]), torch.tensor([-0.3 * i]))
    b = LeCam()
    b.load_state_dict({k: v.clone() for k, v in a.state_dict().items()})
    for _ in range(3):
        a.update(torch.tensor([0.7]), torch.tensor([0.2]))
        b.update(torch.tensor([0.7]), torch.tensor([0.2]))
    assert torch.equal(a.ema_real, b.ema_real) and torch.equal(a.ema_fake, b.ema_fake)
