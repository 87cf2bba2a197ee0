"""The ``gan`` objective's stabilisers: config keys, what each adds to which phase, and checkpointing."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from objective_helpers import MNIST, CountingD, final_checkpoint, read_metrics, run_config, toy_objective

import ganforge
from ganforge.config import load_config
from ganforge.errors import ConfigError
from ganforge.objectives.penalties import pack
from ganforge.regularizers import orthogonal_penalty, zero_centered_penalty
from ganforge.training.build import build_networks

ALL_KEYS = {
    "gp_lambda": 10.0,
    "r1_gamma": 1.0,
    "r2_gamma": 1.0,
    "reg_every": 2,
    "lecam_lambda": 0.1,
    "ortho_lambda": 1e-4,
    "clip_value": 0.5,
    "label_smoothing": 0.1,
    "instance_noise": 0.1,
    "instance_noise_steps": 100,
    "pac": 2,
}


def test_every_stabilizer_is_a_typed_objective_key() -> None:
    cfg = load_config(run_config(objective={**ALL_KEYS, "r1_gamma": 1, "reg_every": 2.0}))
    assert cfg.objective.params == ALL_KEYS
    assert isinstance(cfg.objective.params["r1_gamma"], float)
    assert isinstance(cfg.objective.params["reg_every"], int)
    with pytest.raises(ConfigError, match="did you mean 'r1_gamma'"):
        load_config(run_config(objective={"r1_gama": 1.0}))


def test_all_stabilizers_combine_in_one_run(tmp_path) -> None:
    run = ganforge.train(run_config(objective=ALL_KEYS, steps=4), out=tmp_path / "run")
    logged = {k: v for line in run.metrics() for k, v in line.items()}
    for key in ("r1", "r2", "gp", "lecam", "ortho", "instance_noise", "loss_d", "loss_g"):
        assert key in logged and math.isfinite(logged[key]), key


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        ({"loss": "hinge", "label_smoothing": 0.1}, "binary cross-entropy.*loss 'hinge'"),
        ({"loss": "rpgan", "label_smoothing": 0.1}, "loss 'rpgan' has no such target"),
        ({"label_smoothing": 1.0}, "'objective.label_smoothing' must be below 1"),
        ({"r1_gamma": -1.0}, "'objective.r1_gamma' must be a finite number >= 0"),
        ({"gp_lambda": float("nan")}, "'objective.gp_lambda' must be a finite number"),
        ({"reg_every": 0}, "'objective.reg_every' must be at least 1"),
        ({"pac": 0}, "'objective.pac' must be at least 1"),
        ({"pac": 3}, r"'data.batch_size' \(16\) must be divisible by 'objective.pac' \(3\)"),
    ],
)
def test_bad_settings_are_config_errors(tmp_path, objective, message) -> None:
    with pytest.raises(ConfigError, match=message):
        ganforge.train(run_config(objective=objective), out=tmp_path / "run")


def test_lazy_regularisation_moves_penalties_to_a_dreg_phase_scaled_by_reg_every() -> None:
    """StyleGAN2 (Karras et al. 2020, Sec. 3.1): R1 every k steps, k times as strong."""
    obj = toy_objective(r1_gamma=2.0, reg_every=4)
    assert [(p.name, p.trains, p.every) for p in obj.phases()] == [
        ("D", "d", 1),
        ("G", "g", 1),
        ("Dreg", "d", 4),
    ]
    real = torch.randn(8, 2)
    assert "r1" not in obj.step("D", {"x": real})
    out = obj.step("Dreg", {"x": real})
    r1 = zero_centered_penalty(obj.d, real).item()
    assert out["r1"].item() == pytest.approx(r1, rel=1e-6)
    assert out["loss"].item() == pytest.approx(4 * 0.5 * 2.0 * r1, rel=1e-6)
    assert [p.name for p in toy_objective(r1_gamma=2.0).phases()] == ["D", "G"]
    assert [p.name for p in toy_objective(reg_every=4).phases()] == ["D", "G"]  # nothing to make lazy


def test_eager_r1_shares_ds_forward_and_adds_half_gamma_r1() -> None:
    obj = toy_objective(r1_gamma=3.0, reuse_fakes=False)
    obj.d = CountingD(obj.d)
    real = torch.randn(8, 2)
    out = obj.step("D", {"x": real})
    assert obj.d.calls == 2  # D(x) and D(G(z)); R1 differentiates the D(x) the loss already made
    r1 = zero_centered_penalty(obj.d, real).item()
    assert out["r1"].item() == pytest.approx(r1, rel=1e-6)
    assert out["loss"].item() == pytest.approx(out["loss_d"].item() + 1.5 * r1, rel=1e-6)


def test_fake_penalties_train_d_only_while_the_fakes_keep_gs_graph() -> None:
    """With reuse_fakes, D's phase builds fakes with G's graph for the G phase; GP and R2 use them
    detached, so the D loss never sends gradient into G."""
    obj = toy_objective(gp_lambda=10.0, r2_gamma=1.0)
    out = obj.step("D", {"x": torch.randn(8, 2)})
    assert out["gp"].item() > 0 and out["r2"].item() > 0
    out["loss"].backward()
    assert all(p.grad is None for p in obj.g.parameters())
    assert all(p.grad is not None for p in obj.d.parameters())
    assert obj._pending_fake is not None and obj._pending_fake.requires_grad


def test_label_smoothing_is_bce_with_real_target_one_minus_eps() -> None:
    """Salimans et al. 2016, Sec. 3.4: real targets 0.9, fake targets stay 0 (one-sided)."""
    obj = toy_objective(label_smoothing=0.1)
    real = torch.randn(8, 2)
    out = obj.step("D", {"x": real})
    with torch.no_grad():
        r, f = obj.d(real), obj.d(obj._pending_fake)
    smoothed = F.binary_cross_entropy_with_logits(r, torch.full_like(r, 0.9))
    expected = smoothed + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert out["loss_d"].item() == pytest.approx((F.softplus(-r).mean() + F.softplus(f).mean()).item())


def test_pack_stacks_consecutive_samples_on_the_channel_axis() -> None:
    x, y = torch.arange(4 * 2 * 3 * 3.0).reshape(4, 2, 3, 3), torch.tensor([5, 6, 7, 8])
    packed, labels = pack(x, y, 2)
    assert packed.shape == (2, 4, 3, 3) and labels is not None and labels.tolist() == [5, 7]
    assert torch.equal(packed[1], torch.cat([x[2], x[3]]))
    packed_nhwc, _ = pack(x.contiguous(memory_format=torch.channels_last), None, 2)
    assert torch.equal(packed_nhwc, packed) and packed_nhwc.is_contiguous(memory_format=torch.channels_last)
    v = torch.randn(6, 2)
    assert torch.equal(pack(v, None, 3)[0][1], torch.cat([v[3], v[4], v[5]]))
    with pytest.raises(ConfigError, match="must divide the batch size per process"):
        pack(torch.randn(5, 2), None, 2)


@pytest.mark.parametrize(
    ("model", "data", "shape"), [("mlp_tiny", None, (2,)), ("dcgan_tiny", MNIST, (1, 32, 32))]
)
def test_pac_builds_d_for_packed_samples(model, data, shape) -> None:
    """PacGAN (Lin et al. 2018): D's input layer takes pac samples' channels/features; G is unchanged."""
    plain = build_networks(load_config(run_config(model, data)), shape)
    packed = build_networks(load_config(run_config(model, data, {"pac": 4})), shape)
    first = next(m for m in packed["d"].modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)))
    assert (first.in_features if isinstance(first, torch.nn.Linear) else first.in_channels) == 4 * shape[0]
    assert packed["g"].out_shape == plain["g"].out_shape == shape
    assert packed["d"](torch.randn(3, 4 * shape[0], *shape[1:])).shape == (3,)


def test_pac_trains_an_image_gan(tmp_path) -> None:
    run = ganforge.train(run_config("dcgan_tiny", MNIST, {"pac": 2}, steps=2), out=tmp_path / "run")
    tensors, _ = final_checkpoint(run.path)
    assert tensors["nets.d.main.0.weight"].shape[1] == 2
    assert all(math.isfinite(line["loss_d"]) for line in run.metrics())


def test_instance_noise_anneals_linearly_over_training_steps() -> None:
    obj = toy_objective(instance_noise=0.4, instance_noise_steps=4, n_critic=2)
    stds = [obj.step("D", {"x": torch.randn(8, 2)})["instance_noise"].item() for _ in range(12)]
    assert stds == pytest.approx([0.4, 0.4, 0.3, 0.3, 0.2, 0.2, 0.1, 0.1, 0, 0, 0, 0])
    assert obj.state_dict() == {"d_steps": 12}
    resumed = toy_objective(instance_noise=0.4, instance_noise_steps=4, n_critic=2)
    resumed.load_state_dict({"d_steps": 4})
    assert resumed.step("D", {"x": torch.randn(8, 2)})["instance_noise"].item() == pytest.approx(0.2)


def test_instance_noise_perturbs_both_of_ds_inputs() -> None:
    obj = toy_objective(instance_noise=1.0, reuse_fakes=False)
    seen: list[torch.Tensor] = []
    obj.d.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    real = torch.zeros(4096, 2)
    obj.step("D", {"x": real})
    assert len(seen) == 2
    assert seen[0].std().item() == pytest.approx(1.0, abs=0.05)  # real + N(0, 1)
    plain = toy_objective(reuse_fakes=False)
    plain.d.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    plain.step("D", {"x": real})
    assert torch.equal(seen[2], real)
    assert not torch.allclose(seen[1], seen[3])  # same seed, same fakes, but noise added


@pytest.mark.parametrize(("loss", "d_calls"), [("ns", 1), ("hinge", 1), ("rpgan", 2), ("ragan", 2)])
def test_g_phase_scores_reals_only_for_relativistic_losses(loss, d_calls) -> None:
    obj = toy_objective(loss=loss)
    obj.d = CountingD(obj.d)
    real = torch.randn(8, 2)
    obj.step("D", {"x": real})
    fake, obj.d.calls = obj._pending_fake, 0
    out = obj.step("G", {"x": real})
    assert obj.d.calls == d_calls
    if loss == "rpgan":
        with torch.no_grad():
            expected = F.softplus(-(obj.d(fake) - obj.d(real))).mean()
        assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_orthogonal_penalty_is_added_to_gs_loss() -> None:
    obj = toy_objective(ortho_lambda=1e-3)
    real = torch.randn(8, 2)
    assert "ortho" not in obj.step("D", {"x": real})
    out = obj.step("G", {"x": real})
    ortho = orthogonal_penalty(obj.g).item()
    assert out["ortho"].item() == pytest.approx(ortho, rel=1e-6)
    assert out["loss"].item() == pytest.approx(out["loss_g"].item() + 1e-3 * ortho, rel=1e-6)


def test_weight_clipping_keeps_every_critic_weight_within_c(tmp_path) -> None:
    objective = {"loss": "wasserstein", "clip_value": 0.01, "n_critic": 2}
    run = ganforge.train(run_config(objective=objective, steps=3), out=tmp_path / "run")
    tensors, _ = final_checkpoint(run.path)
    d = torch.cat([v.flatten() for k, v in tensors.items() if k.startswith("nets.d.")])
    g = torch.cat([v.flatten() for k, v in tensors.items() if k.startswith("nets.g.")])
    assert d.abs().max().item() <= 0.01 and (d.abs() == 0.01).any()
    assert g.abs().max().item() > 0.01  # G is not clipped


def test_lecam_state_survives_resume_bit_exactly(tmp_path) -> None:
    raw = run_config(
        objective={"lecam_lambda": 0.3, "n_critic": 2, "instance_noise": 0.1}, steps=3, deterministic=True
    )
    ganforge.train(raw, out=tmp_path / "a")
    tensors, meta = final_checkpoint(tmp_path / "a")
    assert {"objective.lecam.ema_real", "objective.lecam.ema_fake"} <= set(tensors)
    assert meta["objective"] == {"d_steps": 6}
    ganforge.train(raw, out=tmp_path / "a", overrides=["train.steps=6"], resume=True)
    ganforge.train(raw, out=tmp_path / "b", overrides=["train.steps=6"])
    (ta, ma), (tb, mb) = final_checkpoint(tmp_path / "a"), final_checkpoint(tmp_path / "b")
    assert set(ta) == set(tb)
    differing = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not differing, differing[:5]
    assert ma["objective"] == mb["objective"] == {"d_steps": 12}
    assert not torch.equal(ta["objective.lecam.ema_real"], tensors["objective.lecam.ema_real"])
    lecam = [[m["lecam"] for m in read_metrics(tmp_path / r)] for r in ("a", "b")]
    assert lecam[0] == lecam[1] and len(lecam[0]) == 6


def test_gradient_penalties_work_under_bf16_autocast() -> None:
    """Under autocast G's fakes are bf16 while the data are fp32; the penalties must mix them."""
    obj = toy_objective(gp_lambda=10.0, r1_gamma=1.0, r2_gamma=1.0, instance_noise=0.1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = obj.step("D", {"x": torch.randn(8, 2)})
        assert obj._pending_fake is not None and obj._pending_fake.dtype == torch.bfloat16
    out["loss"].backward()
    assert all(torch.isfinite(out[k]) and out[k] > 0 for k in ("gp", "r1", "r2"))
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in obj.d.parameters())


def test_relativistic_d_accuracy_counts_correctly_ranked_pairs() -> None:
    """A relativistic D has no fixed threshold; it is right when D(x) > D(G(z)) for the pair."""
    obj = toy_objective(loss="rpgan")
    real = torch.randn(64, 2)
    out = obj.step("D", {"x": real})
    with torch.no_grad():
        expected = (obj.d(real) > obj.d(obj._pending_fake)).float().mean()
    assert out["d_acc"].item() == pytest.approx(expected.item())
