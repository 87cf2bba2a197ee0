"""The ``gan`` objective trains a generator's learnt latent weights with a score-function gradient."""

from __future__ import annotations

import pytest
import torch
from objective_helpers import cpu_context

from ganforge.objectives.gan import score_function_term
from ganforge.registry import create_model, create_objective


class PrefersIsland(torch.nn.Module):
    """A fixed D: logit +1 for samples nearer G's image of island ``good`` than of the other one."""

    def __init__(self, anchors: torch.Tensor, good: int) -> None:
        super().__init__()
        self.anchors, self.good = anchors, good
        self.unused = torch.nn.Linear(1, 1)  # D must have parameters for the D phase's optimiser

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        nearest = torch.cdist(x.float(), self.anchors).argmin(1)
        return (nearest == self.good).float() * 2 - 1


@pytest.mark.parametrize("reuse_fakes", [True, False])
def test_weight_flows_to_the_island_d_rates_more_real(reuse_fakes: bool) -> None:
    torch.manual_seed(0)
    shape, sizes = (2,), {"z_dim": 3, "hidden": 16, "depth": 2}
    nets = create_model("mlp", shape=shape, **sizes, latent_components=2, latent_learn_weights=True)
    g = nets["g"]
    with torch.no_grad():
        anchors = g.net(g.latent.centres)  # where each island lands (its width is small)
    nets["d"] = PrefersIsland(anchors, good=1)
    objective = create_objective("gan", nets, cpu_context(0), reuse_fakes=reuse_fakes)
    real = torch.randn(256, 2)
    objective.step("D", {"x": real})
    out = objective.step("G", {"x": real})
    out["loss"].backward()
    grad = g.latent.weight_logits.grad
    assert grad is not None and grad[1] < 0 < grad[0]  # gradient descent raises island 1's weight
    assert grad.sum().item() == pytest.approx(0.0, abs=1e-6)  # softmax: only the balance moves


def test_score_function_term_pairs_each_pack_with_its_summed_log_probability() -> None:
    logits = torch.tensor([2.0, 0.0])  # two packs of two samples
    log_prob = torch.tensor([-1.0, -2.0, -3.0, -4.0], requires_grad=True)
    term = score_function_term(logits, log_prob)
    # rewards 2 and 0, baseline 1: -mean((+1)(-3), (-1)(-7)) = -mean(-3, 7) = -2
    assert term.item() == pytest.approx(-2.0)
    term.backward()
    assert log_prob.grad is not None
    assert log_prob.grad.tolist() == pytest.approx([-0.5, -0.5, 0.5, 0.5])
