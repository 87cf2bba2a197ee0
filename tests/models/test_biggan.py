"""BigGAN lite (Brock et al. 2019): architecture wiring, conditioning, spectral norm, truncation, and a
short conditional training that must make G's output obey its label."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.functional import avg_pool2d, one_hot
from torch.nn.utils import parametrize

import ganforge
from ganforge.config import load_config
from ganforge.errors import ConfigError
from ganforge.models.biggan import attention_resolutions, chunk_sizes
from ganforge.nn.attention import SelfAttention2d
from ganforge.nn.resblocks import DownBlock
from ganforge.nn.spectral import SPECTRAL_NORM_LAYERS, apply_spectral_norm
from ganforge.registry import MODELS
from ganforge.training.build import build_networks, build_session

CLASSES = 4


def build(shape: tuple[int, ...] = (1, 32, 32), num_classes: int = CLASSES, **kwargs: object) -> tuple:
    torch.manual_seed(0)
    nets = MODELS.build("biggan_tiny", shape, num_classes, **kwargs)
    return nets["g"], nets["d"]


def latents(g: nn.Module, n: int, seed: int = 1) -> torch.Tensor:
    return g.sample_z(n, generator=torch.Generator().manual_seed(seed))


# --- architecture ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("resolution", "channels"), [(32, 1), (64, 3), (128, 3)])
def test_shapes_and_range_at_every_resolution(resolution: int, channels: int) -> None:
    g, d = build((channels, resolution, resolution))
    y = torch.arange(3) % CLASSES
    with torch.no_grad():
        x = g(latents(g, 3), y)
        logits = d(x, y)
    assert g.conditional and g.out_shape == (channels, resolution, resolution)
    assert x.shape == (3, channels, resolution, resolution) and x.abs().max() <= 1
    assert logits.shape == (3,) and torch.isfinite(logits).all()
    # One up-block per doubling from 4x4 (Table 4) and self-attention at half the image size.
    assert len(g.blocks) == int(np.log2(resolution)) - 2
    attn = [m for net in (g, d) for m in net.modules() if isinstance(m, SelfAttention2d)]
    assert len(attn) == 2


def spatial_size_entering(module: nn.Module, run: Callable[[], object]) -> int:
    """Height/width of the input ``module`` receives while ``run()`` executes."""
    seen: list[int] = []
    handle = module.register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape[-1]))
    with torch.no_grad():
        run()
    handle.remove()
    return seen[0]


@pytest.mark.parametrize("where", [8, 16])
def test_attention_sits_at_the_chosen_resolution_in_both_networks(where: int) -> None:
    g, d = build(attention_resolution=where)
    z, y = latents(g, 2), torch.tensor([0, 1])
    assert spatial_size_entering(g.attention, lambda: g(z, y)) == where
    assert spatial_size_entering(d.attention, lambda: d(torch.zeros(2, 1, 32, 32), y)) == where


def test_attention_can_be_switched_off() -> None:
    g, d = build(attention_resolution=0)
    assert not any(isinstance(m, SelfAttention2d) for net in (g, d) for m in net.modules())


def test_hierarchical_latent_feeds_chunk_k_to_block_k() -> None:
    """Changing only block k's chunk of z leaves every earlier block's output unchanged (Fig. 15 (a))."""
    g, _ = build((3, 64, 64))
    g.eval()
    sizes = g.z_sizes
    assert sum(sizes) == g.z_dim and len(sizes) == len(g.blocks) + 1
    outputs: list[torch.Tensor] = []
    hooks = [b.register_forward_hook(lambda _m, _a, out: outputs.append(out)) for b in g.blocks]
    z, y = latents(g, 2), torch.tensor([0, 1])
    with torch.no_grad():
        g(z, y)
        reference, outputs[:] = list(outputs), []
        for k in range(len(g.blocks)):
            start = sum(sizes[: k + 1])
            z2 = z.clone()
            z2[:, start : start + sizes[k + 1]] += 1.0
            g(z2, y)
            changed = [not torch.equal(a, b) for a, b in zip(outputs, reference, strict=True)]
            assert changed == [i >= k for i in range(len(g.blocks))], (k, changed)
            outputs.clear()
    for h in hooks:
        h.remove()


def test_chunk_sizes_split_z_evenly() -> None:
    assert chunk_sizes(120, 6) == [20] * 6
    assert chunk_sizes(24, 5) == [5, 5, 5, 5, 4]
    assert attention_resolutions(32) == [8, 16] and attention_resolutions(128) == [8, 16, 32, 64]


def test_first_discriminator_block_sees_negative_pixels() -> None:
    """A pre-activation ReLU on raw [-1, 1] pixels would give every dark image the same residual."""
    torch.manual_seed(0)
    first, later = DownBlock(1, 4, preactivation=False), DownBlock(1, 4, preactivation=True)
    dark, darker = -0.5 * torch.ones(1, 1, 8, 8), -torch.ones(1, 1, 8, 8)

    def residual(block: DownBlock, x: torch.Tensor) -> torch.Tensor:
        return block(x) - block.shortcut(avg_pool2d(x, 2))

    with torch.no_grad():
        assert not torch.allclose(residual(first, dark), residual(first, darker))
        torch.testing.assert_close(residual(later, dark), residual(later, darker))


# --- spectral norm and initialisation -------------------------------------------------------------


def test_every_weight_layer_of_g_and_d_is_spectrally_normalised_once() -> None:
    g, d = build()
    layers = [m for net in (g, d) for m in net.modules() if isinstance(m, SPECTRAL_NORM_LAYERS)]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert parametrize.is_parametrized(d.embed, "weight")  # projection embedding too
    assert not parametrize.is_parametrized(g.shared, "weight")  # BigGAN leaves G's shared embedding alone
    # The config switch on top wraps nothing twice.
    cfg = load_config({"model": {"name": "biggan_tiny", "spectral_norm": "both"}, "data": {"name": "digits"}})
    for net in build_networks(cfg, (1, 32, 32), CLASSES).values():
        apply_spectral_norm(net)
        wrapped = [m for m in net.modules() if parametrize.is_parametrized(m, "weight")]
        assert wrapped and all(len(m.parametrizations.weight) == 1 for m in wrapped)
    # σ(W) = 1 for the weights actually used (power iteration converged after a few training passes).
    g.train()
    with torch.no_grad():
        for _ in range(30):
            for m in layers:
                m.weight  # noqa: B018
    for m in layers:
        w = m.weight.detach().flatten(1)
        assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=0.02)


def test_weights_start_orthogonal() -> None:
    g, _ = build()
    w = g.blocks[0].conv1.parametrizations.weight.original.detach().flatten(1)  # (out, in*9), out <= in*9
    torch.testing.assert_close(w @ w.T, torch.eye(len(w)), atol=1e-5, rtol=0)


# --- conditioning ---------------------------------------------------------------------------------


def test_soft_one_hot_labels_give_the_same_output_as_hard_labels() -> None:
    g, d = build()
    z, y = latents(g, 4), torch.tensor([0, 3, 1, 3])
    soft = one_hot(y, CLASSES).float()
    with torch.no_grad():
        x = g(z, y)
        torch.testing.assert_close(g(z, soft), x)
        torch.testing.assert_close(d(x, soft), d(x, y))


def test_projection_score_is_linear_in_soft_labels() -> None:
    """D's class term is ⟨embed(y), h⟩ (Miyato & Koyama 2018): a label mixture mixes the scores."""
    _, d = build()
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    mix = 0.3 * one_hot(torch.tensor([1, 1]), CLASSES) + 0.7 * one_hot(torch.tensor([2, 2]), CLASSES)
    with torch.no_grad():
        expected = 0.3 * d(x, torch.tensor([1, 1])) + 0.7 * d(x, torch.tensor([2, 2]))
        torch.testing.assert_close(d(x, mix.float()), expected)


