"""Memory format and precision change how the arithmetic runs, not what it computes.

(Training under bf16 is checked for learning in test_learning.py.)
"""

from __future__ import annotations

import math

import pytest
import torch
from training_helpers import make_config

from ganforge.config import load_config
from ganforge.training.build import build_session

STATS = ("loss_d", "loss_g", "d_real", "d_fake")


def first_step(**train: object) -> tuple[dict[str, float], dict[str, torch.Tensor], object]:
    """Statistics of step 1 and G's weights after it, for dcgan_tiny on MNIST."""
    raw = make_config("dcgan_tiny", {"name": "mnist"}, batch_size=16, train={"steps": 1, **train})
    trainer = build_session(load_config(raw), None).trainer
    trainer.fit()
    weights = {k: v.detach().clone() for k, v in trainer.nets["g"].state_dict().items()}
    return trainer.pop_window(), weights, trainer


def test_channels_last_and_contiguous_give_the_same_first_step():
    nhwc, g_nhwc, trainer = first_step(channels_last=True)
    nchw, g_nchw, other = first_step(channels_last=False)
    conv = trainer.nets["d"].main[2].weight  # 8 -> 16 channels (with 1 channel both formats coincide)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert other.nets["d"].main[2].weight.is_contiguous()
    for key in STATS:
        assert nhwc[key] == pytest.approx(nchw[key], rel=1e-4, abs=1e-5), key
    for key, value in g_nhwc.items():
        assert torch.allclose(value.float(), g_nchw[key].float(), rtol=1e-4, atol=1e-6), key


def test_bf16_first_step_is_close_to_fp32_but_really_runs_in_bf16():
    fp32, _, _ = first_step(precision="fp32")
    bf16, _, _ = first_step(precision="bf16")
    for key in STATS:
        assert math.isfinite(bf16[key])
        assert bf16[key] == pytest.approx(fp32[key], rel=0.05, abs=0.02), key
    assert any(bf16[key] != fp32[key] for key in STATS), "bf16 run computed exactly the fp32 numbers"
