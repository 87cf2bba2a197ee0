"""Task metrics of image-to-image runs through ``ganforge eval``: scored on the test split, checked
against direct computations, and refused clearly where they do not apply."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import ganforge
from ganforge.api import load_translator
from ganforge.cli.main import main
from ganforge.data import build_dataset
from ganforge.errors import EvalError
from ganforge.evaluation import evaluate
from ganforge.metrics.features import create_extractor
from ganforge.metrics.image_quality import mean_psnr
from ganforge.tasks.translation import attr_requests

N = 96


def _train(tmp: Path, model: str, data: dict, objective: dict, steps: int = 20) -> Path:
    cfg = {
        "model": {"name": model},
        "data": {**data, "batch_size": 8},
        "objective": objective,
        "train": {"steps": steps, "progress": False, "ema_kimg": 0},
    }
    return ganforge.train(cfg, out=tmp / objective["name"]).path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("translation-eval")
    return {
        "pix2pix": _train(tmp, "pix2pix_tiny", {"name": "edges2digits"}, {"name": "pix2pix"}),
        "cyclegan": _train(
            tmp, "cyclegan_tiny", {"name": "thin2thick"}, {"name": "cyclegan", "loss": "lsgan"}
        ),
    }


def test_psnr_ssim_identity_fid_on_the_test_split(runs: dict[str, Path]) -> None:
    result = evaluate(runs["pix2pix"], "psnr,ssim,identity,fid", n=N)
    assert set(result.values) == {"psnr", "ssim", "identity_accuracy", "fid"}
    assert result.record["n"] == N and result.record["dataset"]["split"] == "test"
    test = build_dataset("edges2digits", split="test")
    out = load_translator(runs["pix2pix"]).translate(test.extras["a"][:N])
    assert result.values["psnr"] == pytest.approx(mean_psnr(out, test.x[:N]), abs=1e-4)
    logits = create_extractor("mnist-cnn").extract(out)["logits"]
    expected = float((logits.argmax(1) == test.y[:N]).float().mean())
    assert result.values["identity_accuracy"] == pytest.approx(expected)
    assert result.path is not None and result.path.exists()


def test_n_is_capped_at_the_test_split(runs: dict[str, Path]) -> None:
    result = evaluate(runs["pix2pix"], "psnr", n=5000, write=False)
    assert result.record["n"] == 1000  # the MNIST test split holds 1,000 digits


def test_cycle_error_of_cyclegan(runs: dict[str, Path]) -> None:
    values = evaluate(runs["cyclegan"], "cycle", n=N, write=False).values
    test = build_dataset("thin2thick", split="test")
    t = load_translator(runs["cyclegan"])
    back = t.translate(t.translate(test.extras["a"][:N]), direction="BtoA")
    assert values["cycle_l1"] == pytest.approx(float((back - test.extras["a"][:N]).abs().mean()), abs=1e-5)
    assert values["cycle_psnr"] == pytest.approx(mean_psnr(back, test.extras["a"][:N]), abs=1e-4)


def test_cli_json_prints_the_values_only(runs: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["eval", str(runs["pix2pix"]), "--metrics", "psnr,ssim", "--n", "32", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"psnr", "ssim"}


def test_identity_under_the_independent_classifier(runs: dict[str, Path]) -> None:
    values = evaluate(runs["pix2pix"], "identity", n=N, extractor="mnist-judge", write=False).values
    assert 0.0 <= values["identity_accuracy"] <= 1.0


def test_clear_errors(runs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="both ways"):
        evaluate(runs["pix2pix"], "cycle", n=8, write=False)
    with pytest.raises(EvalError, match="attribute"):
        evaluate(runs["pix2pix"], "attribute", n=8, write=False)
    latent = ganforge.train(
        {"model": {"name": "dcgan_tiny"}, "data": {"name": "mnist", "batch_size": 8}, "train": {"steps": 1}},
        out=tmp_path / "latent",
    ).path
    with pytest.raises(EvalError, match="image-to-image"):
        evaluate(latent, "psnr", n=8, write=False)


def test_attribute_requests_span_the_5_to_95_percentiles_in_five_levels() -> None:
    attr = torch.linspace(0, 100, 101)[:, None]
    attr[-1] = 1000.0  # an outlier must not stretch the requests
    asked = attr_requests(attr)[:, 0]
    torch.testing.assert_close(asked[:7], torch.tensor([5.0, 27.5, 50.0, 72.5, 95.0, 5.0, 27.5]))


def test_inpainting_is_scored_inside_the_centred_hole(tmp_path: Path) -> None:
    """A plain-image inpainting run: inputs are the test digits with the 12x12 hole, PSNR and SSIM
    are computed over the hole only (known pixels come back exactly and would flatter it)."""
    from ganforge.data.degrade import apply_mask, center_mask
    from ganforge.data.embedded import mnist_arrays

    run = _train(
        tmp_path, "inpaint_tiny", {"name": "mnist", "split": "train"}, {"name": "inpaint", "hole": 12}
    )
    values = evaluate(run, "psnr,identity", n=N, write=False).values
    x = mnist_arrays("test")[0][:N]
    mask = center_mask(32, 12).expand(N, 1, 32, 32)
    out = load_translator(run).translate(apply_mask(x, mask), mask=mask)
    hole = mask.expand_as(x) > 0.5
    assert torch.equal(out[~hole], x[~hole])
    mse = float(((out - x)[hole] ** 2).mean())
    assert values["psnr"] == pytest.approx(10 * np.log10(4.0 / mse), abs=1e-3)