def test_labels_change_both_networks_and_are_required() -> None:
    g, d = build()
    g.eval()
    z = latents(g, 2)
    with torch.no_grad():
        a, b = g(z, torch.tensor([0, 0])), g(z, torch.tensor([2, 2]))
        assert (a - b).abs().max() > 1e-3
        assert (d(a, torch.tensor([0, 0])) - d(a, torch.tensor([2, 2]))).abs().max() > 1e-4
    with pytest.raises(ConfigError, match="biggan generator"):
        g(z)
    with pytest.raises(ConfigError, match="biggan discriminator"):
        d(a)


@pytest.mark.parametrize("kwargs", [{"num_classes": 0}, {"num_classes": CLASSES, "conditional": False}])
def test_unconditional_networks_ignore_labels(kwargs: dict) -> None:
    g, d = build(**kwargs)
    assert not g.conditional and g.shared is None and d.embed is None
    z = latents(g, 2)
    with torch.no_grad():
        x = g(z)
        torch.testing.assert_close(g(z, torch.tensor([0, 1])), x)
        torch.testing.assert_close(d(x, torch.tensor([0, 1])), d(x))


# --- truncation -----------------------------------------------------------------------------------


def test_truncation_shrinks_latents_toward_the_mode() -> None:
    g, _ = build()
    g.eval()
    z, y = latents(g, 6), torch.full((6,), 2)
    with torch.no_grad():
        torch.testing.assert_close(g.generate(z, y, 1.0), g(z, y))
        torch.testing.assert_close(g.generate(z, y, 0.5), g(0.5 * z, y))
        at_mode = g.generate(z, y, 0.0)  # ψ = 0: every latent is the mean, one image per class
        spread = [g.generate(z, y, psi).std(0).mean().item() for psi in (1.0, 0.5)]
    torch.testing.assert_close(at_mode, at_mode[:1].expand_as(at_mode))
    assert spread[1] < spread[0]


