"""Training-by-sampling and the vectorised output head: the distributions the paper prescribes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.errors import ConfigError
from ganforge.registry import OBJECTIVES, create_objective
from ganforge.tabular.networks import SOFTMAX, TANH, PacDiscriminator, Span, SpanLayout, TabularGenerator
from ganforge.tabular.sampler import ConditionSampler, TrainingBySampling


def _codes(seed: int = 0) -> np.ndarray:
    """3,000 rows, two discrete columns: one skewed 4-way (slot 3 rare), one balanced 2-way."""
    rng = np.random.default_rng(seed)
    a = rng.choice(4, 3000, p=[0.7, 0.2, 0.09, 0.01])
    b = rng.choice(2, 3000)
    return np.stack([a, b], axis=1)


def test_conditions_follow_log_frequency_and_real_rows_match_them():
    codes = _codes()
    counts = [np.bincount(codes[:, 0], minlength=4).tolist(), np.bincount(codes[:, 1], minlength=2).tolist()]
    sampler = ConditionSampler(codes, counts, torch.device("cpu"))
    data = torch.tensor(codes, dtype=torch.float32)  # row i's "features" are its own codes
    stream = TrainingBySampling(data, sampler, batch_size=20_000, seed=0)
    batch = next(stream)
    pos = batch["pos"].numpy()
    assert torch.equal(batch["c"].argmax(1), batch["pos"]) and torch.all(batch["c"].sum(1) == 1)
    col = (pos >= 4).astype(int)
    assert abs(col.mean() - 0.5) < 0.02  # a column is picked uniformly
    slot = pos[col == 0]
    freq = np.bincount(slot, minlength=4) / len(slot)
    log_freq = np.log1p(counts[0]) / np.log1p(counts[0]).sum()
    np.testing.assert_allclose(freq, log_freq, atol=0.02)  # rare slot 3: ~16 %, not 1 %
    real = batch["x"].numpy()
    np.testing.assert_array_equal(real[col == 0, 0], slot)  # each real row holds its condition
    np.testing.assert_array_equal(real[col == 1, 1], pos[col == 1] - 4)


def test_sampling_conditions_follow_the_true_frequency_and_zero_count_slots_never_come_up():
    counts = [[700, 300, 0], [5, 5]]
    sampler = ConditionSampler(None, counts, torch.device("cpu"))
    cond = sampler.sampling_condition(40_000, torch.Generator().manual_seed(0))
    pos = cond.argmax(1).numpy()
    first = pos[pos < 3]
    assert np.mean(first == 0) == pytest.approx(0.7, abs=0.02) and not np.any(first == 2)


def test_stream_is_a_function_of_seed_and_position_so_resume_is_exact():
    codes = _codes()
    sampler = ConditionSampler(codes, [[1, 1, 1, 1], [1, 1]], torch.device("cpu"))
    data = torch.randn(3000, 5)
    a = TrainingBySampling(data, sampler, 50, seed=3)
    first = [next(a)["x"] for _ in range(3)]
    b = TrainingBySampling(data, sampler, 50, seed=3)
    b.load_state_dict({"draws": 2})
    assert torch.equal(next(b)["x"], first[2]) and a.state_dict() == {"draws": 3}


SPANS = [Span(1, TANH), Span(3, SOFTMAX), Span(5, SOFTMAX), Span(1, TANH), Span(2, SOFTMAX)]


def test_head_activates_every_span_at_once():
    layout = SpanLayout(SPANS, cond_spans=[2, 4])
    raw = torch.randn(64, layout.width, requires_grad=True)
    out = layout.activate(raw, tau=0.2)
    starts = np.cumsum([0] + [s.width for s in SPANS])
    for span, start in zip(SPANS, starts, strict=False):
        block = out[:, start : start + span.width]
        if span.activation == TANH:
            torch.testing.assert_close(block, torch.tanh(raw[:, start : start + 1]))
        else:
            torch.testing.assert_close(block.sum(1), torch.ones(64))
    out.sum().backward()  # differentiable end to end (Gumbel-softmax)
    assert raw.grad is not None and torch.isfinite(raw.grad).all()
    hard = layout.harden(raw.detach(), torch.Generator().manual_seed(0))
    soft_cols = [i for i, s in enumerate(SPANS) if s.activation == SOFTMAX]
    for i in soft_cols:
        block = hard[:, starts[i] : starts[i + 1]]
        assert torch.all(block.sum(1) == 1) and set(block.unique().tolist()) == {0.0, 1.0}


def test_harden_draws_categories_with_softmax_probabilities():
    layout = SpanLayout([Span(3, SOFTMAX)], cond_spans=[0])
    raw = torch.log(torch.tensor([[0.6, 0.3, 0.1]])).repeat(30_000, 1)
    freq = layout.harden(raw, torch.Generator().manual_seed(1)).mean(0)
    torch.testing.assert_close(freq, torch.tensor([0.6, 0.3, 0.1]), atol=0.015, rtol=0)


def test_conditional_cross_entropy_reads_the_conditioned_span():
    layout = SpanLayout(SPANS, cond_spans=[2, 4])  # cond positions 0-4 -> span 2, 5-6 -> span 4
    raw = torch.randn(2, layout.width)
    pos = torch.tensor([1, 6])
    got = layout.cond_log_prob(raw, pos)
    torch.testing.assert_close(got[0], torch.log_softmax(raw[0, 4:9], 0)[1])
    torch.testing.assert_close(got[1], torch.log_softmax(raw[1, 10:12], 0)[1])


def test_objective_is_registered_and_refuses_other_networks():
    assert "ctgan" in OBJECTIVES
    layout = SpanLayout(SPANS, cond_spans=[2, 4])
    g = TabularGenerator(8, layout, (16,))
    d = PacDiscriminator(layout.width + layout.cond_dim, pac=2, dims=(16,))
    with pytest.raises(ConfigError, match="objective 'ctgan' needs a 'ctgan' model"):
        create_objective("ctgan", {"g": torch.nn.Linear(2, 2), "d": d}, ctx=None)  # type: ignore[arg-type]
    objective = create_objective("ctgan", {"g": g, "d": d}, ctx=None)  # type: ignore[arg-type]
    assert objective.pac == 2  # packs as its critic was built to judge (model.pac), declared once
    with pytest.raises(ConfigError, match="unknown key 'pac' for objective 'ctgan'"):
        create_objective("ctgan", {"g": g, "d": d}, ctx=None, pac=10)  # type: ignore[arg-type]
