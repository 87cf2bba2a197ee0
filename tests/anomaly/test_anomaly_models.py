"""The anomaly families get the registry battery's checks on their own terms.

They declare ``inputs=("normal_image",)``: they take images, not latents, so the battery's
``d(g(z))`` checks do not apply (as ``image_pair`` translation models). Here every anomaly model in
the registry (walked, not listed) gets: shapes and ranges, gradients reaching every parameter from
its objective's losses, scores that are finite and per image, bf16 autocast and a clear error on
data it cannot take.
"""

from __future__ import annotations

import pytest
import torch

import ganforge.models  # noqa: F401  (fills the registry)
from ganforge.errors import ConfigError
from ganforge.models.anomaly import AnomalyModel, Critic
from ganforge.objectives.base import Context
from ganforge.registry import MODELS, create_objective

SHAPES = [(1, 32, 32), (3, 16, 16)]
CPU = Context(device=torch.device("cpu"), randn=lambda n, *shape: torch.randn(n, *shape))
BATCH = 4


def anomaly_models(tiny: bool) -> list[str]:
    return [
        n
        for n in MODELS.names()
        if MODELS.get(n).meta.get("task") == "anomaly" and n.endswith("_tiny") == tiny
    ]


def build(name: str, shape: tuple[int, ...]) -> tuple[AnomalyModel, Critic]:
    torch.manual_seed(0)
    nets = MODELS.build(name, shape)
    assert set(nets) == {"g", "d"}
    return nets["g"], nets["d"]


def images(shape: tuple[int, ...], seed: int = 1) -> torch.Tensor:
    return torch.rand(BATCH, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_both_families_and_their_tiny_variants_are_registered() -> None:
    assert anomaly_models(tiny=False) == ["fanogan", "ganomaly"]
    assert anomaly_models(tiny=True) == ["fanogan_tiny", "ganomaly_tiny"]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", anomaly_models(tiny=True))
def test_reconstructions_scores_and_logits(name: str, shape: tuple[int, ...]) -> None:
    g, d = build(name, shape)
    x = images(shape)
    assert g.in_shape == shape
    x_hat = g.reconstruct(x)
    assert x_hat.shape == x.shape and x_hat.min() >= -1 and x_hat.max() <= 1
    scores = g.score(x, d)
    assert scores.score.shape == (BATCH,) and torch.isfinite(scores.score).all() and (scores.score >= 0).all()
    assert scores.residual.shape == (BATCH, 1, *shape[1:])
    assert d(x).shape == (BATCH,) and d.features(x).shape[0] == BATCH
    g.eval()
    one = g.score(x[:1], d).score  # per image: the others in the batch do not change it
    torch.testing.assert_close(one, g.score(x, d).score[:1])


@pytest.mark.parametrize(("name", "options"), [("ganomaly_tiny", {}), ("fanogan_tiny", {"gan_steps": 1})])
def test_every_parameter_is_trained_by_some_phase(name: str, options: dict[str, int]) -> None:
    """Each phase's loss, back-propagated into the network it trains, reaches every parameter of
    that network over the run's phases (f-AnoGAN: G in stage 1, E in stage 2; the objective
    freezes G itself in stage 2, so its decoder must get no gradient there)."""
    nets = MODELS.build(name, (1, 32, 32))
    loss = {"loss": "wasserstein"} if name.startswith("fanogan") else {}
    objective = create_objective(name.removesuffix("_tiny"), nets, CPU, **loss, **options)
    reached = {f"{k}.{p}": False for k, net in nets.items() for p, _ in net.named_parameters()}
    batch = {"x": images((1, 32, 32))}
    for phase in objective.phases():
        for net in nets.values():
            net.zero_grad(set_to_none=True)
        for key, net in nets.items():
            net.requires_grad_(key == phase.trains or key in phase.keep_graph)
        phase.step(batch)["loss"].backward()
        for pname, p in nets[phase.trains].named_parameters():
            reached[f"{phase.trains}.{pname}"] |= p.grad is not None and bool(torch.count_nonzero(p.grad))
        if phase.name == "E":
            assert all(p.grad is None for p in nets["g"].decoder.parameters()), "G must stay frozen"
    assert [k for k, ok in reached.items() if not ok] == []


@pytest.mark.parametrize("name", anomaly_models(tiny=True))
def test_bf16_autocast_scores_close_to_fp32(name: str) -> None:
    g, d = build(name, (1, 32, 32))
    g.eval(), d.eval()
    x = images((1, 32, 32))
    with torch.no_grad():
        reference = g.score(x, d).score
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = g.score(x, d).score
    assert torch.isfinite(low).all()
    torch.testing.assert_close(low.float(), reference, atol=0.05, rtol=0.1)


@pytest.mark.parametrize(
    ("shape", "needle"), [((1, 32, 16), "square"), ((1, 24, 24), "resolutions"), ((2,), "images")]
)
def test_data_the_detector_cannot_take_is_a_clear_error(shape: tuple[int, ...], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        MODELS.build("ganomaly_tiny", shape)
    with pytest.raises(ConfigError, match="kappa"):
        MODELS.build("fanogan_tiny", (1, 32, 32), kappa=-1.0)
