"""Inpainting: gated convolutions, exact known pixels, the global + local D, masks, learning, resume."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import ganforge
from ganforge.api import load_translator
from ganforge.data import build_dataset
from ganforge.data.degrade import center_mask, random_affine
from ganforge.data.embedded import mnist_arrays
from ganforge.data.masked import draw_masks, masked_input
from ganforge.errors import ConfigError, DataError
from ganforge.models.inpaint import GatedConv2d, crop_at, hole_crop_origin
from ganforge.objectives.base import Context
from ganforge.registry import create_model, create_objective
from ganforge.testing import tiny_config

CTX = Context(device=torch.device("cpu"), randn=torch.randn)
STEPS = 300


def config(steps: int = STEPS, batch: int = 16, **objective: object) -> dict:
    """inpaint_tiny on MNIST with mixed (centre / free-form) holes; ``objective`` adds or overrides keys."""
    return tiny_config(
        "inpaint_tiny",
        data={"name": "mnist", "split": "train", "batch_size": batch},
        objective={"name": "inpaint", "loss": "hinge", "masks": "mixed", **objective},
        optim={"g": {"lr": 2e-3, "betas": [0.5, 0.999]}, "d": {"lr": 1e-3, "betas": [0.5, 0.999]}},
        steps=steps,
        ema_kimg=0,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> ganforge.Run:
    return ganforge.train(config(), out=tmp_path_factory.mktemp("inpaint") / "run")


def _digits(n: int = 200) -> torch.Tensor:
    return mnist_arrays("test")[0][:n].float()


def _hole_psnr(out: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> float:
    mse = ((out - x).square() * mask).sum() / (mask.sum() * len(x))
    return 10 * math.log10(4 / mse.item())


# ---------------------------------------------------------------- networks


def test_gated_conv_is_feature_times_sigmoid_gate_and_keeps_shapes() -> None:
    torch.manual_seed(0)
    conv = GatedConv2d(3, 5, k=3, stride=2, dilation=2)
    x = torch.randn(2, 3, 16, 16)
    features, gates = F.conv2d(x, conv.conv.weight, conv.conv.bias, 2, 2, 2).chunk(2, dim=1)
    torch.testing.assert_close(conv(x), F.elu(features) * torch.sigmoid(gates))
    assert conv(x).shape == (2, 5, 8, 8)
    assert GatedConv2d(3, 4, k=3, dilation=4)(x).shape == (2, 4, 16, 16)  # 'same' padding at any rate


@pytest.mark.parametrize("skips", [False, True])
def test_known_pixels_come_back_exactly_and_hole_values_do_not_matter(skips: bool) -> None:
    torch.manual_seed(0)
    g = create_model("inpaint_tiny", shape=(1, 32, 32), skips=skips)["g"].eval()
    x = _digits(8)
    mask = draw_masks("mixed", 8, 32, 12, seed=3)
    known = mask.expand_as(x) < 0.5
    with torch.no_grad():
        out = g(x, mask=mask)
        noisy = g(torch.where(known, x, torch.rand_like(x) * 2 - 1), mask=mask)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = g(x, mask=mask)
    assert torch.equal(out[known], x[known]) and torch.equal(low[known], x[known])
    assert torch.equal(out, noisy)  # masked pixels are zeroed inside G
    assert out.min() >= -1 and out.max() <= 1 and not torch.equal(out[~known], x[~known])


def test_local_crop_follows_the_hole_and_stays_inside_the_image() -> None:
    mask = torch.zeros(4, 1, 32, 32)
    mask[0, :, 10:22, 10:22] = 1  # centred: crop rows/cols 8..23
    mask[1, :, 0:3, 28:32] = 1  # top-right corner: clamped
    mask[2, :, 20:22, 3:5] = 1  # bottom-left-ish
    top, left = hole_crop_origin(mask, 16)  # mask[3] is empty: centre crop
    assert top.tolist() == [8, 0, 13, 8] and left.tolist() == [8, 16, 0, 8]
    x = torch.randn(4, 2, 32, 32)
    crops = crop_at(x, top, left, 16)
    for i in range(4):
        t, s = int(top[i]), int(left[i])
        assert torch.equal(crops[i], x[i, :, t : t + 16, s : s + 16])


def test_global_local_discriminator_sees_both_views_and_trains_both_branches() -> None:
    torch.manual_seed(0)
    d = create_model("inpaint_tiny", shape=(1, 32, 32), local=12)["d"]
    assert d.local == 12
    x, mask = _digits(4), draw_masks("center", 4, 32, 12)
    logits = d(x, mask)
    assert logits.shape == (4, 1) and torch.isfinite(logits).all()
    logits.sum().backward()
    for branch in (d.global_branch, d.local_branch):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in branch.parameters())
    far = x.clone()
    far[..., :2, :2] = 1.0  # outside the local crop: only the global branch sees it
    with torch.no_grad():
        assert not torch.equal(
            d.global_branch(torch.cat([far, mask], 1)), d.global_branch(torch.cat([x, mask], 1))
        )
        assert torch.equal(d.crop(far, mask), d.crop(x, mask))


# ---------------------------------------------------------------- masks and objective


def test_mask_modes() -> None:
    centre = draw_masks("center", 3, 32, 12)
    assert torch.equal(centre, center_mask(32, 12).expand(3, 1, 32, 32)) and centre[0].sum() == 144
    free = draw_masks("free_form", 64, 32, 12, seed=1)
    assert torch.equal(free, draw_masks("free_form", 64, 32, 12, seed=1))
    assert not torch.equal(free, draw_masks("free_form", 64, 32, 12, seed=2))
    assert set(free.unique().tolist()) == {0.0, 1.0} and (free.flatten(1).sum(1) > 0).all()
    mixed = draw_masks("mixed", 64, 32, 12, seed=1)
    is_centre = (mixed == center_mask(32, 12)).flatten(1).all(1)
    assert 10 < int(is_centre.sum()) < 54  # about half each
    gen = torch.Generator().manual_seed(5)
    first, second = draw_masks("mixed", 8, 32, 12, gen=gen), draw_masks("mixed", 8, 32, 12, gen=gen)
    assert not torch.equal(first, second)  # a fresh draw per step


def test_objective_draws_or_reads_masks_and_builds_its_own_input() -> None:
    torch.manual_seed(0)
    x = _digits(4)
    batch = {"x": x, "a": torch.full_like(x, 0.7)}  # a batch's own `a` is ignored
    for mode in ("center", "free_form", "mixed"):
        objective = create_objective(
            "inpaint", create_model("inpaint_tiny", shape=(1, 32, 32)), CTX, masks=mode
        )
        mask = objective.batch_masks(batch)
        assert mask.shape == (4, 1, 32, 32) and mask.sum() > 0
    objective = create_objective(
        "inpaint", create_model("inpaint_tiny", shape=(1, 32, 32)), CTX, masks="data"
    )
    with pytest.raises(DataError, match="masked"):
        objective.step("D", batch)
    mask = draw_masks("free_form", 4, 32, 12, seed=9)
    _, a, used, _, _, _ = objective._generate({**batch, "mask": mask})
    assert torch.equal(used, mask) and torch.equal(a, masked_input(x, mask))
    d_out = objective.step("D", {**batch, "mask": mask})
    g_out = objective.step("G", {**batch, "mask": mask})
    assert {"loss_d", "d_real", "d_fake", "d_acc"} <= set(d_out) and {"loss_g", "l1_hole", "l1_valid"} <= set(
        g_out
    )
    g_out["loss"].backward()  # through the D phase's output: one G forward per step
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in objective.g.parameters())
    preview = objective.preview(objective.g, {**batch, "mask": mask})
    assert (
        preview.shape == (4, 3, 1, 32, 32) and torch.equal(preview[:, 0], a) and torch.equal(preview[:, 2], x)
    )
    l1_only = create_objective(
        "inpaint", create_model("inpaint_tiny", shape=(1, 32, 32)), CTX, lambda_adv=0.0
    )
    assert [p.name for p in l1_only.phases()] == ["G"]  # the ablation does not train D


def test_perceptual_term_compares_features_of_completion_and_target() -> None:
    """The optional feature loss: zero when the completion is the target, gradients into G only
    through the hole (the known pixels are composited), and the extractor stays frozen."""
    torch.manual_seed(0)
    x = _digits(4)
    objective = create_objective(
        "inpaint",
        create_model("inpaint_tiny", shape=(1, 32, 32)),
        CTX,
        lambda_adv=0.0,
        perceptual="mnist-cnn",
    )
    feature_loss = objective.perceptual
    assert feature_loss is not None and float(feature_loss(x, x)) == 0.0
    out = objective.step("G", {"x": x})
    assert out["perceptual"] > 0
    out["loss"].backward()
    assert all(p.grad is not None for p in objective.g.parameters())
    assert not any(p.requires_grad for p in feature_loss.extractor.parameters())
    assert (
        create_objective("inpaint", create_model("inpaint_tiny", shape=(1, 32, 32)), CTX).perceptual is None
    )
    with pytest.raises(ConfigError, match="unknown extractor"):
        create_objective("inpaint", create_model("inpaint_tiny", shape=(1, 32, 32)), CTX, perceptual="vgg19")
    with pytest.raises(ConfigError, match="lambda_perceptual"):
        create_objective(
            "inpaint", create_model("inpaint_tiny", shape=(1, 32, 32)), CTX, lambda_perceptual=-1.0
        )


def test_class_head_learns_the_label_and_conditions_the_decoder() -> None:
    """``model.class_head``: logits from G's bottleneck, trained by ``objective.lambda_class``
    (cross-entropy on the batch labels); ``condition`` feeds the posterior to the decoder, so the
    completion depends on it."""
    torch.manual_seed(0)
    x, y = _digits(32), torch.from_numpy(mnist_arrays("test")[1][:32].astype(np.int64))
    nets = create_model("inpaint_tiny", shape=(1, 32, 32), num_classes=10, class_head="condition")
    net = nets["g"].ab
    mask = center_mask(32, 12).expand(32, 1, 32, 32)
    raw, logits = net.predict_with_logits(masked_input(x, mask), mask)
    assert logits is not None and logits.shape == (32, 10)
    with torch.no_grad():
        net.class_embed.weight.add_(1.0)
    assert not torch.allclose(net.predict(masked_input(x, mask), mask), raw)  # the decoder reads it
    plain = create_model("inpaint_tiny", shape=(1, 32, 32), num_classes=10)["g"].ab
    assert plain.predict_with_logits(x, mask)[1] is None and plain.classifier is None

    objective = create_objective(
        "inpaint", nets, CTX, lambda_adv=0.0, masks="center", lambda_l1=1.0, lambda_class=5.0
    )
    opt = torch.optim.Adam(nets["g"].parameters(), lr=3e-3)
    first = None
    for _ in range(40):
        out = objective.step("G", {"x": x, "y": y})
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        first = out["class_ce"] if first is None else first
    assert out["class_ce"] < 0.5 * first and out["class_acc"] > 0.5  # it fits the labels
    with pytest.raises(DataError, match="labelled"):
        objective.step("G", {"x": x})
    with pytest.raises(ConfigError, match="class_head"):
        create_objective("inpaint", create_model("inpaint_tiny", shape=(1, 32, 32)), CTX, lambda_class=1.0)
    with pytest.raises(ConfigError, match="class_head"):
        create_model("inpaint_tiny", shape=(1, 32, 32), num_classes=10, class_head="softmax")
    with pytest.raises(ConfigError, match="labelled"):
        create_model("inpaint_tiny", shape=(1, 32, 32), class_head="aux")


def test_augmentation_warps_each_training_digit_about_its_centre() -> None:
    """``augment_rotate``/``augment_scale``: a seeded random warp about the centre (digits stay
    centred under the fixed hole), new pixels from the border; off, the batch is used as it is."""
    x = _digits(64)
    assert torch.allclose(random_affine(x, torch.Generator().manual_seed(0)), x, atol=1e-5)  # no warp
    warped = random_affine(x, torch.Generator().manual_seed(1), rotate=15, scale=0.1, background=None)
    again = random_affine(x, torch.Generator().manual_seed(1), rotate=15, scale=0.1, background=None)
    assert torch.equal(warped, again) and not torch.allclose(warped, x, atol=0.1)
    assert torch.equal(warped[..., 0, 0], x[..., 0, 0])  # black border pulled in stays black

    def centre_of_ink(images: torch.Tensor) -> torch.Tensor:
        ink = (images + 1).clamp_min(0)[:, 0]
        coords = torch.arange(32, dtype=torch.float32)
        return (
            torch.stack([(ink.sum(2) * coords).sum(1), (ink.sum(1) * coords).sum(1)], 1)
            / ink.sum((1, 2))[:, None]
        )

    assert (centre_of_ink(warped) - centre_of_ink(x)).abs().mean() < 0.5
    objective = create_objective(
        "inpaint",
        create_model("inpaint_tiny", shape=(1, 32, 32)),
        CTX,
        masks="center",
        augment_rotate=10,
        augment_scale=0.1,
    )
    target = objective._generate({"x": x})[0]
    assert target.shape == x.shape and not torch.allclose(target, x, atol=0.1)
    plain = create_objective("inpaint", create_model("inpaint_tiny", shape=(1, 32, 32)), CTX, masks="center")
    assert plain._generate({"x": x})[0] is x
    with pytest.raises(ConfigError, match="augment_scale"):
        create_objective("inpaint", create_model("inpaint_tiny", shape=(1, 32, 32)), CTX, augment_scale=1.0)
    with pytest.raises(ConfigError, match="augment_rotate"):
        create_objective("inpaint", create_model("inpaint_tiny", shape=(1, 32, 32)), CTX, augment_rotate=-5)


def test_bad_configs_are_clear_errors(tmp_path: Path) -> None:
    nets = create_model("inpaint_tiny", shape=(1, 32, 32))
    with pytest.raises(ConfigError, match="masks"):
        create_objective("inpaint", nets, CTX, masks="squares")
    with pytest.raises(ConfigError, match="hole"):
        create_objective("inpaint", nets, CTX, hole=40)
    with pytest.raises(ConfigError, match="lambda_l1"):
        create_objective("inpaint", nets, CTX, lambda_l1=-1.0)
    with pytest.raises(ConfigError, match="inpaint"):
        create_objective("inpaint", create_model("pix2pix_tiny", shape=(1, 32, 32)), CTX)
    with pytest.raises(ConfigError, match="local"):
        create_model("inpaint_tiny", shape=(1, 32, 32), local=40)
    with pytest.raises(ConfigError, match="masks"):
        build_dataset("masked", base="mnist", masks="data")
    with pytest.raises(ConfigError, match="hole"):
        build_dataset("masked", base="mnist", hole=33)
    with pytest.raises(ConfigError, match="masks"):  # refused before anything is trained or written
        ganforge.train(config(steps=2, masks="squares"), out=tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()


# ---------------------------------------------------------------- training, resume, translator


def test_inpainting_learns_to_beat_mean_fill_and_biharmonic(trained: ganforge.Run) -> None:
    from skimage.restoration import inpaint_biharmonic

    x, mask = _digits(), center_mask(32, 12)
    out = load_translator(trained.path).translate(masked_input(x, mask), mask=mask)
    known = (x * (1 - mask)).flatten(1).sum(1) / (1 - mask).flatten(1).sum(1)
    mean_fill = torch.where(mask > 0.5, known[:, None, None, None], x)
    hole = mask[0, 0].numpy().astype(bool)
    biharmonic = torch.from_numpy(np.stack([inpaint_biharmonic(i[0].double().numpy(), hole) for i in x]))
    scores = [_hole_psnr(y, x, mask) for y in (out, mean_fill, biharmonic[:, None].float())]
    assert scores[0] > scores[1] + 2.0 and scores[0] > scores[2], scores
    logged = [m["l1_hole"] for m in trained.metrics()]
    assert logged[-1] < 0.7 * logged[0], logged
    assert all(k in trained.metrics()[-1] for k in ("loss_d", "loss_g", "d_acc", "l1_valid"))


def test_translator_takes_a_mask_and_checks_it(trained: ganforge.Run) -> None:
    handle = load_translator(trained.path)
    assert handle.conditions == ("mask",)
    x, mask = _digits(5), center_mask(32, 12)
    out = handle.translate(masked_input(x, mask), mask=mask, batch_size=2)  # one mask for all five
    known = mask.expand_as(x) < 0.5
    assert out.shape == x.shape and torch.equal(out[known], x[known])
    per_image = draw_masks("free_form", 5, 32, 12, seed=4)
    assert handle.translate(x, mask=per_image).shape == x.shape
    with pytest.raises(DataError, match=r"mask must be \(N or 1, 1, 32, 32\)"):
        handle.translate(x, mask=torch.ones(5, 1, 28, 28))
    with pytest.raises(DataError, match="rows"):
        handle.translate(x, mask=torch.ones(3, 1, 32, 32))
    with pytest.raises(ConfigError, match="mask="):
        handle.translate(x)


# ---------------------------------------------------------------- data


def test_faces_split_is_a_fixed_disjoint_80_20() -> None:
    everything = build_dataset("faces").x
    train, test = build_dataset("faces", split="train").x, build_dataset("faces", split="test").x
    assert len(everything) == 100 and len(train) == 80 and len(test) == 20
    perm = np.random.default_rng(0).permutation(100)
    assert torch.equal(train, everything[perm[:80]]) and torch.equal(test, everything[perm[80:]])
    flat = lambda t: {tuple(row.tolist()) for row in t.flatten(1)}  # noqa: E731
    assert not flat(train) & flat(test)
    with pytest.raises(ConfigError, match="split"):
        build_dataset("faces", split="val")


def test_masked_dataset_carries_fixed_masks_and_masked_inputs() -> None:
    ds = build_dataset("masked", base="mnist", base_params={"split": "test"}, masks="mixed", seed=1)
    again = build_dataset("masked", base="mnist", base_params={"split": "test"}, masks="mixed", seed=1)
    assert len(ds) == 1000 and ds.y is not None and ds.num_classes == 10
    mask, a = ds.extras["mask"], ds.extras["a"]
    assert mask.shape == (1000, 1, 32, 32) and torch.equal(mask, again.extras["mask"])
    assert torch.equal(a, masked_input(ds.x, mask))
    faces = build_dataset("masked", base="faces", base_params={"split": "test"}, resolution=32)
    assert faces.x.shape == (20, 1, 32, 32) and torch.equal(faces.extras["mask"][0], center_mask(32, 12)[0])
