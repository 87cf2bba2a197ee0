"""Translation networks: U-Net, ResNet generator, PatchGAN; shapes, receptive fields, registration.

The registry-wide battery (tests/models/test_registry_models.py) drives latent generators; these
models declare ``inputs=("image_pair",)`` so it skips them, and this file gives them the same
checks: output shape and range, gradient to every parameter, channels_last and bf16 agreement.
"""

from __future__ import annotations

import pytest
import torch

from ganforge.errors import ConfigError
from ganforge.models.pix2pix import UNetGenerator, unet_depth
from ganforge.models.translation import (
    DiscriminatorPair,
    PatchDiscriminator,
    TranslationGenerator,
    patch_layers_for,
    patch_receptive_field,
)
from ganforge.registry import MODELS, create_model

TRANSLATION = ["pix2pix", "pix2pix_tiny", "cyclegan", "cyclegan_tiny"]
RESTORATION = {"srgan_tiny": (), "inpaint_tiny": ("mask",), "attr_edit_tiny": ("attr",)}
TINY_CASES = [("pix2pix_tiny", (1, 32, 32)), ("pix2pix_tiny", (3, 64, 64)), ("cyclegan_tiny", (1, 32, 32))]


def _score(name: str, d: torch.nn.Module, out: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
    if name.startswith("pix2pix"):
        return d(out, inp)
    return d(out, "B") + d(inp, "A").mean()


def test_translation_models_are_registered_apart_from_latent_ones() -> None:
    for name in [*TRANSLATION, *RESTORATION, *(n.removesuffix("_tiny") for n in RESTORATION)]:
        meta = MODELS.get(name).meta
        assert meta["inputs"] == ("image_pair",) and meta["task"] == "translation"
        assert "resolutions" not in meta  # load_data would resize x but not the inputs a


@pytest.mark.parametrize(("name", "conditions"), RESTORATION.items())
def test_restoration_models_declare_what_they_need_besides_the_image(name: str, conditions: tuple) -> None:
    g = create_model(name, shape=(1, 32, 32))["g"]
    assert isinstance(g, TranslationGenerator) and g.conditions == conditions
    assert g.out_shape == (1, 32, 32) and g.in_shape == ((1, 8, 8) if name == "srgan_tiny" else (1, 32, 32))


@pytest.mark.parametrize(("name", "shape"), TINY_CASES)
def test_shapes_range_and_gradients_reach_every_parameter(name: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    nets = create_model(name, shape=shape)
    g, d = nets["g"], nets["d"]
    assert isinstance(g, TranslationGenerator) and g.in_shape == g.out_shape == shape
    assert not hasattr(g, "sample_z")  # not a latent sampler: sampling code must tell them apart
    x = torch.rand(4, *shape) * 2 - 1
    params = {f"{t}.{n}": p for t, net in (("g", g), ("d", d)) for n, p in net.named_parameters()}
    reached = dict.fromkeys(params, False)
    for direction in g.directions:
        y = g(x, direction)
        assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
        logits = _score(name, d, y, x)
        assert logits.shape[:2] == (4, 1) and torch.isfinite(logits).all()
        g.zero_grad(), d.zero_grad()
        (logits * torch.randn_like(logits)).sum().backward()
        for pname, p in params.items():
            reached[pname] |= p.grad is not None and bool(torch.count_nonzero(p.grad))
    assert [p for p, ok in reached.items() if not ok] == []


@pytest.mark.parametrize(("name", "shape"), TINY_CASES[:1] + TINY_CASES[2:])
def test_channels_last_and_bf16_autocast_agree(name: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(1)
    nets = create_model(name, shape=shape)
    g, d = nets["g"].eval(), nets["d"].eval()
    x = torch.rand(2, *shape) * 2 - 1
    with torch.no_grad():
        reference = _score(name, d, g(x), x)
        g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
        xc = x.contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(_score(name, d, g(xc), xc), reference, atol=1e-5, rtol=1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = _score(name, d, g(x), x)
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), reference, atol=0.05, rtol=0.05)


def test_unet_depth_follows_the_image_side_and_skips_carry_the_input() -> None:
    assert [unet_depth(s) for s in (256, 32, 28, 64, 7)] == [8, 5, 2, 6, 0]
    nets = create_model("pix2pix", shape=(1, 32, 32), ngf=4, ndf=4)
    unet = nets["g"].ab
    assert len(unet.downs) == 5 and unet.downs[-1][-1].out_channels == 32  # 1x1 bottleneck, widths cap at 8x
    with torch.no_grad():
        assert unet.downs[-1](torch.zeros(1, 32, 2, 2)).shape[-1] == 1
    assert (
        create_model("pix2pix_tiny", shape=(1, 28, 28), depth=2)["g"](torch.zeros(2, 1, 28, 28)).shape[-1]
        == 28
    )
    # Dropout (pix2pix's noise) sits in the three innermost decoder layers only.
    drops = [i for i, up in enumerate(unet.ups) if any(isinstance(m, torch.nn.Dropout) for m in up)]
    assert drops == [2, 3, 4]
    with pytest.raises(ConfigError, match="divisible by 32"):
        create_model("pix2pix", shape=(1, 28, 28), depth=5)
    with pytest.raises(ConfigError, match="square"):
        create_model("cyclegan", shape=(1, 32, 16))


def test_unet_output_depends_on_input_detail_through_the_skips() -> None:
    """With the bottleneck cut (zeroed), the outermost skip still carries the input to the output."""
    torch.manual_seed(0)
    unet = UNetGenerator(1, 1, depth=3, ngf=4, dropout=0.0).eval()
    with torch.no_grad():
        unet.downs[-1][1].weight.zero_()  # nothing passes the bottleneck any more
    x = torch.rand(1, 1, 16, 16, requires_grad=True)
    unet(x)[0, 0, 8, 8].backward()
    assert x.grad[0, 0, 8, 8].abs() > 0


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_patchgan_receptive_field(layers: int) -> None:
    """One output logit depends on exactly a patch_receptive_field(layers)-pixel square of the input."""
    torch.manual_seed(0)
    d = PatchDiscriminator(1, ndf=4, layers=layers, norm="none").double()
    side = 2 * patch_receptive_field(layers) + 16
    x = torch.randn(1, 1, side, side, dtype=torch.float64, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[-2] // 2, out.shape[-1] // 2].backward()
    rows, cols = torch.nonzero(x.grad[0, 0]).unbind(1)
    assert (
        int(rows.max() - rows.min() + 1) == int(cols.max() - cols.min() + 1) == patch_receptive_field(layers)
    )
    assert patch_receptive_field(3) == 70  # Isola et al.'s 70x70 PatchGAN


def test_patch_size_scales_with_the_image() -> None:
    assert [patch_layers_for(s) for s in (32, 64, 128, 256)] == [1, 1, 2, 3]


def test_conditional_patchgan_and_direction_errors() -> None:
    nets = create_model("pix2pix_tiny", shape=(1, 32, 32))
    with pytest.raises(ValueError, match="conditional"):
        nets["d"](torch.zeros(1, 1, 32, 32))
    with pytest.raises(ConfigError, match="AtoB"):
        nets["g"](torch.zeros(1, 1, 32, 32), "BtoA")
    cyc = create_model("cyclegan_tiny", shape=(3, 32, 32))
    assert isinstance(cyc["d"], DiscriminatorPair) and cyc["g"].directions == ("AtoB", "BtoA")
    assert not torch.equal(cyc["g"].ab.main[1].weight, cyc["g"].ba.main[1].weight)  # two generators


def test_builders_reject_bad_sizes() -> None:
    with pytest.raises(ConfigError, match="ngf"):
        create_model("pix2pix", shape=(1, 32, 32), ngf=0)
    with pytest.raises(ConfigError, match="dropout"):
        create_model("pix2pix", shape=(1, 32, 32), dropout=1.0)
    with pytest.raises(ConfigError, match="norm"):
        create_model("cyclegan", shape=(1, 32, 32), norm="layer")
    with pytest.raises(ConfigError, match="translates"):
        create_model("cyclegan", shape=(2,))
