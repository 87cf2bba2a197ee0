"""Every image family at every power of two from 32 to 1024 px (issue 18, item 2).

The registry battery (test_registry_models.py) checks every family at 32 to 128 px; here the larger
sizes: tiny variants build, run forward and backward and stay in range at 256 and 1024 (512 for the
families whose layout has a table per size); full-size variants keep a sane parameter count at
1024 px, their widths shrinking as the resolution grows; a tiny model trains on a folder of photos
at 1024 px on the CPU.
"""

from __future__ import annotations

import math
import time

import pytest
import torch

import ganforge
import ganforge.models
from ganforge.config import load_config
from ganforge.errors import DataError
from ganforge.models.base import IMAGE_RESOLUTIONS
from ganforge.models.biggan import D_WIDTHS, G_WIDTHS
from ganforge.models.dcgan import stage_multipliers
from ganforge.models.r3gan import stage_widths
from ganforge.models.stylegan2 import channel_widths
from ganforge.registry import MODELS
from ganforge.testing import read_metrics, sample_photo_folder, tiny_config

FAMILIES = ("dcgan", "stylegan2", "r3gan", "biggan", "cgan", "projection_gan", "acgan")
CONDITIONAL = {"biggan", "cgan", "projection_gan", "acgan", "stylegan2", "r3gan"}
LARGE = [(256, 2), (1024, 1)]  # (resolution, batch)
# Full-size parameters (G + D) at 1024 px must stay below this: StyleGAN2's config F at 1024 has ~59M.
MAX_FULL_PARAMS = 60_000_000


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_every_listed_family_declares_every_power_of_two() -> None:
    assert IMAGE_RESOLUTIONS == (32, 64, 128, 256, 512, 1024)
    for name in FAMILIES:
        for variant in (name, f"{name}_tiny"):
            assert MODELS.get(variant).meta["resolutions"] == IMAGE_RESOLUTIONS, variant


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize(("res", "batch"), LARGE, ids=["256", "1024"])
def test_tiny_variant_trains_at_large_resolutions(name: str, res: int, batch: int) -> None:
    """Forward in range with finite logits, and within two SGD steps a gradient for every parameter
    of G and D (two, as in the registry battery: R3GAN's zero-initialised branch ends and BigGAN's
    attention gate open after their first update). AC-GAN's class head is left out: the acgan
    objective trains it through ``adv_and_class``, not through ``forward``."""
    torch.manual_seed(0)
    k = 10 if name in CONDITIONAL else 0
    nets = MODELS.build(f"{name}_tiny", (3, res, res), num_classes=k)
    g, d = nets["g"], nets["d"]
    y = torch.arange(batch) % 10 if g.conditional else None
    params = {f"{tag}.{n}": p for tag, net in nets.items() for n, p in net.named_parameters()}
    params = {n: p for n, p in params.items() if not n.startswith("d.classify.")}  # AC-GAN's class head
    reached = dict.fromkeys(params, False)
    opt = torch.optim.SGD(params.values(), lr=0.01)
    for _ in range(2):
        opt.zero_grad()
        x = g(g.sample_z(batch), y)
        assert x.shape == (batch, 3, res, res) and torch.isfinite(x).all()
        assert x.min() >= -1 and x.max() <= 1
        logits = d(x, y)
        assert logits.shape == (batch,) and torch.isfinite(logits).all()
        (logits * torch.randn(batch)).sum().backward()
        for n, p in params.items():
            reached[n] |= p.grad is not None and bool(torch.count_nonzero(p.grad))
        opt.step()
    assert [n for n, ok in reached.items() if not ok] == [], "no gradient reaches these"


@pytest.mark.parametrize("name", ["dcgan", "biggan", "r3gan"])
def test_tiny_variant_builds_at_512(name: str) -> None:
    nets = MODELS.build(f"{name}_tiny", (1, 512, 512))
    with torch.no_grad():
        assert nets["d"](nets["g"](nets["g"].sample_z(1))).shape == (1,)


