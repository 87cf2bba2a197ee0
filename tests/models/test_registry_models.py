"""One battery of checks for every registered model (timm style): walk the registry, not a hand list.

Tiny variants get the full battery on every data shape they declare (``inputs`` / ``resolutions``
meta); full-size variants get a cheap build-and-forward check (batch 2, no grad), plus DCGAN's
reference numbers.
"""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from torch import nn

import ganforge.models  # noqa: F401  (fills the registry)
from ganforge.errors import ConfigError
from ganforge.models import Generator
from ganforge.registry import MODELS, create_model

VECTOR_SHAPES = [(2,)]
IMAGE_SHAPES = [(1, 32, 32), (3, 64, 64)]
BATCH = 4
# The battery's image sizes stop here to stay fast; test_resolutions.py covers 256 to 1024 px.
BATTERY_MAX_RESOLUTION = 128


def data_shapes(name: str) -> list[tuple[int, ...]]:
    """The sample shapes a model declares it handles, one per supported resolution up to 128 px for
    images."""
    meta = MODELS.get(name).meta
    inputs = meta.get("inputs", ("vector", "image"))
    shapes = list(VECTOR_SHAPES) if "vector" in inputs else []
    if "image" in inputs:
        resolutions = meta.get("resolutions")
        sizes = [r for r in resolutions or () if r <= BATTERY_MAX_RESOLUTION]
        shapes += [(1 if r <= 32 else 3, r, r) for r in sizes] if resolutions else IMAGE_SHAPES
    return shapes


def cases(tiny: bool) -> list[pytest.param]:
    names = [n for n in MODELS.names() if n.endswith("_tiny") == tiny]
    return [pytest.param(n, s, id=f"{n}-{'x'.join(map(str, s))}") for n in names for s in data_shapes(n)]


TINY = cases(tiny=True)


def build(name: str, shape: tuple[int, ...], **kwargs: object) -> tuple[Generator, nn.Module]:
    torch.manual_seed(0)
    nets = MODELS.build(name, shape, **kwargs)
    assert set(nets) == {"g", "d"}
    return nets["g"], nets["d"]


def test_every_family_has_a_tiny_variant() -> None:
    full = [n for n in MODELS.names() if not n.endswith("_tiny")]
    assert full, "no models registered"
    assert [n for n in full if f"{n}_tiny" not in MODELS] == []


@pytest.mark.parametrize("name", MODELS.names())
def test_builder_signature_is_a_config_schema(name: str) -> None:
    """Every key besides the data-derived ``shape`` must be settable from YAML: typed, defaulted."""
    params = list(inspect.signature(MODELS.get(name).builder).parameters.values())
    assert [p.name for p in params[:2]] == ["shape", "num_classes"]
    for p in params[1:]:
        assert p.default is not inspect.Parameter.empty, f"{name}.{p.name} has no default"
        assert p.annotation is not inspect.Parameter.empty, f"{name}.{p.name} has no type hint"


@pytest.mark.parametrize(("name", "shape"), TINY)
def test_output_shapes_and_range(name: str, shape: tuple[int, ...]) -> None:
    g, d = build(name, shape)
    assert isinstance(g, Generator)
    assert g.out_shape == shape and g.num_classes == 0
    z = g.sample_z(BATCH, generator=torch.Generator().manual_seed(1))
    assert z.shape == (BATCH, g.z_dim)
    x = g(z)
    assert x.shape == (BATCH, *shape) and x.dtype == torch.float32
    assert torch.isfinite(x).all()
    if len(shape) == 3:
        assert x.min() >= -1 and x.max() <= 1
    for batch in (x, torch.rand(BATCH, *shape) * 2 - 1):
        logits = d(batch)
        assert logits.shape == (BATCH,) and torch.isfinite(logits).all()


@pytest.mark.parametrize(("name", "shape"), TINY)
def test_gradients_reach_every_parameter(name: str, shape: tuple[int, ...]) -> None:
    """G learns only through D, so a G parameter D's score does not depend on would never train.

    Parameters behind a zero-initialised gate (SAGAN's attention γ = 0, in BigGAN) get gradient once
    the gate's own first update opens it: every parameter must get some within two SGD steps.
    """
    g, d = build(name, shape)
    params = {f"{tag}.{pname}": p for tag, net in (("g", g), ("d", d)) for pname, p in net.named_parameters()}
    reached = dict.fromkeys(params, False)
    opt = torch.optim.SGD(params.values(), lr=0.01)
    for _ in range(2):
        opt.zero_grad()
        weights = torch.randn(BATCH)  # random weighting so per-sample terms cannot cancel out
        (d(g(g.sample_z(BATCH))) * weights).sum().backward()
        for pname, p in params.items():
            reached[pname] |= p.grad is not None and bool(torch.count_nonzero(p.grad))
        opt.step()
    assert [pname for pname, ok in reached.items() if not ok] == [], "no gradient reaches these"


