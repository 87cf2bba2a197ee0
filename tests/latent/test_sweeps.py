"""Latent interpolation, class interpolation and truncation sweeps, and how they are written out."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from latent_helpers import conditional_r3gan
from PIL import Image

from ganforge.errors import ConfigError
from ganforge.latent import (
    class_interpolation_grid,
    gif_frames,
    interpolation_grid,
    label_path,
    parse_psis,
    save_sweep,
    slerp,
    truncation_grid,
)
from ganforge.latent.common import labels_for
from ganforge.registry import create_model


@pytest.fixture(scope="module")
def g():
    return conditional_r3gan()


@pytest.fixture(scope="module")
def uncond():
    torch.manual_seed(0)
    return create_model("dcgan_tiny", shape=(1, 32, 32))["g"].eval()


def draw(g, z, y=None, psi=1.0):
    with torch.no_grad():
        return g.generate(z, y, truncation=psi)


# --- slerp and label paths ------------------------------------------------------------------------


def test_slerp_endpoints_are_exact_and_norms_are_preserved():
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(16, 64, generator=gen)
    b = torch.nn.functional.normalize(torch.randn(16, 64, generator=gen), dim=-1) * a.norm(
        dim=-1, keepdim=True
    )
    path = slerp(a, b, torch.linspace(0, 1, 11))
    torch.testing.assert_close(path[0], a, atol=1e-5, rtol=0)
    torch.testing.assert_close(path[-1], b, atol=1e-5, rtol=0)
    torch.testing.assert_close(path.norm(dim=-1), a.norm(dim=-1).expand(11, -1), atol=1e-4, rtol=0)


def test_label_path_runs_along_the_simplex_between_two_one_hots():
    path = label_path(3, 8, 5, 10)
    assert path.shape == (5, 10)
    assert path[0].argmax() == 3 and path[0].max() == 1 and path[-1].argmax() == 8 and path[-1].max() == 1
    torch.testing.assert_close(path.sum(1), torch.ones(5))
    assert (path >= 0).all() and torch.allclose(path[2, [3, 8]], torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="0-9"):
        label_path(3, 10, 5, 10)


# --- latent interpolation -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["slerp", "lerp"])
def test_interpolation_rows_end_at_the_images_of_their_two_seeded_latents(g, method):
    grid = interpolation_grid(g, rows=3, steps=5, method=method, seed=7)
    assert grid.shape == (3, 5, 1, 32, 32)
    ends = g.sample_z(6, generator=torch.Generator().manual_seed(7))
    labels = torch.arange(3) % 10  # one class per row
    first, last = draw(g, ends[0::2], labels), draw(g, ends[1::2], labels)
    torch.testing.assert_close(grid[:, 0], first, atol=1e-5, rtol=0)
    torch.testing.assert_close(grid[:, -1], last, atol=1e-5, rtol=0)
    steps = (grid[:, 1:] - grid[:, :-1]).abs().mean()
    assert steps > 0 and (grid[:, 0] - grid[:, -1]).abs().mean() > steps  # it moves, gradually


def test_interpolation_label_fixes_every_row_and_is_checked(g, uncond):
    grid = interpolation_grid(g, rows=2, steps=3, label=5, seed=1)
    ends = g.sample_z(4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(grid[:, 0], draw(g, ends[0::2], torch.tensor([5, 5])), atol=1e-5, rtol=0)
    with pytest.raises(ConfigError, match="classes 0-9"):
        interpolation_grid(g, label=10)
    with pytest.raises(ConfigError, match="unconditional"):
        interpolation_grid(uncond, label=1)
    with pytest.raises(ConfigError, match="at least 2"):
        interpolation_grid(g, steps=1)


# --- class interpolation --------------------------------------------------------------------------


def test_class_interpolation_ends_are_the_hard_label_samples(g):
    grid = class_interpolation_grid(g, 3, 8, rows=4, steps=6, seed=2)
    assert grid.shape == (4, 6, 1, 32, 32)
    z = g.sample_z(4, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(grid[:, 0], draw(g, z, torch.full((4,), 3)), atol=1e-6, rtol=0)
    torch.testing.assert_close(grid[:, -1], draw(g, z, torch.full((4,), 8)), atol=1e-6, rtol=0)
    middle = grid[:, 3]  # neither class: a genuine blend, different from both ends
    assert (middle - grid[:, 0]).abs().mean() > 1e-3 and (middle - grid[:, -1]).abs().mean() > 1e-3


def test_class_interpolation_needs_a_conditional_generator_and_real_classes(g, uncond):
    with pytest.raises(ConfigError, match="conditional"):
        class_interpolation_grid(uncond, 0, 1)
    with pytest.raises(ConfigError, match="end class 12"):
        class_interpolation_grid(g, 0, 12)


# --- truncation -----------------------------------------------------------------------------------


def test_truncation_rows_share_seeds_and_psi_zero_collapses_every_seed(g, uncond):
    """For generators that truncate by scaling z (all but StyleGAN's w̄), ψ = 0 is z = 0: one image."""
    for gen, label in ((uncond, None), (g, 4)):
        sweep = truncation_grid(gen, [1.0, 0.5, 0.0], n=5, seed=3, label=label)
        assert sweep.shape == (3, 5, 1, 32, 32)
        z = gen.sample_z(5, generator=torch.Generator().manual_seed(3))
        y = labels_for(gen, 5, label)
        torch.testing.assert_close(sweep[0], draw(gen, z, y), atol=1e-6, rtol=0)
        torch.testing.assert_close(sweep[1], draw(gen, z * 0.5, y), atol=1e-6, rtol=0)
        torch.testing.assert_close(sweep[2], sweep[2, :1].expand_as(sweep[2]), atol=1e-6, rtol=0)
        spread = [sweep[i].std(0).mean().item() for i in range(3)]
        assert spread[0] > spread[1] > spread[2]  # variety shrinks with ψ


def test_truncation_default_labels_cycle_over_classes(g):
    sweep = truncation_grid(g, [0.0], n=3, seed=0)
    assert (sweep[0, 0] - sweep[0, 1]).abs().max() > 1e-3  # ψ = 0, classes 0 and 1: two class means


@pytest.mark.parametrize(
    ("text", "needle"), [("1,abc", "numbers"), ("1,1.5", "[0, 1]"), ("-0.2", "[0, 1]"), (" , ", "at least")]
)
def test_bad_psis_are_one_clear_error(text, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        parse_psis(text)


def test_psis_parse_in_order():
    assert parse_psis("1, 0.7,0") == [1.0, 0.7, 0.0]


# --- pictures -------------------------------------------------------------------------------------


def test_png_grid_has_a_row_per_path_and_gif_a_frame_per_step(g, tmp_path):
    sweep = interpolation_grid(g, rows=3, steps=4, seed=0)
    png = Image.open(save_sweep(sweep, tmp_path / "s.png"))
    scale, pad = 2, 2  # 32 px images are drawn at 64 px
    assert png.size == (4 * (32 + pad) * scale + pad * scale, 3 * (32 + pad) * scale + pad * scale)
    gif = Image.open(save_sweep(sweep, tmp_path / "s.gif", bounce=True))
    assert gif.n_frames == 4 + 2  # forth, then back without repeating the ends
    assert gif.size == (3 * (32 + pad) * scale + pad * scale, (32 + pad) * scale + pad * scale)
    assert len(gif_frames(sweep)) == 4
    with pytest.raises(ConfigError, match=r"\.png or \.gif"):
        save_sweep(sweep, tmp_path / "s.jpg")


def test_gif_frames_show_the_sweep_columns(g, tmp_path):
    sweep = interpolation_grid(g, rows=1, steps=3, seed=0)
    gif = Image.open(save_sweep(sweep, tmp_path / "s.gif"))
    frames = []
    for i in range(gif.n_frames):
        gif.seek(i)
        frames.append(torch.from_numpy(np.asarray(gif.convert("L"), dtype=np.float32)))
    expected = [torch.from_numpy(np.asarray(f, dtype=np.float32)) for f in gif_frames(sweep)]
    for got, want in zip(frames, expected, strict=True):
        assert (got - want).abs().max() <= 1
    assert not math.isclose(float((frames[0] - frames[-1]).abs().mean()), 0.0)
