"""DiffAugment (Zhao et al. 2020): each policy does what the paper says, differentiably, in any layout."""

from __future__ import annotations

import pytest
import torch

from ganforge.augment import build_augment
from ganforge.augment import diffaugment as da
from ganforge.augment.functional import translate
from ganforge.errors import ConfigError


def images(n: int = 8, c: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_shape_dtype_layout_preserved_and_bf16_under_autocast() -> None:
    aug = build_augment("diffaug")
    for c in (1, 3, 4):
        x = images(c=c)
        y = aug(x)
        assert y.shape == x.shape and y.dtype == x.dtype and y.is_contiguous()
    x = images().to(memory_format=torch.channels_last).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = aug(x)
    assert y.dtype == torch.bfloat16 and y.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(y, x)


def test_gradient_flows_to_the_input() -> None:
    x = images().requires_grad_()
    weights = torch.randn_like(x)
    (build_augment("diffaug")(x) * weights).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_same_seed_same_augmentation() -> None:
    aug, x = build_augment("diffaug"), images()
    torch.manual_seed(3)
    a = aug(x)
    torch.manual_seed(3)
    b = aug(x)
    c = aug(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    gen = torch.Generator().manual_seed(5)
    assert torch.equal(da.color(x, torch.Generator().manual_seed(5)), da.color(x, gen))


def test_translate_is_an_integer_shift_with_zero_padding() -> None:
    x = images(n=2) + 2  # strictly positive, so padding zeros stand out
    y = translate(x, torch.tensor([2, -3]), torch.tensor([-1, 0]))
    assert torch.equal(y[0, :, 2:, :-1], x[0, :, :-2, 1:])
    assert (y[0, :, :2] == 0).all() and (y[0, :, :, -1] == 0).all()
    assert torch.equal(y[1, :, :-3], x[1, :, 3:]) and (y[1, :, -3:] == 0).all()


def test_translation_policy_shifts_by_at_most_an_eighth() -> None:
    x = images(n=16) + 2
    y = da.translation(x)
    limit = round(32 / 8)
    seen = set()
    for i in range(len(x)):
        matches = [
            (dy, dx)
            for dy in range(-limit, limit + 1)
            for dx in range(-limit, limit + 1)
            if torch.equal(y[i : i + 1], translate(x[i : i + 1], torch.tensor([dy]), torch.tensor([dx])))
        ]
        assert len(matches) == 1, f"sample {i} is no integer shift within +-{limit} px"
        seen.add(matches[0])
    assert len(seen) > 4  # shifts differ per sample


def test_cutout_zeroes_one_clipped_half_size_square() -> None:
    x = torch.ones(512, 1, 32, 32)
    zero = da.cutout(x) == 0
    fraction = zero.float().mean(dim=(1, 2, 3))
    assert fraction.max() <= 0.25  # a 16x16 square at most
    # centres uniform over the image, clipped at the borders: (7/16)^2 of the area on average
    assert abs(fraction.mean().item() - (7 / 16) ** 2) < 0.02
    rows, cols = zero[:, 0].any(dim=2), zero[:, 0].any(dim=1)
    assert torch.equal(zero[:, 0], rows.unsqueeze(2) & cols.unsqueeze(1))  # a rectangle


def scale_factor(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Per-sample k with after == k * before (asserted), by least squares."""
    k = (after * before).sum(dim=(1, 2, 3)) / (before * before).sum(dim=(1, 2, 3))
    assert torch.allclose(after, k.reshape(-1, 1, 1, 1) * before, atol=1e-5)
    return k


def test_colour_ops_stay_within_documented_ranges() -> None:
    x = images(n=256)
    b = da.brightness(x) - x  # a constant offset per sample, in [-0.5, 0.5)
    offset = b.mean(dim=(1, 2, 3))
    assert torch.allclose(b, offset.reshape(-1, 1, 1, 1).expand_as(b), atol=1e-6)
    assert offset.min() >= -0.5 and offset.max() < 0.5 and offset.max() - offset.min() > 0.8

    grey = x.mean(dim=1, keepdim=True)
    y = da.saturation(x)
    assert torch.allclose(y.mean(dim=1, keepdim=True), grey, atol=1e-5)  # grey level kept
    s = scale_factor(x - grey, y - grey)
    assert s.min() >= 0 and s.max() < 2 and s.max() - s.min() > 1.6

    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    y = da.contrast(x)
    assert torch.allclose(y.mean(dim=(1, 2, 3), keepdim=True), mean, atol=1e-5)
    c = scale_factor(x - mean, y - mean)
    assert c.min() >= 0.5 and c.max() < 1.5 and c.max() - c.min() > 0.8


def test_saturation_is_a_no_op_for_grey_images() -> None:
    x = images(c=1)
    assert torch.equal(da.saturation(x), x)


def test_vector_data_and_bad_policies_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="augment: none"):
        build_augment("diffaug")(torch.randn(16, 2))
    with pytest.raises(ConfigError, match="translation"):
        build_augment("diffaug", policy="color,transl")
    with pytest.raises(ConfigError, match="empty"):
        build_augment("diffaug", policy=" ")
