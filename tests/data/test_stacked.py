"""StackedMNIST: three real digits per sample, labels that name the mode, seeded and split-aware."""

from __future__ import annotations

import pytest
import torch

from ganforge.data import build_dataset
from ganforge.data.embedded import mnist_arrays
from ganforge.errors import ConfigError


def digit_lookup(split: str) -> dict[bytes, int]:
    x, labels = mnist_arrays(split)
    return {img.numpy().tobytes(): int(lab) for img, lab in zip(x[:, 0], labels, strict=True)}


def test_each_channel_is_a_real_digit_and_the_label_names_all_three():
    data = build_dataset("stacked_mnist", n=300)
    assert data.x.shape == (300, 3, 32, 32) and data.num_classes == 1000
    assert data.y is not None and int(data.y.min()) >= 0 and int(data.y.max()) < 1000
    lookup = digit_lookup("all")
    for img, label in zip(data.x, data.y, strict=True):
        digits = [lookup[img[c].numpy().tobytes()] for c in range(3)]
        assert int(label) == 100 * digits[0] + 10 * digits[1] + digits[2]


def test_modes_are_about_uniform():
    data = build_dataset("stacked_mnist", n=20_000)
    assert data.y is not None
    counts = torch.bincount(data.y, minlength=1000)
    assert int((counts > 0).sum()) == 1000  # every mode present
    assert counts.float().std() / counts.float().mean() < 0.3  # ~Poisson(20) spread, not skewed


def test_seed_and_split_choose_the_draw():
    a, b = build_dataset("stacked_mnist", n=50), build_dataset("stacked_mnist", n=50)
    assert torch.equal(a.x, b.x)
    assert not torch.equal(a.x, build_dataset("stacked_mnist", n=50, seed=1).x)
    test_digits = digit_lookup("test")
    held_out = build_dataset("stacked_mnist", n=50, split="test")
    assert all(img[c].numpy().tobytes() in test_digits for img in held_out.x for c in range(3))
    assert build_dataset("stacked_mnist", n=8, resolution=64).x.shape == (8, 3, 64, 64)


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_sizes_are_config_errors(n):
    with pytest.raises(ConfigError, match=r"data\.n must be a positive integer"):
        build_dataset("stacked_mnist", n=n)
