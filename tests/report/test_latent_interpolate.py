"""``ganforge.latent``: lerp/slerp maths, and the report's interpolation strip built on them."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.latent import interpolation_path, lerp, slerp
from ganforge.tasks.views import INTERP_ROWS, INTERP_STEPS, SEED, interpolation_strip
from ganforge.utils.images import to_uint8


@pytest.mark.parametrize("fn", [lerp, slerp])
def test_paths_start_and_end_at_the_two_latents(fn: Callable[..., torch.Tensor]) -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 16, generator=gen), torch.randn(5, 16, generator=gen)
    assert torch.allclose(fn(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(fn(a, b, 1.0), b, atol=1e-5)
    path = fn(a, b, [0.0, 0.25, 0.5, 1.0])
    assert path.shape == (4, 5, 16)
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)


def test_slerp_stays_on_the_gaussian_shell_where_lerp_falls_inside() -> None:
    """The reason for slerp: midpoints of two N(0, I) draws in 128-D keep norm ~sqrt(d) with slerp
    but shrink to ~sqrt(d / 2) with lerp, far outside the norms the generator was trained on."""
    d = 128
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(256, d, generator=gen), torch.randn(256, d, generator=gen)
    shell = torch.cat([a, b]).norm(dim=-1)
    mid_s, mid_l = slerp(a, b, 0.5).norm(dim=-1), lerp(a, b, 0.5).norm(dim=-1)
    ends = (a.norm(dim=-1) + b.norm(dim=-1)) / 2
    assert (mid_s - ends).abs().max() < 0.05 * math.sqrt(d)
    assert abs(mid_l.mean() - math.sqrt(d / 2)) < 0.3
    assert (shell.mean() - mid_l.mean()) / shell.std() > 4  # lerp's midpoint: >4 std inside the shell


def test_slerp_keeps_equal_norms_all_along_the_arc() -> None:
    a = torch.tensor([3.0, 0.0, 0.0])
    b = torch.tensor([0.0, 0.0, 3.0])
    path = slerp(a, b, torch.linspace(0, 1, 9))
    assert torch.allclose(path.norm(dim=-1), torch.full((9,), 3.0), atol=1e-5)
    assert torch.allclose(path[4], torch.tensor([3.0, 0.0, 3.0]) / math.sqrt(2), atol=1e-5)


def test_slerp_of_parallel_or_opposite_latents_is_finite() -> None:
    a = torch.tensor([[1.0, 2.0], [1.0, 0.0]])
    b = torch.tensor([[2.0, 4.0], [-1.0, 0.0]])
    out = slerp(a, b, torch.linspace(0, 1, 5))
    assert torch.isfinite(out).all()
    assert torch.allclose(out[2, 0], torch.tensor([1.5, 3.0]))  # parallel: the chord is the arc


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="same shape"):
        slerp(torch.zeros(3), torch.zeros(4), 0.5)
    with pytest.raises(ValueError, match="at least 2 points"):
        interpolation_path(torch.zeros(3), torch.ones(3), 1)
    with pytest.raises(ValueError, match="unknown interpolation method"):
        interpolation_path(torch.zeros(3), torch.ones(3), 4, method="cubic")


def test_strip_rows_run_from_one_fixed_latent_to_the_other(image_run: Path) -> None:
    """Cell (r, 0) and (r, last) of the report's strip are exactly the generator's images of the
    row's two end latents (seed ``SEED``), with that row's class."""
    handle = ganforge.load(image_run)
    uri = interpolation_strip(handle)
    strip = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    g = handle.generator
    ends = g.sample_z(2 * INTERP_ROWS, generator=torch.Generator().manual_seed(SEED))
    labels = torch.arange(INTERP_ROWS).repeat_interleave(2) % g.num_classes
    with torch.no_grad():
        expected = to_uint8(g(ends, labels))[..., 0]  # (2 * rows, 32, 32), grey
    size, pad, scale = 32, 2, 2
    for r in range(INTERP_ROWS):
        for col, k in ((0, 2 * r), (INTERP_STEPS - 1, 2 * r + 1)):
            top, left = scale * (pad + r * (size + pad)), scale * (pad + col * (size + pad))
            cell = strip[top : top + scale * size : scale, left : left + scale * size : scale]
            assert np.abs(cell.astype(int) - expected[k].astype(int)).max() <= 1, (r, col)
