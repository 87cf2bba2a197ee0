"""Adversarial losses against the papers' formulas, written here with plain ``math`` on probabilities.

G's loss is always given the real logits too: relativistic losses use them, the others ignore them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from ganforge.errors import RegistryError
from ganforge.losses import AdversarialLoss, get_loss
from ganforge.registry import LOSSES

REAL = [1.0, -0.5, 2.5]
FAKE = [-2.0, 0.3, 0.0]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def bce_d(r: list[float], f: list[float]) -> float:
    """-(E[log D(x)] + E[log(1 - D(G(z)))]), Goodfellow et al. 2014, Eq. 1."""
    return -mean([math.log(sigmoid(x)) for x in r]) - mean([math.log(1 - sigmoid(x)) for x in f])


Formula = Callable[[list[float], list[float]], float]
EXPECTED: dict[str, tuple[Formula, Formula]] = {
    "minimax": (bce_d, lambda r, f: mean([math.log(1 - sigmoid(x)) for x in f])),
    "ns": (bce_d, lambda r, f: -mean([math.log(sigmoid(x)) for x in f])),
    "hinge": (
        lambda r, f: mean([max(0.0, 1 - x) for x in r]) + mean([max(0.0, 1 + x) for x in f]),
        lambda r, f: -mean(f),
    ),
    "wasserstein": (lambda r, f: mean(f) - mean(r), lambda r, f: -mean(f)),
    "lsgan": (
        lambda r, f: 0.5 * mean([(x - 1) ** 2 for x in r]) + 0.5 * mean([x**2 for x in f]),
        lambda r, f: 0.5 * mean([(x - 1) ** 2 for x in f]),
    ),
    # Jolicoeur-Martineau 2019: -E[log σ(C(x) - C(G(z)))] over paired samples, and G's swapped game.
    "rpgan": (
        lambda r, f: -mean([math.log(sigmoid(a - b)) for a, b in zip(r, f, strict=True)]),
        lambda r, f: -mean([math.log(sigmoid(b - a)) for a, b in zip(r, f, strict=True)]),
    ),
    # RaSGAN: -E_x[log σ(C(x) - E C(G(z)))] - E_z[log(1 - σ(C(G(z)) - E C(x)))], and swapped for G.
    "ragan": (
        lambda r, f: (
            -mean([math.log(sigmoid(x - mean(f))) for x in r])
            - mean([math.log(1 - sigmoid(x - mean(r))) for x in f])
        ),
        lambda r, f: (
            -mean([math.log(sigmoid(x - mean(r))) for x in f])
            - mean([math.log(1 - sigmoid(x - mean(f))) for x in r])
        ),
    ),
}
RELATIVISTIC = ("ragan", "rpgan")


def t(values: list[float], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


def test_every_registered_loss_is_checked_here() -> None:
    assert sorted(EXPECTED) == LOSSES.names()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_matches_hand_computed_values(name: str) -> None:
    loss = get_loss(name)
    expected_d, expected_g = EXPECTED[name]
    d, g = loss.d_loss(t(REAL), t(FAKE)), loss.g_loss(t(FAKE), t(REAL))
    assert d.shape == () and g.shape == ()
    assert d.item() == pytest.approx(expected_d(REAL, FAKE), rel=1e-6)
    assert g.item() == pytest.approx(expected_g(REAL, FAKE), rel=1e-6)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_losses_are_batch_means(name: str) -> None:
    """Duplicating the batch must not change the loss (mean, not sum), whatever the logits' shape."""
    loss = get_loss(name)
    r2, f2 = t(REAL * 2).reshape(2, -1, 1), t(FAKE * 2).reshape(2, -1, 1)
    assert loss.d_loss(r2, f2).item() == pytest.approx(loss.d_loss(t(REAL), t(FAKE)).item(), rel=1e-6)
    g1 = loss.g_loss(t(FAKE), t(REAL)).item()
    assert loss.g_loss(f2, r2).item() == pytest.approx(g1, rel=1e-6)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gradients_point_the_right_way(name: str) -> None:
    """D's loss falls as real scores rise and fake scores fall; G's falls as fake scores rise."""
    loss = get_loss(name)
    real, fake = torch.full((4,), 0.5, requires_grad=True), torch.full((4,), 0.5, requires_grad=True)
    grad_real, grad_fake = torch.autograd.grad(loss.d_loss(real, fake), (real, fake))
    assert (grad_real < 0).all() and (grad_fake > 0).all()
    (grad_g,) = torch.autograd.grad(loss.g_loss(fake, real.detach()), fake)
    assert (grad_g < 0).all()


