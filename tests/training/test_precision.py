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


def test_fp16_first_step_is_close_to_fp32_and_scales_its_losses():
    fp32, _, _ = first_step(precision="fp32")
    fp16, _, trainer = first_step(precision="fp16")
    assert all(math.isfinite(fp16[key]) for key in STATS)
    # D's statistics come before any update; G's follow D's step, which fp16 may skip at its
    # initial scale (an overflow halves the scale instead), so loss_g is not compared.
    for key in ("loss_d", "d_real", "d_fake"):
        assert fp16[key] == pytest.approx(fp32[key], rel=0.05, abs=0.02), key
    assert any(fp16[key] != fp32[key] for key in STATS), "fp16 run computed exactly the fp32 numbers"
    assert set(trainer.precision.scalers) == {"g", "d"}  # one scaler per optimiser
    assert all(s.get_scale() > 1 for s in trainer.precision.scalers.values())


def test_fp16_resume_is_bit_identical_and_keeps_the_loss_scales(tmp_path):
    """The scalers' state (scale, growth tracker) is in the checkpoint: a resumed run scales, skips
    and grows exactly as an uninterrupted one, so its weights are the same bit for bit."""
    import ganforge
    from ganforge.testing import final_checkpoint

    train = {"deterministic": True, "precision": "fp16", "log_every": 2, "ckpt_every": 4}
    raw = make_config("dcgan_tiny", {"name": "mnist"}, batch_size=16, train=train)
    ganforge.train(raw, out=tmp_path / "a", overrides=["train.steps=4"])
    ganforge.train(raw, out=tmp_path / "a", overrides=["train.steps=8"], resume=True)
    ganforge.train(raw, out=tmp_path / "b", overrides=["train.steps=8"])
    (resumed, meta_a), (whole, meta_b) = final_checkpoint(tmp_path / "a"), final_checkpoint(tmp_path / "b")
    assert meta_a["precision"] == meta_b["precision"] and set(meta_a["precision"]) == {"g", "d"}
    assert meta_a["precision"]["d"]["scale"] < 65536.0  # it backed off from the initial scale
    assert resumed.keys() == whole.keys()
    assert all(torch.equal(resumed[k], whole[k]) for k in whole)


def test_an_fp16_overflow_is_skipped_not_a_divergence():
    """A step whose scaled gradients overflow leaves the weights alone and halves the scale; its
    gradient norm reads as 0 to the divergence guard instead of tripping a rollback."""
    from ganforge.training.precision import Precision

    net = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    precision = Precision("fp16", torch.device("cpu"), ["d"])
    before = net.weight.detach().clone()
    with precision.autocast():
        loss = net(torch.full((2, 4), 3e4)).float().sum() * 1e4  # far past float16's range once scaled
    precision.backward("d", loss)
    precision.unscale("d", opt)
    norm = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in net.parameters()]))
    assert not torch.isfinite(norm) and precision.finite_norm("d", norm) == 0
    precision.step("d", opt)
    assert torch.equal(net.weight, before) and precision.scalers["d"].get_scale() == 32768.0


def test_bf16_on_a_gpu_without_it_falls_back_to_fp16(monkeypatch):
    from ganforge.errors import ConfigError
    from ganforge.training.precision import resolve_precision

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.warns(UserWarning, match="no bfloat16"):
        assert resolve_precision("bf16", torch.device("cuda")) == "fp16"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"
    with pytest.raises(ConfigError, match=r"'train\.precision' must be one of fp32, bf16, fp16"):
        resolve_precision("fp8", torch.device("cpu"))
