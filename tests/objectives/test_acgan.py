"""The ``acgan`` objective: the paper's losses on top of the ``gan`` objective, its stabilisers intact."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from objective_helpers import MNIST, cpu_context, final_checkpoint, read_metrics, run_config

import ganforge
from ganforge.config import load_config
from ganforge.data.embedded import mnist_arrays
from ganforge.errors import ConfigError
from ganforge.losses import get_loss
from ganforge.registry import OBJECTIVES, create_model, create_objective
from ganforge.training.build import build_networks
from ganforge.training.checkpoint import load_module_state

ACGAN = {"name": "acgan"}
TRAIN_SPLIT = {"name": "mnist", "split": "train"}


def acgan_nets(seed: int = 0) -> dict[str, torch.nn.Module]:
    torch.manual_seed(seed)
    return create_model("acgan_tiny", shape=(1, 32, 32), num_classes=10)


def digit_batch(n: int = 16) -> dict[str, torch.Tensor]:
    x, y = mnist_arrays("train")
    return {"x": x[:n].clone(), "y": torch.as_tensor(y[:n])}


def test_losses_are_the_paper_equations() -> None:
    """D: adversarial + w·(CE(real) + CE(fake)); G: adversarial + w·CE(fake) (Odena et al., Eq. 2-3)."""
    nets, batch, w = acgan_nets(), digit_batch(), 0.5
    objective = create_objective("acgan", nets, cpu_context(seed=7), aux_weight=w, loss="ns")
    out_d = objective.step("D", batch)
    out_g = objective.step("G", batch)

    g, d, ns = nets["g"], nets["d"], get_loss("ns")
    x, y = batch["x"], batch["y"]
    fake = g(torch.randn(len(x), g.z_dim, generator=torch.Generator().manual_seed(7)), y)
    with torch.no_grad():
        (adv_r, cls_r), (adv_f, cls_f) = d.adv_and_class(x), d.adv_and_class(fake)
    aux_real, aux_fake = F.cross_entropy(cls_r, y), F.cross_entropy(cls_f, y)
    torch.testing.assert_close(out_d["loss"], ns.d_loss(adv_r, adv_f) + w * (aux_real + aux_fake))
    torch.testing.assert_close(out_d["aux_real"], aux_real)
    torch.testing.assert_close(out_d["aux_acc_real"], (cls_r.argmax(1) == y).float().mean())
    torch.testing.assert_close(out_g["loss"], ns.g_loss(adv_f) + w * aux_fake)
    assert out_d["loss_d"] == pytest.approx(ns.d_loss(adv_r, adv_f).item(), rel=1e-5)  # logged: adversarial


def test_zero_aux_weight_is_exactly_the_gan_objective() -> None:
    batch = digit_batch()
    nets = acgan_nets()
    ac = create_objective("acgan", nets, cpu_context(seed=3), aux_weight=0.0, r1_gamma=1.0)
    plain = create_objective("gan", nets, cpu_context(seed=3), r1_gamma=1.0)
    for phase in ("D", "G"):
        torch.testing.assert_close(ac.step(phase, batch)["loss"], plain.step(phase, batch)["loss"])


def test_gan_keyword_arguments_are_acgan_config_keys() -> None:
    """Derived from the gan builder's signature, so a new stabiliser reaches AC-GAN untouched."""
    gan_keys = set(OBJECTIVES.get("gan").parameters())
    assert set(OBJECTIVES.get("acgan").parameters()) == gan_keys | {"aux_weight"}
    cfg = load_config(run_config("acgan_tiny", MNIST, {**ACGAN, "aux_weight": 2, "r1_gamma": 1}))
    assert cfg.objective.params == {"aux_weight": 2.0, "r1_gamma": 1.0}
    assert isinstance(cfg.objective.params["aux_weight"], float)
    with pytest.raises(ConfigError, match="did you mean 'aux_weight'"):
        load_config(run_config("acgan_tiny", MNIST, {**ACGAN, "aux_wieght": 1.0}))


