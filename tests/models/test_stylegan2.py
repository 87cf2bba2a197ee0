"""StyleGAN2 networks: the properties the paper relies on, checked on the tiny variant.

Demodulation normalises a layer's expected output statistics (Eq. 1-3); the generator tracks w̄ and
truncates toward it; noise is random in training and fixed in eval mode; the resampling filter is
bilinear; the discriminator's minibatch-stddev and projection conditioning react to what they should.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import ganforge.models  # noqa: F401  (fills the registry)
from ganforge.errors import ConfigError
from ganforge.models.stylegan2 import StyleGAN2Generator, channel_widths
from ganforge.nn.modulated import (
    MinibatchStd,
    ModulatedConv2d,
    downsample2d,
    fir_filter,
    stddev_group_size,
    upsample2d,
)
from ganforge.registry import MODELS


def build(shape=(1, 32, 32), num_classes=0, **kwargs):
    torch.manual_seed(0)
    nets = MODELS.build("stylegan2_tiny", shape, num_classes, **kwargs)
    return nets["g"], nets["d"]


def with_noise_strength(g: StyleGAN2Generator, value: float) -> StyleGAN2Generator:
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("noise.strength"):
                p.fill_(value)
    return g


@pytest.mark.parametrize(("shape", "num_ws"), [((1, 32, 32), 8), ((3, 64, 64), 10)])
@pytest.mark.parametrize("num_classes", [0, 10])
def test_tiny_shapes_of_w_ws_images_and_logits(shape, num_ws, num_classes):
    g, d = build(shape, num_classes)
    assert g.conditional == (num_classes > 0) and d.conditional == (num_classes > 0)
    assert g.num_ws == num_ws and g.w_dim == 32 and g.z_dim == 32
    z = g.sample_z(6)
    y = torch.arange(6) % 10 if num_classes else None
    w = g.mapping(z, y)
    assert w.shape == (6, 32)
    ws = w[:, None].repeat(1, num_ws, 1)
    img = g.synthesis(ws)
    assert img.shape == (6, *shape) and torch.isfinite(img).all()
    assert d(img, y).shape == (6,)
    g.eval()
    torch.testing.assert_close(g.synthesis(w), g.synthesis(ws))  # (N, w_dim) is broadcast to every layer
    torch.testing.assert_close(g(z, y), g.synthesis(g.mapping(z, y)))
    with pytest.raises(ValueError, match=f"\\(N, {num_ws}, 32\\)"):
        g.synthesis(ws[:, :-1])


def test_widths_follow_channel_base_over_resolution_capped_at_channel_max():
    assert channel_widths(32, 256, 16) == {4: 16, 8: 16, 16: 16, 32: 8}
    assert channel_widths(128, 16384, 256) == {4: 256, 8: 256, 16: 256, 32: 256, 64: 256, 128: 128}


@pytest.mark.parametrize(
    ("shape", "kwargs", "needle"),
    [
        ((1, 48, 48), {}, "48"),
        ((1, 32, 32), {"w_dim": 0}, "model.w_dim"),
        ((1, 32, 32), {"mapping_layers": 0}, "model.mapping_layers"),
        ((1, 32, 32), {"mapping_lr_mul": 0.0}, "model.mapping_lr_mul"),
        ((2,), {}, "mlp"),
    ],
)
def test_bad_sizes_are_config_errors(shape, kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        MODELS.build("stylegan2_tiny", shape, **kwargs)


# --- layers ---------------------------------------------------------------------------------------


def test_demodulation_keeps_unit_output_std_for_unit_variance_inputs_whatever_the_style():
    """Eq. 3: dividing by σ_j = sqrt(Σ w'²) gives outputs of unit std when inputs are i.i.d. N(0, 1)."""
    torch.manual_seed(0)
    x = torch.randn(8, 64, 16, 16)
    upsampled_stds = []
    for scale in (0.1, 1.0, 30.0):
        w = torch.randn(8, 32) * scale  # styles of very different magnitudes
        for up in (1, 2):
            demod = ModulatedConv2d(64, 48, 3, w_dim=32, demodulate=True, up=up)
            with torch.no_grad():
                demod.affine.weight.mul_(3.0)  # styles far from 1, so modulation really rescales
                out = demod(x, w)
            # Per sample and output map (each is normalised separately), away from the zero padding.
            std = out[:, :, 2:-2, 2:-2].std(dim=(2, 3)).mean().item()
            if up == 1:
                assert std == pytest.approx(1.0, abs=0.05), scale
            else:  # the upsampled input is not i.i.d. (zero insertion + blur), but the scale still cancels
                upsampled_stds.append(std)
    assert max(upsampled_stds) / min(upsampled_stds) < 1.1
    plain = ModulatedConv2d(64, 48, 3, w_dim=32, demodulate=False)
    with torch.no_grad():
        std = plain(x, torch.randn(8, 32) * 30.0).std().item()
    assert not 0.5 < std < 2.0  # without demodulation the style's scale goes straight through


def test_fir_resampling_is_bilinear_in_the_interior_and_keeps_constants():
    f = fir_filter()
    assert f.sum().item() == pytest.approx(1.0)
    x = torch.randn(2, 3, 8, 8)
    up = upsample2d(x, f)
    reference = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(up[..., 1:-1, 1:-1], reference[..., 1:-1, 1:-1])
    ones = torch.ones(1, 1, 8, 8)
    assert torch.allclose(upsample2d(ones, f)[..., 1:-1, 1:-1], torch.ones(1))
    assert torch.allclose(downsample2d(ones, f)[..., 1:-1, 1:-1], torch.ones(1))
    assert downsample2d(x, f).shape == (2, 3, 4, 4)


def test_minibatch_stddev_groups_fit_the_batch_and_measure_spread():
    assert [stddev_group_size(n, 4) for n in (32, 6, 7, 2, 1)] == [4, 3, 1, 2, 1]
    layer = MinibatchStd(group_size=4)
    same = torch.randn(1, 5, 4, 4).repeat(8, 1, 1, 1)
    spread = torch.randn(8, 5, 4, 4)
    assert layer(same).shape == (8, 6, 4, 4)
    assert layer(same)[:, -1].abs().max() < 1e-3  # identical samples: no spread
    assert layer(spread)[:, -1].min() > 0.5
    # Samples i and i + N/G share a group (ProGAN's strided grouping): the feature is equal there.
    feature = layer(spread)[:, -1, 0, 0]
    torch.testing.assert_close(feature[:2].repeat(4), feature)


# --- generator ------------------------------------------------------------------------------------


def test_w_avg_tracks_the_mean_w_in_train_mode_only():
    g, _ = build()
    z = g.sample_z(64, generator=torch.Generator().manual_seed(1))
    g.eval()
    g(z)
    assert torch.count_nonzero(g.w_avg) == 0  # sampling never moves w̄
    g.train()
    w = g.mapping(z, update_w_avg=False)
    assert torch.count_nonzero(g.w_avg) == 0
    g(z)
    torch.testing.assert_close(g.w_avg, 0.005 * w.mean(dim=0))  # EMA with β = 0.995 from 0
    before = g.w_avg.clone()
    g(z)
    torch.testing.assert_close(g.w_avg, w.mean(dim=0).lerp(before, 0.995))


def test_truncation_psi_zero_gives_the_class_centre_image_whatever_z():
    g, _ = build(num_classes=3)
    g.train()
    for _ in range(30):  # move w̄ and the class centres away from their zero start
        g.mapping(g.sample_z(48), torch.arange(48) % 3)
    g.eval()
    z = g.sample_z(4, generator=torch.Generator().manual_seed(2))
    y = torch.full((4,), 1)
    centre = g.generate(z, y, truncation=0.0)
    torch.testing.assert_close(centre, centre[:1].expand_as(centre))
    other = g.generate(z, torch.full((4,), 2), truncation=0.0)
    assert (other - centre).abs().mean() > 1e-3  # one centre per class, not one global w̄
    torch.testing.assert_close(g.generate(z, y, truncation=1.0), g(z, y))
    # ψ in (0, 1) lies between: images closer to the centre than the untruncated ones.
    half = g.generate(z, y, truncation=0.5)
    assert (half - centre).abs().mean() < (g(z, y) - centre).abs().mean()
    with pytest.raises(ValueError, match="truncation"):
        g.generate(z, y, truncation=1.5)


def test_unconditional_truncation_shrinks_toward_w_avg():
    g, _ = build()
    g.train()
    g(g.sample_z(64))
    g.eval()
    z = g.sample_z(3)
    torch.testing.assert_close(g.generate(z, truncation=0.0), g.synthesis(g.w_avg[None].expand(3, -1)))


def test_noise_is_random_in_train_mode_and_fixed_in_eval_mode():
    g = with_noise_strength(build()[0], 0.5)
    z = g.sample_z(2, generator=torch.Generator().manual_seed(3))
    g.train()
    assert not torch.equal(g(z), g(z))
    g.eval()
    rng = torch.get_rng_state()
    first = g(z)
    assert torch.equal(torch.get_rng_state(), rng), "eval-mode sampling drew from the global RNG"
    assert torch.equal(first, g(z))
    assert torch.equal(g.synthesis(g.mapping(z), noise_mode="none"), g.synthesis(g.mapping(z), "none"))
    assert not torch.equal(first, g.synthesis(g.mapping(z), noise_mode="none"))
    g.noise_mode = "random"
    assert not torch.equal(g(z), g(z))


def test_soft_labels_condition_like_hard_labels_and_missing_labels_are_errors():
    g, d = build(num_classes=4)
    g.eval()
    z, y = g.sample_z(4), torch.tensor([0, 1, 2, 3])
    soft = F.one_hot(y, 4).float()
    torch.testing.assert_close(g(z, soft), g(z, y))
    torch.testing.assert_close(d(g(z, y), soft), d(g(z, y), y))
    assert not torch.allclose(g(z, y), g(z, y.roll(1)))  # labels change the image
    x = torch.randn(4, 1, 32, 32)
    assert not torch.allclose(d(x, y), d(x, y.roll(1)))  # and the projection score
    with pytest.raises(ConfigError, match="generator is conditional"):
        g(z)
    with pytest.raises(ConfigError, match="discriminator is conditional"):
        d(x)


def test_unconditional_switch_ignores_the_data_labels():
    g, d = build(num_classes=10, conditional=False)
    assert not g.conditional and not d.conditional and g.num_classes == 10
    g.eval()
    z = g.sample_z(2)
    torch.testing.assert_close(g(z, torch.tensor([1, 2])), g(z))


def test_every_parameter_of_a_conditional_model_gets_a_gradient():
    g, d = build(num_classes=3)
    g = with_noise_strength(g, 0.1)
    y = torch.tensor([0, 1, 2, 0])
    (d(g(g.sample_z(4), y), y) * torch.randn(4)).sum().backward()
    for net in (g, d):
        for name, p in net.named_parameters():
            assert p.grad is not None and torch.count_nonzero(p.grad) > 0, name


def test_bf16_autocast_runs_the_convolutions_in_bf16_and_stays_close_to_fp32():
    g, d = build((3, 64, 64), num_classes=2)
    g.eval()
    z, y = g.sample_z(4, generator=torch.Generator().manual_seed(4)), torch.tensor([0, 1, 0, 1])
    with torch.no_grad():
        reference_img = g(z, y)
        reference = d(reference_img, y)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            img = g(z, y)
            logits = d(img, y)
            w = g.mapping(z, y)
    assert img.dtype == torch.bfloat16 and w.dtype == torch.float32  # mapping stays fp32 on purpose
    assert (img.float() - reference_img).abs().mean() < 0.05 * reference_img.abs().mean()
    torch.testing.assert_close(logits.float(), reference, atol=0.1, rtol=0.05)