@pytest.mark.parametrize("name", FAMILIES)
def test_full_size_parameter_count_at_1024_is_sane(name: str) -> None:
    """Widths shrink as the resolution grows, so 1024 px costs about what 128 px does, not 8x more
    channels at 4x4 (DCGAN's plain doubling would give 8,192 channels there and ~250M parameters)."""
    k = 10 if name in CONDITIONAL else 0
    sizes = {}
    for res in (128, 1024):
        nets = MODELS.build(name, (3, res, res), num_classes=k)
        sizes[res] = count(nets["g"]) + count(nets["d"])
    print(f"{name}: {sizes[128] / 1e6:.2f}M params at 128 px, {sizes[1024] / 1e6:.2f}M at 1024 px")
    assert sizes[1024] < MAX_FULL_PARAMS
    assert sizes[1024] < 3 * sizes[128]


def test_widths_shrink_as_the_resolution_grows() -> None:
    """Above 128 px every family's added stages are no wider than the stage before them."""
    assert stage_multipliers(1024) == [1, 1, 1, 1, 2, 4, 8, 16]
    assert stage_widths(1024, 64, 256) == [256, 256, 256, 256, 128, 64, 32, 16, 8]
    assert stage_widths(256, 8, 32) == [32, 32, 32, 32, 16, 8, 4]
    assert channel_widths(1024, 32768, 512)[1024] == 32  # the paper's config F
    assert max(G_WIDTHS[1024]) == max(G_WIDTHS[128]) and max(D_WIDTHS[1024]) == max(D_WIDTHS[128])


@pytest.mark.parametrize(
    ("res", "old"),
    [(32, [1, 2, 4]), (64, [1, 2, 4, 8]), (128, [1, 2, 4, 8, 16])],
)
def test_layouts_up_to_128_are_unchanged(res: int, old: list[int]) -> None:
    assert stage_multipliers(res) == old
    assert stage_widths(res, 64, 256) == [min(256, 64 * 2 ** (len(old) - i)) for i in range(len(old) + 1)]


def test_biggan_attends_at_64_px_at_most_by_default() -> None:
    """Half the image size would be 512 px at 1024: a 262,144² attention map."""
    g = MODELS.build("biggan_tiny", (3, 1024, 1024))["g"]
    assert g.attention_after == 3  # up-block outputs 8, 16, 32, 64: attention after the 64 px one


def test_tiny_model_trains_on_a_folder_at_1024_px(tmp_path) -> None:
    """Three steps of dcgan_tiny on photos resized to 1024 px, streamed and x-flipped, on the CPU.

    (The folder_1024 preset's StyleGAN2 tiny run, with ADA, R1 and path length, is slower: see
    tests/objectives/test_bundled_presets.py.)"""
    data = {
        "name": "folder",
        "path": str(sample_photo_folder()),
        "resolution": 1024,
        "cache": "none",
        "xflip": True,
        "workers": 0,
        "batch_size": 2,
    }
    raw = tiny_config("dcgan_tiny", data, {"loss": "ns"}, steps=3, log_every=1, ckpt_every=3, sample_every=3)
    start = time.perf_counter()
    run = ganforge.train(raw, out=tmp_path / "run")
    seconds = time.perf_counter() - start
    lines = read_metrics(run.path)
    print(f"dcgan_tiny at 1024 px, batch 2: 3 steps in {seconds:.1f} s")
    assert [m["step"] for m in lines] == [1, 2, 3]
    assert all(math.isfinite(m["loss_d"]) and math.isfinite(m["loss_g"]) for m in lines)
    assert run.config.data.resolution == 1024
    sample = ganforge.load(run.path).sample(1, seed=0)
    assert tuple(sample.shape[-2:]) == (1024, 1024)


@pytest.mark.parametrize("res", [64, 256, 1024])
def test_folder_presets_follow_stylegan2_ada_and_need_only_a_path(res: int, tmp_path) -> None:
    """R1 γ = 0.0002·res²/batch (StyleGAN2-ADA's heuristic), ADA on, bf16, streamed x-flipped data at
    the preset's size; without ``data.path`` the run stops before training with one DataError."""
    cfg = load_config(f"image/folder_{res}")
    assert cfg.data.name == "folder" and cfg.data.resolution == res and cfg.data.xflip
    assert cfg.data.params["cache"] == "none"
    gamma = 0.0002 * res**2 / cfg.data.batch_size
    assert cfg.objective.params["r1_gamma"] == pytest.approx(gamma, rel=1e-3)
    assert cfg.objective.params["augment"] == "ada" and cfg.train.precision == "bf16"
    with pytest.raises(DataError, match=r"data\.path"):
        ganforge.train(f"image/folder_{res}", out=tmp_path / "run")
