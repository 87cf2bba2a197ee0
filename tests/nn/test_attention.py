"""SAGAN self-attention (Zhang et al. 2019): identity at initialisation, global once γ opens."""

from __future__ import annotations

import torch

from ganforge.nn.attention import SelfAttention2d


def layer(channels: int = 16, gamma: float = 0.0, seed: int = 0) -> SelfAttention2d:
    torch.manual_seed(seed)
    attn = SelfAttention2d(channels)
    with torch.no_grad():
        attn.gamma.fill_(gamma)
    return attn


def test_starts_as_the_identity() -> None:
    x = torch.randn(3, 16, 8, 8)
    assert torch.equal(layer()(x), x)


def test_gamma_receives_gradient_at_initialisation_so_attention_can_switch_on() -> None:
    attn = layer()
    (attn(torch.randn(2, 16, 8, 8)) * torch.randn(2, 16, 8, 8)).sum().backward()
    assert attn.gamma.grad is not None and attn.gamma.grad.abs() > 0


def test_output_depends_on_far_away_pixels_once_gamma_is_nonzero() -> None:
    """A 3x3 conv at (15, 15) cannot see (0, 0); an attending position sees the whole map."""
    x = torch.randn(1, 16, 16, 16)
    bumped = x.clone()
    bumped[:, :, 0, 0] += 5.0
    closed, opened = layer(gamma=0.0), layer(gamma=1.0)
    with torch.no_grad():
        assert torch.equal(closed(bumped)[..., 15, 15], closed(x)[..., 15, 15])
        change = (opened(bumped)[..., 15, 15] - opened(x)[..., 15, 15]).abs().max()
    assert change > 1e-3


def test_attended_values_are_a_convex_combination() -> None:
    """Softmax weights sum to 1, so on a spatially constant map every position attends to the same value."""
    x = torch.randn(2, 16, 1, 1).expand(2, 16, 8, 8).contiguous()
    with torch.no_grad():
        out = layer(gamma=1.0)(x)
    torch.testing.assert_close(out, out[..., :1, :1].expand_as(out))
    assert not torch.allclose(out, x)  # γ·o is really added


def test_channels_last_and_bf16_autocast_agree_with_fp32() -> None:
    attn = layer(gamma=0.7)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        reference = attn(x)
        torch.testing.assert_close(attn(x.contiguous(memory_format=torch.channels_last)), reference)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = attn(x)
    torch.testing.assert_close(low.float(), reference, atol=0.05, rtol=0.05)


def test_tiny_widths_keep_at_least_one_key_channel() -> None:
    attn = layer(channels=4, gamma=1.0)
    assert attn.query.out_channels == attn.key.out_channels == 1 and attn.value.out_channels == 2
    assert layer(channels=4, gamma=1.0)(torch.randn(1, 4, 4, 4)).shape == (1, 4, 4, 4)
