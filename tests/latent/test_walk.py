"""The latent walk stays in the typical set, moves in small even steps, turns gradually, and explores."""

from __future__ import annotations

import math

import pytest
import torch
from latent_helpers import conditional_r3gan

from ganforge.errors import ConfigError
from ganforge.latent import sphere_walk, walk_grid

D = 128


def walk(steps: int = 200, step_size: float = 0.2, smoothness: float = 0.9, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return sphere_walk(torch.randn(D, generator=gen), steps, step_size, smoothness, generator=gen)


def test_every_point_is_a_typical_gaussian_latent():
    """N(0, I) in 128-D has norm sqrt(d) ± 0.71: the walk never leaves that shell."""
    path = walk()
    assert path.shape == (200, D)
    assert (path.norm(dim=-1) - math.sqrt(D)).abs().max() < 1e-3
    # Per-coordinate statistics of the visited points stay standard-normal-like too.
    assert abs(path.mean().item()) < 0.1 and abs(path.std().item() - 1.0) < 0.05


def test_steps_are_small_and_all_the_same_length():
    path = walk(step_size=0.2)
    step = (path[1:] - path[:-1]).norm(dim=-1)
    expected = 2 * math.sqrt(D) * math.sin(0.1)  # chord of a 0.2 rad arc on the sqrt(d) sphere
    assert (step - expected).abs().max() < 1e-3
    assert expected < 0.2 * math.sqrt(2 * D)  # vs ~sqrt(2d) between independent draws


def test_momentum_makes_the_path_smooth_and_zero_smoothness_does_not():
    def turn(path: torch.Tensor) -> float:
        d = path[1:] - path[:-1]
        return torch.nn.functional.cosine_similarity(d[1:], d[:-1], dim=-1).mean().item()

    smooth, jittery = turn(walk(smoothness=0.95)), turn(walk(smoothness=0.0))
    assert smooth > 0.9, smooth
    assert jittery < 0.2, jittery  # independent directions in 128-D are near orthogonal


def test_the_walk_explores_instead_of_circling_in_place():
    path = walk(steps=120)
    gone = (path[-1] - path[0]).norm().item()
    assert gone > 0.5 * math.sqrt(D)  # far from the start: the angle travelled is well past 30°


def test_walks_are_reproducible_and_batched():
    torch.testing.assert_close(walk(seed=4), walk(seed=4))
    assert not torch.allclose(walk(seed=4), walk(seed=5))
    gen = torch.Generator().manual_seed(0)
    batch = sphere_walk(torch.randn(3, D, generator=gen), 10, generator=gen)
    assert batch.shape == (10, 3, D)
    assert (batch.norm(dim=-1) - math.sqrt(D)).abs().max() < 1e-3


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"steps": 0}, "at least 1"), ({"step_size": 0}, "radians"), ({"smoothness": 1}, "[0, 1)")],
)
def test_bad_walk_settings_are_clear_errors(kwargs, needle):
    args = {"steps": 5, "step_size": 0.2, "smoothness": 0.9, **kwargs}
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace(")", r"\)")):
        sphere_walk(torch.randn(D), **args)


def test_walk_frames_are_the_generator_images_of_the_path():
    g = conditional_r3gan()
    frames = walk_grid(g, steps=6, rows=2, seed=3, label=7)
    assert frames.shape == (2, 6, 1, 32, 32)
    gen = torch.Generator().manual_seed(3)
    start = g.sample_z(2, generator=gen)
    path = sphere_walk(start, 6, generator=gen)  # (6, 2, z_dim)
    with torch.no_grad():
        expected = g(path[:, 1], torch.full((6,), 7))
    torch.testing.assert_close(frames[1], expected, atol=1e-5, rtol=0)
    change = (frames[:, 1:] - frames[:, :-1]).abs().mean()
    assert 0 < change < (frames[0] - frames[1]).abs().mean()  # consecutive frames closer than two walks