@pytest.mark.parametrize(
    ("objective", "logged"),
    [
        ({"loss": "hinge", "n_critic": 2, "gp_lambda": 10.0}, ("gp",)),  # GP forwards on interpolates too
        ({"loss": "rpgan", "r1_gamma": 1.0, "r2_gamma": 1.0}, ("r1", "r2")),  # G looks at D(x) under no_grad
        ({"r1_gamma": 1.0, "reg_every": 2, "lecam_lambda": 0.1}, ("r1", "lecam")),  # lazy Dreg phase
        ({"pac": 2, "augment": "diffaug", "instance_noise": 0.1, "clip_value": 0.5}, ("instance_noise",)),
    ],
    ids=["hinge-ncritic-gp", "rpgan-r1-r2", "lazy-r1-lecam", "pac-diffaug-noise-clip"],
)
def test_stabilisers_of_the_gan_objective_keep_working(tmp_path, objective, logged) -> None:
    run = ganforge.train(run_config("acgan_tiny", MNIST, {**ACGAN, **objective}, steps=4), out=tmp_path / "r")
    lines = read_metrics(run.path)
    for key in ("loss_d", "loss_g", "aux_real", "aux_fake", "aux_g", *logged):
        values = [m[key] for m in lines if key in m]
        assert values and all(math.isfinite(v) for v in values), key
    if "clip_value" in objective:  # after_optimizer_step reaches the adversarial objective
        tensors, _ = final_checkpoint(run.path)
        d = [
            v
            for k, v in tensors.items()
            if k.startswith("nets.d.") and v.is_floating_point() and "running" not in k
        ]
        assert max(v.abs().max().item() for v in d) <= objective["clip_value"]


def test_aux_classifier_learns_to_classify_held_out_digits(tmp_path) -> None:
    raw = run_config(
        "acgan_tiny", TRAIN_SPLIT, ACGAN, steps=150, batch_size=32, log_every=25, diagnostics=False
    )
    raw["optim"] = {"g": {"lr": 2e-3}, "d": {"lr": 2e-3}}
    run = ganforge.train(raw, out=tmp_path / "run")
    lines = read_metrics(run.path)
    first, last = lines[0]["aux_real"], lines[-1]["aux_real"]
    assert first > 1.5 and last < 0.6, (first, last)  # cross-entropy from near log(10) = 2.3 down
    tensors, meta = final_checkpoint(run.path)
    d = build_networks(run.config, tuple(meta["info"]["data_shape"]), 10)["d"]
    load_module_state(d, "nets.d", tensors, "test")
    x, y = mnist_arrays("test")  # never trained on
    with torch.no_grad():
        _, logits = d.eval().adv_and_class(x[:500])
    accuracy = (logits.argmax(1) == torch.as_tensor(y[:500])).float().mean().item()
    assert accuracy >= 0.6, f"the class head reads only {accuracy:.0%} of held-out digits right (chance 10%)"


@pytest.mark.parametrize(
    ("model", "data", "objective", "message"),
    [
        ("dcgan_tiny", MNIST, ACGAN, "needs a discriminator with a class head"),
        ("acgan_tiny", {"name": "faces"}, ACGAN, "needs a discriminator with a class head and labelled data"),
        (
            "acgan_tiny",
            MNIST,
            {**ACGAN, "aux_weight": -1.0},
            "'objective.aux_weight' must be a finite number >= 0",
        ),
        ("acgan_tiny", MNIST, {**ACGAN, "n_critic": 0}, "'objective.n_critic' must be at least 1"),
    ],
    ids=["no-class-head", "unlabelled-data", "negative-weight", "gan-check-still-applies"],
)
def test_misconfigurations_are_one_clear_error(tmp_path, model, data, objective, message) -> None:
    with pytest.raises(ConfigError, match=message):
        ganforge.train(run_config(model, data, objective, batch_size=16), out=tmp_path / "r")