@pytest.mark.parametrize(("name", "shape"), TINY)
def test_channels_last_and_bf16_autocast(name: str, shape: tuple[int, ...]) -> None:
    """The trainer may run channels_last and under bf16 autocast: both must give the same answer."""
    g, d = build(name, shape)
    z = g.sample_z(BATCH, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        reference = d(g(z))
        if len(shape) == 3:
            g.to(memory_format=torch.channels_last)
            d.to(memory_format=torch.channels_last)
            x = g(z)
            torch.testing.assert_close(d(x.contiguous(memory_format=torch.channels_last)), reference)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = d(g(z))
    assert logits.dtype == torch.bfloat16, "autocast did not reach the model's layers"
    assert logits.shape == (BATCH,) and torch.isfinite(logits).all()
    torch.testing.assert_close(logits.float(), reference, atol=0.05, rtol=0.05)


@pytest.mark.parametrize(("name", "shape"), TINY)
def test_num_classes_is_accepted_and_labels_ignored(name: str, shape: tuple[int, ...]) -> None:
    """An unconditional family built for labelled data ignores labels: they must not break (or change)
    anything. Conditional families (``g.conditional``) are checked in their own tests."""
    g, d = build(name, shape, num_classes=10)
    assert g.num_classes == 10
    if g.conditional:
        pytest.skip(f"{name} is conditional: its own tests check how it uses labels")
    z, y = g.sample_z(BATCH), torch.arange(BATCH)
    with torch.no_grad():
        torch.testing.assert_close(d(g(z, y), y), d(g(z)))


@pytest.mark.parametrize(("name", "shape"), cases(tiny=False))
def test_full_size_forward(name: str, shape: tuple[int, ...]) -> None:
    g, d = build(name, shape)
    with torch.no_grad():
        logits = d(g(g.sample_z(2)))
    assert logits.shape == (2,) and torch.isfinite(logits).all()


def test_create_model_is_the_registry_door() -> None:
    nets = create_model("mlp_tiny", shape=(2,), z_dim=3)
    assert nets["g"].z_dim == 3


# --- mlp ------------------------------------------------------------------------------------------


def test_mlp_output_is_bounded_for_images_only() -> None:
    """Toy data are unbounded (a tanh would clip outer modes); images live in [-1, 1]."""
    for shape, bounded in (((2,), False), ((1, 8, 8), True)):
        g, _ = build("mlp_tiny", shape)
        with torch.no_grad():
            for p in g.parameters():
                p.mul_(10)
            x = g(g.sample_z(64))
        assert (x.abs().max() <= 1) == bounded


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((2, 3), {}),
        ((2,), {"depth": 0}),
        ((2,), {"hidden": 0}),
        ((2,), {"z_dim": 0}),
        ((2,), {"g_depth": 0}),
        ((2,), {"latent_components": 1}),
        ((2,), {"latent_components": 8, "z_dim": 1}),
        ((2,), {"latent_components": 8, "latent_scale": 0.0}),
        ((2,), {"latent_learn_weights": True}),
    ],
)
def test_mlp_rejects_bad_shapes_and_sizes(shape: tuple[int, ...], kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        MODELS.build("mlp", shape, **kwargs)


def test_mlp_g_depth_deepens_the_generator_alone() -> None:
    def hidden_layers(net: nn.Module) -> int:
        return sum(isinstance(m, nn.Linear) for m in net.modules()) - 1

    nets = MODELS.build("mlp", (2,), depth=3, g_depth=6)
    assert (hidden_layers(nets["g"]), hidden_layers(nets["d"])) == (6, 3)
    plain = MODELS.build("mlp", (2,), depth=3)
    assert (hidden_layers(plain["g"]), hidden_layers(plain["d"])) == (3, 3)


def test_mixture_latent_is_uniform_over_fixed_islands() -> None:
    """Normal draws in, a uniform mixture of narrow Gaussians out: z[:, 0] picks the island
    uniformly, the rest is the offset within it; the same centres in every build."""
    from ganforge.models.mlp import MixtureLatent

    nets = MODELS.build("mlp", (2,), z_dim=5, latent_components=16, latent_scale=0.05)
    latent = nets["g"].latent
    assert isinstance(latent, MixtureLatent) and latent.centres.shape == (16, 4)
    again = MODELS.build("mlp", (2,), z_dim=5, latent_components=16, latent_scale=0.05)["g"].latent
    assert torch.equal(latent.centres, again.centres)  # fixed, and saved with the weights
    assert "latent.centres" in nets["g"].state_dict()
    z = torch.randn(32_000, 5, generator=torch.Generator().manual_seed(0))
    h = latent(z)
    island = torch.cdist(h, latent.centres).argmin(1)
    counts = torch.bincount(island, minlength=16).float()
    assert (counts / counts.mean() - 1).abs().max() < 0.1  # uniform over the islands
    offsets = h - latent.centres[island]
    assert offsets.std().item() == pytest.approx(0.05, rel=0.05)
    assert nets["g"](z[:8]).shape == (8, 2)


def test_mixture_latent_anneals_from_one_blob_to_narrow_islands() -> None:
    from ganforge.models.mlp import MixtureLatent, MixtureLatentOptions

    def islands(**keys: float) -> MixtureLatentOptions:
        return MixtureLatentOptions(latent_components=16, latent_scale=0.04, **keys)

    latent = MixtureLatent(5, islands(latent_anneal=0.5))
    widths = []
    for fraction in (0.0, 0.25, 0.5, 0.9):
        latent.set_progress(fraction)
        widths.append(float(latent.width))
    assert widths == pytest.approx([1.0, 0.2, 0.04, 0.04])
    fixed = MixtureLatent(5, islands())
    fixed.set_progress(0.0)
    assert float(fixed.width) == pytest.approx(0.04)
    late = MixtureLatent(5, islands(latent_anneal=0.25, latent_anneal_start=0.5))
    late_widths = []
    for fraction in (0.0, 0.5, 0.625, 0.75, 1.0):
        late.set_progress(fraction)
        late_widths.append(float(late.width))
    assert late_widths == pytest.approx([1.0, 1.0, 0.2, 0.04, 0.04])
    with pytest.raises(ConfigError, match="latent_anneal"):
        islands(latent_anneal=1.5)
    with pytest.raises(ConfigError, match="latent_anneal_start"):
        islands(latent_anneal=0.5, latent_anneal_start=-0.1)


def test_learnt_island_weights_start_uniform_and_decide_the_draws() -> None:
    """With ``latent_learn_weights`` z[:, 0] picks islands by the inverse CDF of softmax(weights):
    at the start the same picks as the uniform mixture; each pick's log-probability is kept, with a
    gradient to the weights only."""
    z = torch.randn(4000, 5, generator=torch.Generator().manual_seed(0))
    plain = MODELS.build("mlp", (2,), z_dim=5, latent_components=8)["g"]
    learnt = MODELS.build("mlp", (2,), z_dim=5, latent_components=8, latent_learn_weights=True)["g"]
    assert plain.draw_log_prob is None
    assert torch.equal(plain.latent(z), learnt.latent(z))
    log_prob = learnt.draw_log_prob
    assert log_prob is not None and log_prob.shape == (4000,)
    assert torch.allclose(log_prob, torch.full((4000,), -math.log(8)))
    log_prob.sum().backward()
    assert learnt.latent.weight_logits.grad is not None
    with torch.no_grad():
        learnt.latent.weight_logits.copy_(torch.log(torch.tensor([5.0, 1, 1, 1, 0, 0, 0, 0]).clamp(min=1e-9)))
    island = torch.cdist(learnt.latent(z), learnt.latent.centres).argmin(1)
    share = torch.bincount(island, minlength=8).float() / len(z)
    assert share.tolist() == pytest.approx([0.625, 0.125, 0.125, 0.125, 0, 0, 0, 0], abs=0.025)


# --- dcgan ----------------------------------------------------------------------------------------


def test_dcgan_64_matches_the_reference_parameter_counts() -> None:
    """PyTorch examples/dcgan with nz=100, ngf=ndf=64, nc=3."""
    g, d = build("dcgan", (3, 64, 64))
    assert sum(p.numel() for p in g.parameters()) == 3_576_704
    assert sum(p.numel() for p in d.parameters()) == 2_765_568


def test_dcgan_64_matches_the_reference_layout() -> None:
    """Same layer order and parameter names as examples/dcgan, so its checkpoints load; no sigmoid."""
    g, d = build("dcgan", (3, 64, 64))
    assert [type(m).__name__ for m in g.main] == ["ConvTranspose2d", "BatchNorm2d", "ReLU"] * 4 + [
        "ConvTranspose2d",
        "Tanh",
    ]
    assert [type(m).__name__ for m in d.main] == ["Conv2d", "LeakyReLU"] + [
        "Conv2d",
        "BatchNorm2d",
        "LeakyReLU",
    ] * 3 + ["Conv2d"]
    convs = [m for m in (*g.main, *d.main) if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert all(m.bias is None and m.kernel_size == (4, 4) for m in convs)
    assert [(m.stride, m.padding) for m in convs].count(((1, 1), (0, 0))) == 2  # G's first, D's last


@pytest.mark.parametrize(("resolution", "widest"), [(32, 4), (64, 8), (128, 16)])
def test_dcgan_stage_count_follows_resolution(resolution: int, widest: int) -> None:
    g, d = build("dcgan_tiny", (3, resolution, resolution))
    assert g.main[0].out_channels == 8 * widest
    assert d.main[-1].in_channels == 8 * widest


@pytest.mark.parametrize(
    ("shape", "kwargs", "needle"),
    [
        ((3, 48, 48), {}, "48"),
        ((3, 48, 48), {"resolution": 48}, "48"),
        ((3, 32, 32), {"resolution": 64}, "64"),
        ((1, 64, 64), {"channels": 3}, "channels"),
        ((3, 64, 32), {}, "square"),
        ((2,), {}, "mlp"),
    ],
)
def test_dcgan_rejects_mismatched_data(shape: tuple[int, ...], kwargs: dict[str, int], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        MODELS.build("dcgan_tiny", shape, **kwargs)


def test_dcgan_accepts_matching_explicit_resolution_and_channels() -> None:
    g, _ = build("dcgan_tiny", (1, 32, 32), resolution=32, channels=1)
    assert g.out_shape == (1, 32, 32)
