"""pix2pix through the one Trainer: it learns edges -> digits, previews, loads as a translator."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

import ganforge
from ganforge.api import load_translator
from ganforge.data import build_dataset
from ganforge.errors import CheckpointError, ConfigError, DataError
from ganforge.objectives.base import Context
from ganforge.registry import create_model, create_objective
from ganforge.testing import tiny_config

STEPS = 200


def config(steps: int = STEPS, **train: object) -> dict:
    """edges -> digits on pix2pix_tiny; 8 samples: the 3-per-row grid that the grid tests measure."""
    return tiny_config(
        "pix2pix_tiny",
        data={"name": "edges2digits", "batch_size": 16},
        objective={"name": "pix2pix", "loss": "ns"},
        optim={"g": {"lr": 1e-3}, "d": {"lr": 1e-3}},
        **{"steps": steps, "n_samples": 8, "ema_kimg": 0, **train},
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> ganforge.Run:
    return ganforge.train(config(), out=tmp_path_factory.mktemp("p2p") / "run")


@pytest.fixture(scope="module")
def held_out() -> tuple[torch.Tensor, torch.Tensor]:
    test = build_dataset("edges2digits", split="test")
    return test.extras["a"][:256], test.x[:256]


def test_pix2pix_learns_to_fill_edges_into_digits(trained: ganforge.Run, held_out) -> None:
    edges, digits = held_out
    l1 = (load_translator(trained.path).translate(edges) - digits).abs().mean().item()
    torch.manual_seed(0)
    untrained = create_model("pix2pix_tiny", shape=(1, 32, 32))["g"].eval()
    with torch.no_grad():
        l1_untrained = (untrained(edges) - digits).abs().mean().item()
    blank = (digits + 1).abs().mean().item()  # the best constant image: all background
    assert l1 < 0.75 * blank and l1 < 0.3 * l1_untrained, (l1, blank, l1_untrained)
    logged = [m["l1"] for m in trained.metrics()]
    assert logged[-1] < 0.5 * logged[0]
    assert all(k in trained.metrics()[-1] for k in ("loss_d", "loss_g", "d_real", "d_fake", "d_acc"))


def test_sample_grid_shows_input_output_target(trained: ganforge.Run) -> None:
    grid = Image.open(trained.latest_samples)
    cells_per_row, panels = 3, 3  # 8 samples: ceil(sqrt(8)) cells per row, each input | output | target
    width = (cells_per_row * panels * (32 + 2) + 2) * 2  # make_grid: 2 px padding, scaled 2x for 32 px
    assert grid.size == (width, (3 * (32 + 2) + 2) * 2)


def test_a_translation_run_is_not_a_latent_sampler(trained: ganforge.Run, tiny_run: ganforge.Run) -> None:
    wrong = r"is a translation run .* open it with ganforge\.load_translator"
    with pytest.raises(CheckpointError, match=wrong):
        ganforge.load(trained.path)
    with pytest.raises(CheckpointError, match=r"is a generation run .* open it with ganforge\.load "):
        load_translator(tiny_run.path)


def test_translator_is_deterministic_and_checks_its_input(trained: ganforge.Run, held_out) -> None:
    handle = load_translator(trained.path)
    edges, _ = held_out
    assert handle.directions == ("AtoB",) and handle.input_shape() == (1, 32, 32)
    out = handle.translate(edges[:5], batch_size=2)
    assert torch.equal(out, handle.translate(edges[:5]))  # eval mode: no dropout noise
    assert torch.equal(handle.translate(edges[0]), out[0])  # one (C, H, W) image
    with pytest.raises(DataError, match="1-channel"):
        handle.translate(torch.zeros(2, 3, 32, 32))
    with pytest.raises(DataError, match="32x32"):
        handle.translate(torch.zeros(2, 1, 28, 28))
    with pytest.raises(DataError, match=r"\[-1, 1\]"):
        handle.translate(torch.full((1, 1, 32, 32), 255.0))
    with pytest.raises(ConfigError, match="AtoB only"):
        handle.translate(edges[:1], direction="BtoA")


def test_objective_names_what_it_needs() -> None:
    ctx = Context(device=torch.device("cpu"), randn=torch.randn)
    with pytest.raises(ConfigError, match="pix2pix"):
        create_objective("pix2pix", create_model("dcgan_tiny", shape=(1, 32, 32)), ctx)
    with pytest.raises(ConfigError, match="pix2pix"):
        create_objective("pix2pix", create_model("cyclegan_tiny", shape=(1, 32, 32)), ctx)
    objective = create_objective("pix2pix", create_model("pix2pix_tiny", shape=(1, 32, 32)), ctx)
    with pytest.raises(DataError, match="edges2digits"):
        objective.step("D", {"x": torch.zeros(2, 1, 32, 32)})
    with pytest.raises(ConfigError, match="lambda_l1"):
        create_objective("pix2pix", create_model("pix2pix_tiny", shape=(1, 32, 32)), ctx, lambda_l1=-1.0)


def test_one_generator_forward_per_step() -> None:
    """The D phase's G(A) (with G's graph) is what the G phase back-propagates through."""
    ctx = Context(device=torch.device("cpu"), randn=torch.randn)
    torch.manual_seed(0)
    objective = create_objective(
        "pix2pix", create_model("pix2pix_tiny", shape=(1, 32, 32)), ctx, loss="lsgan"
    )
    calls = []
    objective.g.register_forward_hook(lambda *args: calls.append(1))
    batch = {"x": torch.rand(4, 1, 32, 32) * 2 - 1, "a": torch.rand(4, 1, 32, 32) * 2 - 1}
    d_out = objective.step("D", batch)
    g_out = objective.step("G", batch)
    assert len(calls) == 1
    g_out["loss"].backward()
    assert all(p.grad is not None for p in objective.g.parameters())
    assert {"loss_d", "d_real", "d_fake", "d_acc"} <= set(d_out) and {"loss_g", "l1"} <= set(g_out)


def test_periodic_evaluation_scores_the_test_split(tmp_path) -> None:
    """``train.eval_every`` on a translation run: PSNR of test translations, best checkpoint kept."""
    import json

    run = ganforge.train(
        config(steps=4, eval_every=2, eval_metrics="psnr,identity", eval_n=64), out=tmp_path / "run"
    )
    lines = [json.loads(line) for line in (run.path / "logs" / "evals.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [2, 4]
    assert all(5 < line["psnr"] < 60 and 0 <= line["identity_accuracy"] <= 1 for line in lines)
    assert (run.path / "checkpoints" / "best.safetensors").exists()


def test_periodic_evaluation_without_a_test_split_is_refused_up_front(tmp_path) -> None:
    for side in "AB":
        (tmp_path / "pairs" / side).mkdir(parents=True)
        for i in range(4):
            Image.new("L", (32, 32), 40 * i).save(tmp_path / "pairs" / side / f"{i}.png")
    raw = config(steps=2, eval_every=1)
    raw["data"] = {"name": "paired_folder", "path": str(tmp_path / "pairs"), "batch_size": 2}
    with pytest.raises(ConfigError, match=r"eval_every.*held-out split"):
        ganforge.train(raw, out=tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before any training or writing


def test_l1_only_ablation_has_no_d_phase(tmp_path) -> None:
    """``lambda_adv: 0`` is a plain L1 regression U-Net: no D phase, D's weights never move."""
    ctx = Context(device=torch.device("cpu"), randn=torch.randn)
    objective = create_objective(
        "pix2pix", create_model("pix2pix_tiny", shape=(1, 32, 32)), ctx, lambda_adv=0.0
    )
    assert [p.name for p in objective.phases()] == ["G"] and objective.phases()[0].fresh_batch
    raw = config(steps=3)
    raw["objective"]["lambda_adv"] = 0.0
    run = ganforge.train(raw, out=tmp_path / "run")
    from ganforge.training.checkpoint import latest_checkpoint, load_checkpoint

    tensors, _ = load_checkpoint(latest_checkpoint(run.path / "checkpoints"))
    assert any(k.startswith("nets.d.") for k in tensors) and any(k.startswith("optim.g.") for k in tensors)
    assert not any(k.startswith("optim.d.") for k in tensors)  # D's Adam never took a step
    with pytest.raises(ConfigError, match="lambda_adv"):
        create_objective("pix2pix", create_model("pix2pix_tiny", shape=(1, 32, 32)), ctx, lambda_adv=-1.0)
