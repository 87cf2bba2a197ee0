"""ADA's augmentation pipeline (Karras et al. 2020): p-gated per sample and per transform, differentiable."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ganforge.augment import build_augment
from ganforge.augment.ada import P_MAX, AdaPipeline, hue
from ganforge.augment.functional import translate
from ganforge.errors import ConfigError
from ganforge.registry import create_model


def images(n: int = 8, c: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def changed(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x != y).flatten(1).any(dim=1)


def test_p_zero_is_exactly_the_identity() -> None:
    x = images()
    for aug in (build_augment("ada"), build_augment("ada_fixed", p=0.0)):
        assert aug.p == 0.0 and aug(x) is x
    assert torch.equal(AdaPipeline()(x, 0.0), x)


def test_every_transform_is_gated_per_sample_with_probability_p() -> None:
    torch.manual_seed(0)
    x = images(n=2000, size=8)
    for policy, p, expected in (("brightness", 0.3, 0.3), ("saturation", 0.7, 0.7), ("xflip", 0.5, 0.25)):
        frac = changed(x, AdaPipeline(policy)(x, p)).float().mean().item()
        assert abs(frac - expected) < 0.04, (policy, frac)


def test_flips_and_quarter_turns_are_exact_pixel_permutations() -> None:
    x = images(n=64)
    y = AdaPipeline("xflip,rotate90")(x, P_MAX)
    dihedral = [x.rot90(k, (2, 3)) for k in range(4)]
    dihedral += [d.flip(3) for d in dihedral]
    hits = torch.stack([(y == d).flatten(1).all(dim=1) for d in dihedral])  # (8, N)
    assert hits.any(dim=0).all()
    assert (hits.sum(dim=1) > 0).sum() >= 6  # most of the 8 symmetries occur


def test_integer_translation_pads_by_reflection() -> None:
    x = images(n=1)
    y = translate(x, torch.tensor([2]), torch.tensor([-3]), padding="reflect")
    expected = F.pad(x, (3, 3, 2, 2), mode="reflect")[:, :, :32, 6:38]
    assert torch.equal(y, expected)


def test_scaling_resamples_within_the_image() -> None:
    x = images(n=64)
    y = AdaPipeline("scale")(x, P_MAX)
    assert changed(x, y).float().mean() > 0.9
    # bilinear weights are convex and reflection adds no new values: no overshoot, no black borders
    assert y.amin(dim=(1, 2, 3)).ge(x.amin(dim=(1, 2, 3)) - 1e-6).all()
    assert y.amax(dim=(1, 2, 3)).le(x.amax(dim=(1, 2, 3)) + 1e-6).all()
    flat = torch.full((4, 3, 16, 16), 0.25)
    assert torch.allclose(AdaPipeline("scale")(flat, P_MAX), flat)


def test_hue_rotates_about_the_grey_axis() -> None:
    x = images(n=16)
    y = hue(x, torch.ones(16, dtype=torch.bool))
    grey_x, grey_y = x.mean(1, keepdim=True), y.mean(1, keepdim=True)
    assert torch.allclose(grey_y, grey_x, atol=1e-5)  # brightness kept
    assert torch.allclose((y - grey_y).norm(dim=1), (x - grey_x).norm(dim=1), atol=1e-5)  # chroma kept
    assert not torch.allclose(y, x, atol=1e-2)
    grey = images(c=1)
    assert torch.equal(hue(grey, torch.ones(8, dtype=torch.bool)), grey)


def test_colour_parameters_follow_the_paper() -> None:
    torch.manual_seed(0)
    x = images(n=4000, size=4)
    offset = (AdaPipeline("brightness")(x, P_MAX) - x).mean(dim=(1, 2, 3))
    assert abs(offset.std().item() - 0.2) < 0.01 and abs(offset.mean().item()) < 0.01
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    y = AdaPipeline("contrast")(x, P_MAX)
    c = ((y - mean) * (x - mean)).sum(dim=(1, 2, 3)) / ((x - mean) ** 2).sum(dim=(1, 2, 3))
    assert abs(torch.log2(c).std().item() - 0.5) < 0.03  # c = 2^N(0, 0.5^2)


def test_differentiable_any_channels_layout_and_bf16() -> None:
    aug = build_augment("ada_fixed", p=0.8)
    for c in (1, 3):
        x = images(c=c).requires_grad_()
        y = aug(x)
        assert y.shape == x.shape and y.dtype == x.dtype
        (y * torch.randn_like(y)).sum().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    x = images().to(memory_format=torch.channels_last).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = aug(x)
    assert y.dtype == torch.bfloat16 and y.is_contiguous(memory_format=torch.channels_last)
    assert changed(x, y).any()


def test_same_seed_same_augmentation() -> None:
    aug, x = build_augment("ada_fixed", p=0.5), images()
    torch.manual_seed(1)
    a = aug(x)
    torch.manual_seed(1)
    assert torch.equal(aug(x), a) and not torch.equal(aug(x), a)


def test_bad_inputs_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="augment: none"):
        build_augment("ada_fixed", p=0.5)(torch.randn(16, 2))
    with pytest.raises(ConfigError, match="rotate90"):
        build_augment("ada", policy="bgc,rotate")
    with pytest.raises(ConfigError, match="augment_p"):
        build_augment("ada_fixed", p=1.5)
    with pytest.raises(ConfigError, match=r"unknown augment 'adaa'.*did you mean 'ada'"):
        build_augment("adaa")


@pytest.mark.parametrize("kind", ["diffaug", "ada_fixed"])
def test_r1_through_the_augmentation_reaches_d(kind: str) -> None:
    """StyleGAN2-ADA's R1: the gradient w.r.t. the un-augmented reals, through D(aug(x)), double backward."""
    torch.manual_seed(0)
    d = create_model("dcgan_tiny", shape=(3, 32, 32))["d"]
    real = images().requires_grad_()
    (grad,) = torch.autograd.grad(d(build_augment(kind, p=P_MAX)(real)).sum(), real, create_graph=True)
    grad.square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in d.parameters())
    assert sum(p.grad.abs().sum() for p in d.parameters()) > 0
