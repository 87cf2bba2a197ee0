"""4x super-resolution (SRGAN/ESRGAN) through the one Trainer: networks, the two-stage schedule,
learning against bicubic upsampling, a bit-exact resume on both sides of the stage boundary, the
translator handle and the ``sr_patches`` dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ganforge
from ganforge.api import load_translator
from ganforge.data import build_dataset
from ganforge.data.patches import SPLITS, bicubic_downsample
from ganforge.errors import ConfigError, DataError
from ganforge.metrics.image_quality import mean_psnr
from ganforge.models.srgan import d_stages_for
from ganforge.objectives.base import Context
from ganforge.registry import MODELS, create_model, create_objective
from ganforge.testing import tiny_config
from ganforge.training.checkpoint import latest_checkpoint, load_checkpoint

STEPS, PRETRAIN = 300, 200
DIGITS = {
    "name": "degraded",
    "base": "mnist",
    "base_params": {"split": "train"},
    "degradation": "downsample",
    "degradation_params": {"factor": 4},
}


def config(steps: int = STEPS, pretrain: int = PRETRAIN, batch: int = 16, **train: object) -> dict:
    """SRGAN-tiny on 4x-downsampled digits: ``pretrain`` content-only steps, then the adversarial
    stage; a checkpoint every ``pretrain`` steps, so one at the stage boundary (``train`` may override)."""
    return tiny_config(
        "srgan_tiny",
        data={**DIGITS, "batch_size": batch},
        objective={"name": "srgan", "loss": "ragan", "pretrain_steps": pretrain, "lambda_adv": 5e-4},
        optim={"g": {"lr": 2e-3, "betas": [0.9, 0.999]}, "d": {"lr": 2e-4, "betas": [0.9, 0.999]}},
        **{"steps": steps, "ckpt_every": pretrain, "keep_last": 5, "n_samples": 8, "ema_kimg": 0, **train},
    )


def ctx() -> Context:
    return Context(device=torch.device("cpu"), randn=torch.randn)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> ganforge.Run:
    return ganforge.train(config(), out=tmp_path_factory.mktemp("sr") / "run")


@pytest.fixture(scope="module")
def held_out() -> tuple[torch.Tensor, torch.Tensor]:
    params = {k: v for k, v in DIGITS.items() if k != "name"}
    test = build_dataset("degraded", **{**params, "base_params": {"split": "test"}})
    return test.extras["a"][:300], test.x[:300]


# ---------------------------------------------------------------- networks


def test_models_map_low_to_high_resolution_and_are_translation_models() -> None:
    for name in ("srgan", "srgan_tiny"):
        meta = MODELS.get(name).meta
        assert meta["inputs"] == ("image_pair",) and meta["task"] == "translation"
    torch.manual_seed(0)
    for shape, kw, low in [
        ((1, 32, 32), {}, (1, 8, 8)),
        ((3, 64, 64), {"block": "rrdb"}, (3, 16, 16)),
        ((1, 32, 32), {"scale": 2}, (1, 16, 16)),
        ((3, 16, 24), {"scale": 8}, (3, 2, 3)),
    ]:
        nets = create_model("srgan_tiny", shape=shape, **kw)
        g, d = nets["g"], nets["d"]
        assert g.in_shape == low and g.out_shape == shape and g.directions == ("AtoB",)
        x = torch.rand(3, *low) * 2 - 1
        y = g(x)
        assert y.shape == (3, *shape) and y.abs().max() <= 1
        logits = d(y)
        assert logits.shape == (3, 1)
        logits.sum().backward()  # every parameter of both networks gets a gradient
        missing = [n for net in (g, d) for n, p in net.named_parameters() if p.grad is None]
        assert missing == []
    assert [d_stages_for(s) for s in (16, 32, 64, 96, 256)] == [2, 3, 4, 4, 4]  # last map >= 4 px


def test_rrdb_blocks_start_near_the_identity() -> None:
    """ESRGAN's small initialisation: each dense block starts almost as the identity, so an RRDB
    (x + 0.2 · DB(DB(DB(x)))) starts close to 1.2 · x, and no BatchNorm anywhere."""
    torch.manual_seed(0)
    srresnet = create_model("srgan_tiny", shape=(3, 64, 64), block="rrdb")["g"].ab
    h = srresnet.head(torch.rand(2, 3, 16, 16) * 2 - 1)
    rrdb = srresnet.trunk[0]
    with torch.no_grad():
        assert (rrdb.body[0](h) - h).abs().mean() < 0.05 * h.abs().mean()
        assert (rrdb(h) - 1.2 * h).abs().mean() < 0.05 * h.abs().mean()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in srresnet.modules())


@pytest.mark.parametrize("block", ["srresnet", "rrdb"])
def test_bicubic_residual_starts_at_bicubic_and_learns_a_correction(block: str) -> None:
    """VDSR's global residual: at initialisation G is exactly bicubic upsampling (clamped), and
    the zero-initialised tail still receives gradients, so training moves away from it."""
    torch.manual_seed(0)
    g = create_model("srgan_tiny", shape=(3, 32, 32), block=block, bicubic_residual=True)["g"]
    a = torch.rand(4, 3, 8, 8) * 2 - 1
    bicubic = F.interpolate(a, scale_factor=4, mode="bicubic", align_corners=False).clamp(-1, 1)
    torch.testing.assert_close(g(a), bicubic, rtol=0, atol=1e-6)
    (g(a) - torch.rand(4, 3, 32, 32)).square().mean().backward()
    tail = [m for m in g.ab.tail.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    assert tail.weight.grad is not None and tail.weight.grad.abs().sum() > 0


def test_bad_shapes_and_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"30x30 must be divisible by model.scale \(4\)"):
        create_model("srgan_tiny", shape=(1, 30, 30))
    with pytest.raises(ConfigError, match="power of 2"):
        create_model("srgan_tiny", shape=(1, 36, 36), scale=3)
    with pytest.raises(ConfigError, match=r"model\.block"):
        create_model("srgan_tiny", shape=(1, 32, 32), block="edsr")
    with pytest.raises(ConfigError, match="d_stages"):
        create_model("srgan_tiny", shape=(1, 32, 32), d_stages=9)


def test_objective_needs_an_srgan_model_and_paired_batches(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="srgan"):
        create_objective("srgan", create_model("pix2pix_tiny", shape=(1, 32, 32)), ctx())
    with pytest.raises(ConfigError, match="pix2pix"):
        create_objective("pix2pix", create_model("srgan_tiny", shape=(1, 32, 32)), ctx())
    nets = create_model("srgan_tiny", shape=(1, 32, 32))
    with pytest.raises(ConfigError, match=r"objective\.content"):
        create_objective("srgan", nets, ctx(), content="l3")
    with pytest.raises(ConfigError, match="pretrain_steps"):
        create_objective("srgan", nets, ctx(), pretrain_steps=-1)
    with pytest.raises(DataError, match="input images 'a'"):
        create_objective("srgan", nets, ctx()).step("Gpre", {"x": torch.zeros(2, 1, 32, 32)})
    with pytest.raises(ConfigError, match=r"divisible by model.scale"):  # through the trainer
        ganforge.train({**config(steps=1), "data": {"name": "mnist", "resolution": 30}}, out=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_stages_and_the_l1_only_ablation() -> None:
    nets = create_model("srgan_tiny", shape=(1, 32, 32))
    staged = create_objective("srgan", nets, ctx(), pretrain_steps=5).phases()
    assert [(p.name, p.trains, p.start, p.stop) for p in staged] == [
        ("Gpre", "g", 0, 5),
        ("D", "d", 5, None),
        ("G", "g", 5, None),
    ]
    due = {step: [p.name for p in staged if p.due(step)] for step in (4, 5)}
    assert due == {4: ["Gpre"], 5: ["D", "G"]}
    assert staged[1].keep_graph == ("g",) and not staged[2].fresh_batch
    assert [p.name for p in create_objective("srgan", nets, ctx(), lambda_adv=0.0).phases()] == ["Gpre"]


def test_optional_perceptual_loss_reaches_the_generator() -> None:
    torch.manual_seed(0)
    objective = create_objective(
        "srgan", create_model("srgan_tiny", shape=(1, 32, 32)), ctx(), perceptual="mnist-cnn"
    )
    batch = {"a": torch.rand(4, 1, 8, 8) * 2 - 1, "x": torch.rand(4, 1, 32, 32) * 2 - 1}
    out = objective.step("Gpre", batch)
    assert out["perceptual"] > 0
    out["loss"].backward()
    assert all(p.grad is not None for p in objective.g.parameters())
    frozen = objective.perceptual.extractor  # a fixed feature space
    assert not any(p.requires_grad for p in frozen.parameters())
    with pytest.raises(ConfigError, match="unknown extractor"):
        create_objective("srgan", create_model("srgan_tiny", shape=(1, 32, 32)), ctx(), perceptual="vgg19")


# ---------------------------------------------------------------- training


def test_sr_beats_bicubic_upsampling_on_test_digits(trained: ganforge.Run, held_out) -> None:
    low, high = held_out
    out = load_translator(trained.path).translate(low)
    assert out.shape == (300, 1, 32, 32)
    ours = mean_psnr(out, high)
    bicubic = mean_psnr(F.interpolate(low, scale_factor=4, mode="bicubic").clamp(-1, 1), high)
    nearest = mean_psnr(F.interpolate(low, scale_factor=4, mode="nearest"), high)
    assert ours > bicubic + 1.0 and bicubic > nearest, (ours, bicubic, nearest)


def test_pretraining_leaves_d_untouched_then_the_adversarial_stage_trains_it(trained: ganforge.Run) -> None:
    ckpts = trained.path / "checkpoints"
    pre, _ = load_checkpoint(ckpts / f"step_{PRETRAIN:06d}.safetensors")
    final, _ = load_checkpoint(latest_checkpoint(ckpts))
    torch.manual_seed(0)  # ganforge.train seeds torch with train.seed (0) before building the networks
    initial = create_model("srgan_tiny", shape=(1, 32, 32))["d"].state_dict()
    for key, value in initial.items():
        assert torch.equal(pre[f"nets.d.{key}"], value), key
    changed = [k for k, v in initial.items() if not torch.equal(final[f"nets.d.{k}"], v)]
    assert len(changed) > len(initial) // 2
    logs = trained.metrics()
    before = [m for m in logs if m["step"] <= PRETRAIN]
    after = [m for m in logs if m["step"] > PRETRAIN]
    assert before and all("loss_d" not in m and "content" in m for m in before)
    assert after and all({"loss_d", "loss_g", "d_acc", "content"} <= set(m) for m in after)
    assert before[-1]["content"] < 0.5 * before[0]["content"]


def test_translator_and_preview_grid(trained: ganforge.Run, held_out) -> None:
    handle = load_translator(trained.path)
    low, _ = held_out
    assert handle.input_shape() == (1, 8, 8) and handle.conditions == ()
    assert handle.translate(low[0]).shape == (1, 32, 32)
    with pytest.raises(DataError, match="8x8"):
        handle.translate(torch.zeros(2, 1, 32, 32))
    grid = Image.open(trained.latest_samples)  # 8 samples, 3 cells per row: input | output | target
    assert grid.size == ((3 * 3 * (32 + 2) + 2) * 2, (3 * (32 + 2) + 2) * 2)


@pytest.mark.parametrize("first", [2, 5])
def test_resume_before_or_after_pretraining_is_bit_identical(tmp_path: Path, first: int) -> None:
    """pretrain_steps = 3: a run stopped at step 2 resumes into the content stage and crosses it; one
    stopped at 5 resumes into the adversarial stage; both end exactly as an uninterrupted run."""
    raw = config(steps=first, pretrain=3, batch=4, deterministic=True, log_every=1, ckpt_every=first)
    raw["train"].update(sample_every=3, ema_kimg=1)
    ganforge.train(raw, out=tmp_path / "a")
    ganforge.train(raw, out=tmp_path / "a", overrides=["train.steps=7"], resume=True)
    ganforge.train(raw, out=tmp_path / "b", overrides=["train.steps=7"])
    (ta, ma), (tb, mb) = (load_checkpoint(latest_checkpoint(tmp_path / r / "checkpoints")) for r in "ab")
    assert ma["step"] == mb["step"] == 7 and ma["data"] == mb["data"]
    assert set(ta) == set(tb) and any(k.startswith("optim.d.") for k in ta)
    for key in ta:
        assert torch.equal(ta[key], tb[key]), key


# ---------------------------------------------------------------- sr_patches


def test_sr_patches_shapes_split_and_degradation() -> None:
    assert not set(SPLITS["train"]) & set(SPLITS["test"])
    train = build_dataset("sr_patches", n_patches=64)
    test = build_dataset("sr_patches", split="test", n_patches=32)
    assert train.x.shape == (64, 3, 64, 64) and train.extras["a"].shape == (64, 3, 16, 16)
    assert test.x.shape == (32, 3, 64, 64) and train.y is None
    assert train.x.min() >= -1 and train.x.max() <= 1
    assert torch.equal(train.extras["a"], bicubic_downsample(train.x, 4))
    assert torch.equal(build_dataset("sr_patches", n_patches=64).x, train.x)  # seeded
    assert not torch.equal(build_dataset("sr_patches", n_patches=64, seed=1).x, train.x)
    flat = train.x.flatten(1)
    assert not (torch.cdist(test.x.flatten(1), flat).min(dim=1).values < 1e-3).any()  # no shared patch
    assert (flat.std(dim=1) > 0.079).all()  # flat crops were redrawn (min_std 0.04 of [0, 1])
    small = build_dataset("sr_patches", n_patches=4, resolution=32, scale=2)
    assert small.x.shape == (4, 3, 32, 32) and small.extras["a"].shape == (4, 3, 16, 16)
    with pytest.raises(ConfigError, match=r"data\.split"):
        build_dataset("sr_patches", split="val")
    with pytest.raises(ConfigError, match=r"data\.scale"):
        build_dataset("sr_patches", n_patches=4, scale=5)
    with pytest.raises(ConfigError, match="n_patches"):
        build_dataset("sr_patches", n_patches=0)