def test_minimax_saturates_and_ns_does_not() -> None:
    """When D confidently rejects fakes (D(G(z)) -> 0), minimax gives G no gradient; ns gives ~1."""
    fake = torch.tensor([-12.0], requires_grad=True)
    (minimax,) = torch.autograd.grad(get_loss("minimax").g_loss(fake), fake)
    (ns,) = torch.autograd.grad(get_loss("ns").g_loss(fake), fake)
    assert minimax.abs().item() == pytest.approx(sigmoid(-12.0), rel=1e-4)  # ~6e-6
    assert minimax.abs().item() < 1e-5
    assert ns.abs().item() == pytest.approx(1 - sigmoid(-12.0), rel=1e-6)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_extreme_logits_stay_finite(name: str) -> None:
    loss = get_loss(name)
    for r, f in ((100.0, -100.0), (-100.0, 100.0)):
        real = torch.full((2,), r, requires_grad=True)
        fake = torch.full((2,), f, requires_grad=True)
        values = (loss.d_loss(real, fake), loss.g_loss(fake, real))
        grads = torch.autograd.grad(sum(values), (real, fake))
        assert all(torch.isfinite(v) for v in values)
        assert all(torch.isfinite(gr).all() for gr in grads)


def test_bce_losses_are_exact_at_extreme_logits() -> None:
    """-log σ(-100) = 100 exactly in floating point; a naive log(sigmoid(x)) would give inf."""
    huge = torch.tensor([100.0])
    assert get_loss("ns").d_loss(-huge, huge).item() == pytest.approx(200.0)
    assert get_loss("ns").g_loss(-huge).item() == pytest.approx(100.0)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bf16_logits_give_fp32_losses(name: str) -> None:
    loss = get_loss(name)
    real, fake = t(REAL, torch.bfloat16), t(FAKE, torch.bfloat16)
    d, g = loss.d_loss(real, fake), loss.g_loss(fake, real)
    assert d.dtype == torch.float32 and g.dtype == torch.float32
    assert d.item() == loss.d_loss(real.float(), fake.float()).item()
    assert g.item() == loss.g_loss(fake.float(), real.float()).item()


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - set(RELATIVISTIC)))
def test_g_loss_accepts_and_ignores_real_logits(name: str) -> None:
    loss = get_loss(name)
    assert not loss.needs_real_in_g
    assert loss.g_loss(t(FAKE), t(REAL)).item() == loss.g_loss(t(FAKE)).item()


@pytest.mark.parametrize("name", RELATIVISTIC)
def test_relativistic_g_loss_needs_real_logits(name: str) -> None:
    loss = get_loss(name)
    assert loss.needs_real_in_g and not loss.bce
    with pytest.raises(ValueError, match="pass real_logits"):
        loss.g_loss(t(FAKE))


def test_relativistic_g_loss_also_lowers_real_scores() -> None:
    """G's relativistic loss falls when real scores fall: the comparison, not the fake score alone."""
    real = torch.tensor(REAL, requires_grad=True)
    for name in RELATIVISTIC:
        (grad_real,) = torch.autograd.grad(get_loss(name).g_loss(t(FAKE), real), real)
        assert (grad_real > 0).all(), name


def test_rpgan_pairs_samples_and_ragan_does_not() -> None:
    """Swapping which fake meets which real changes RpGAN (element-wise pairs) but not RaGAN (means)."""
    real, fake, shuffled = t(REAL), t(FAKE), t(FAKE[::-1])
    rp, ra = get_loss("rpgan"), get_loss("ragan")
    assert rp.d_loss(real, fake).item() != pytest.approx(rp.d_loss(real, shuffled).item(), rel=1e-3)
    assert ra.d_loss(real, fake).item() == pytest.approx(ra.d_loss(real, shuffled).item(), rel=1e-6)


def test_only_cross_entropy_losses_are_flagged_bce() -> None:
    assert sorted(n for n in LOSSES.names() if get_loss(n).bce) == ["minimax", "ns"]


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("non_saturating", "ns"),
        ("wgan", "wasserstein"),
        ("least_squares", "lsgan"),
        ("hinge", "hinge"),
        ("rsgan", "rpgan"),
        ("rasgan", "ragan"),
    ],
)
def test_aliases_resolve_to_the_same_loss(alias: str, name: str) -> None:
    loss = get_loss(alias)
    assert isinstance(loss, AdversarialLoss)
    assert loss is get_loss(name) is LOSSES.build(alias)
    assert loss.name == name


def test_unknown_loss_suggests_the_closest_name() -> None:
    with pytest.raises(RegistryError, match="did you mean 'hinge'"):
        get_loss("hinge_loss")