# --- builder errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "kwargs", "needle"),
    [
        ((1, 32, 32), {"z_dim": 3}, "z_dim"),
        ((1, 32, 32), {"ch": 0}, "ch"),
        ((1, 32, 32), {"attention_resolution": 32}, "attention_resolution"),
        ((3, 64, 64), {"attention_resolution": 4}, "8, 16, 32"),
        ((1, 48, 48), {}, "48"),
        ((3, 64, 32), {}, "square"),
    ],
)
def test_bad_settings_are_clear_config_errors(shape: tuple[int, ...], kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        MODELS.build("biggan_tiny", shape, **kwargs)


# --- training -------------------------------------------------------------------------------------


def levels_dataset(path: Path, n: int = 512, seed: int = 0) -> tuple[Path, torch.Tensor]:
    """Class k = a flat grey level (-0.75 ... 0.75) with an 8x8 square of the opposite value placed at
    random: which class an image is shows in its brightness, which a convolutional D with global
    sum pooling can read wherever the square is. Returns the path and each class's mean pixel."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    levels = -0.75 + 0.5 * np.arange(CLASSES)
    x = np.broadcast_to(levels[y][:, None, None], (n, 32, 32)).astype(np.float32)
    for i, (top, left) in enumerate(rng.integers(0, 25, (n, 2))):
        x[i, top : top + 8, left : left + 8] = -levels[y[i]]
    np.savez(path, x=x, y=y)
    return path, torch.tensor([x[y == k].mean() for k in range(CLASSES)])


def class_means(g: nn.Module, n: int = 200) -> torch.Tensor:
    """Mean pixel of G's samples for each class (fixed latents, eval mode)."""
    labels = torch.arange(n) % CLASSES
    z = torch.randn(n, g.z_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        x = g.eval()(z, labels).float()
    return torch.stack([x[labels == k].mean() for k in range(CLASSES)])


# Settings checked on three seeds: the class ordering appears within ~40 steps, 80 leave a margin.
TRAIN_CONFIG = {
    "model": {"name": "biggan_tiny"},
    "data": {"name": "npz", "batch_size": 16},
    "objective": {"loss": "hinge", "ortho_lambda": 1e-4},
    "optim": {"g": {"lr": 1e-3, "betas": [0.0, 0.999]}, "d": {"lr": 2e-3, "betas": [0.0, 0.999]}},
    "train": {
        "steps": 80,
        "device": "cpu",
        "progress": False,
        "diagnostics": False,
        "log_every": 40,
        "ckpt_every": 1000,
        "sample_every": 1000,
        "n_samples": 16,
        "ema_kimg": 0.5,
    },
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """(session after training, the same G before training, the data's per-class mean pixel)."""
    root = tmp_path_factory.mktemp("biggan")
    path, target = levels_dataset(root / "levels.npz")
    raw = {**TRAIN_CONFIG, "data": {**TRAIN_CONFIG["data"], "path": str(path)}}
    session = build_session(load_config(raw), root / "run")
    untrained = MODELS.build("biggan_tiny", (1, 32, 32), CLASSES)["g"]
    untrained.load_state_dict(session.trainer.nets["g"].state_dict())
    session.trainer.fit()
    return session, untrained, target


def test_training_makes_samples_follow_their_label(trained) -> None:
    session, untrained, target = trained
    before, after = class_means(untrained), class_means(session.trainer.sampling_generator)
    error_before, error_after = (before - target).abs().mean(), (after - target).abs().mean()
    assert error_after < 0.5 * error_before, (before, after, target)
    # The darkest and brightest classes come out darkest and brightest, far apart (data: 1.31 apart;
    # the untrained G's differences between classes are noise). Adjacent middle classes (0.44 apart
    # in the data) may still be swapped this early.
    assert after.argmin() == 0 and after.argmax() == CLASSES - 1, after
    assert after[-1] - after[0] > 0.8, after


def test_load_samples_with_labels_and_truncation(trained) -> None:
    session, _, target = trained
    handle = ganforge.load(session.run_dir)
    assert handle.num_classes == CLASSES
    x = handle.sample(32, labels=3, truncation=0.5)
    assert x.shape == (32, 1, 32, 32) and x.abs().max() <= 1
    assert torch.equal(x, handle.sample(32, labels=3, truncation=0.5))
    assert x.mean() > target[2]  # brighter than class 2: the label was obeyed
    assert x.std(0).mean() < handle.sample(32, labels=3).std(0).mean()  # ψ < 1 narrows the spread


def test_checkpoint_round_trip_gives_identical_samples(trained) -> None:
    """Weights, spectral-norm vectors and BatchNorm statistics all survive save and load."""
    session = trained[0]
    # The trainer runs channels_last; compare in the layout ``load`` uses (conv kernels differ by layout).
    live = session.trainer.sampling_generator.eval().to(memory_format=torch.contiguous_format)
    z = torch.randn(8, live.z_dim, generator=torch.Generator().manual_seed(9))
    y = torch.arange(8) % CLASSES
    loaded = ganforge.load(session.run_dir).generator
    with torch.no_grad():
        assert torch.equal(loaded.generate(z, y, 0.7), live.generate(z, y, 0.7))
