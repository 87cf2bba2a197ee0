"""BigGAN's orthogonal penalty and WGAN's weight clipping."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforge.regularizers import clip_weights, orthogonal_penalty


def test_orthogonal_penalty_of_orthogonal_rows_is_zero() -> None:
    torch.manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(8, 8))
    layer = nn.Linear(8, 8)  # the bias (1-D) is not a weight matrix and does not count
    with torch.no_grad():
        layer.weight.copy_(q * torch.arange(1.0, 9.0)[:, None])  # rows orthogonal, norms free
    assert orthogonal_penalty(layer).item() == pytest.approx(0.0, abs=1e-9)


def test_orthogonal_penalty_matches_hand_computation() -> None:
    """W = [[1, 2], [3, 4]]: WWᵀ = [[5, 11], [11, 25]]; off-diagonal 11 twice -> 2·121 = 242."""
    layer = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert orthogonal_penalty(layer).item() == pytest.approx(242.0)
    # Sums over layers; conv kernels are viewed as (out, in·k·k) rows.
    conv = nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 1.0]).reshape(2, 1, 1, 1))
    assert orthogonal_penalty(nn.Sequential(layer, conv)).item() == pytest.approx(242.0 + 2.0)


def test_orthogonal_penalty_gradient_decorrelates_filters() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(6, 4, bias=False)
    opt = torch.optim.SGD(layer.parameters(), lr=0.05)
    before = orthogonal_penalty(layer).item()
    for _ in range(50):
        opt.zero_grad()
        orthogonal_penalty(layer).backward()
        opt.step()
    assert orthogonal_penalty(layer).item() < before / 10
    assert layer.weight.norm(dim=1).min() > 0.05  # norms are not what it shrinks to zero


def test_clip_weights_bounds_every_parameter() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    clip_weights(net, 0.01)
    values = torch.cat([p.detach().flatten() for p in net.parameters()])
    assert values.abs().max().item() <= 0.01
    assert (values.abs() == 0.01).any()  # BatchNorm's weight of 1 was clipped too
    with pytest.raises(ValueError, match="positive"):
        clip_weights(net, 0.0)
