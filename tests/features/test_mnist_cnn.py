"""``mnist-cnn``: the shipped weights load only when their checksum matches, classify held-out digits,
and give features that depend on the image alone (not on batching, not on the call)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from ganforge.data.embedded import mnist
from ganforge.errors import EvalError
from ganforge.metrics.features import create_extractor
from ganforge.metrics.features.base import sha256_file
from ganforge.metrics.features.mnist_cnn import DEFAULT_WEIGHTS, MnistCNN


@pytest.fixture(scope="module")
def cnn() -> MnistCNN:
    return create_extractor("mnist-cnn")


@pytest.fixture(scope="module")
def test_split() -> tuple[torch.Tensor, torch.Tensor]:
    data = mnist(split="test")
    assert data.y is not None
    return data.x, data.y


def test_shipped_weights_match_their_sidecar(cnn: MnistCNN):
    meta = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    assert meta["sha256"] == sha256_file(DEFAULT_WEIGHTS)
    assert DEFAULT_WEIGHTS.stat().st_size < 2_000_000
    assert cnn.meta == meta
    assert cnn.identity.startswith("mnist-cnn-") and len(cnn.identity) == len("mnist-cnn-") + 12
    assert (cnn.feature_dim, cnn.num_classes) == (128, 10)


def test_held_out_accuracy(cnn: MnistCNN, test_split: tuple[torch.Tensor, torch.Tensor]):
    x, y = test_split
    out = cnn.extract(x)
    assert out["features"].shape == (1000, 128) and out["logits"].shape == (1000, 10)
    acc = (out["logits"].argmax(1) == y).float().mean().item()
    assert acc >= 0.97
    assert acc == pytest.approx(cnn.meta["test_accuracy"], abs=0.002)  # the sidecar tells the truth


def test_raw_28x28_digits_are_padded_like_the_training_data(cnn, test_split):
    x, y = test_split
    unpadded = x[:300, :, 2:30, 2:30]  # the embedded set pads 28x28 MNIST by 2 px of background
    assert torch.all(x[:300, :, :2] == -1)
    acc = (cnn.extract(unpadded)["logits"].argmax(1) == y[:300]).float().mean().item()
    assert acc >= 0.97
    torch.testing.assert_close(cnn.extract(unpadded)["features"], cnn.extract(x[:300])["features"])


def test_other_sizes_are_resized(cnn, test_split):
    x, _ = test_split
    big = torch.nn.functional.interpolate(x[:200], size=(64, 64), mode="bilinear", align_corners=False)
    agree = (cnn.extract(big)["logits"].argmax(1) == cnn.extract(x[:200])["logits"].argmax(1)).float()
    assert agree.mean().item() >= 0.95


def test_features_are_deterministic_and_batch_size_invariant(cnn, test_split):
    x = test_split[0][:100]
    a = cnn.extract(x, batch_size=100)
    b = cnn.extract(x, batch_size=7)
    assert torch.equal(a["features"], cnn.extract(x, batch_size=100)["features"])
    torch.testing.assert_close(a["features"], b["features"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a["logits"], b["logits"], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (torch.zeros(4, 3, 32, 32), "3 channels; for StackedMNIST classify each channel separately"),
        (torch.zeros(0, 1, 32, 32), "got no samples"),
        (torch.zeros(4, 32, 32), r"\(N, 1, H, W\)"),
        (torch.zeros(4, 1, 4, 4), "at least 8x8"),
        (torch.zeros(4, 1, 32, 32, dtype=torch.uint8), "needs floating-point inputs in"),
    ],
)
def test_incompatible_input_is_rejected_clearly(cnn: MnistCNN, x: torch.Tensor, message: str):
    with pytest.raises(EvalError, match=message):
        cnn.extract(x)


def _copy_weights(tmp_path: Path) -> Path:
    dest = tmp_path / DEFAULT_WEIGHTS.name
    shutil.copyfile(DEFAULT_WEIGHTS, dest)
    shutil.copyfile(DEFAULT_WEIGHTS.with_suffix(".json"), dest.with_suffix(".json"))
    return dest


def test_an_intact_copy_loads_with_the_same_identity(cnn: MnistCNN, tmp_path: Path):
    assert create_extractor("mnist-cnn", weights=_copy_weights(tmp_path)).identity == cnn.identity


def test_a_corrupted_copy_is_refused(tmp_path: Path):
    weights = _copy_weights(tmp_path)
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte inside a tensor: safetensors itself would not notice
    weights.write_bytes(bytes(data))
    with pytest.raises(EvalError, match="do not match the sha256"):
        create_extractor("mnist-cnn", weights=weights)


def test_missing_files_are_reported(tmp_path: Path):
    with pytest.raises(EvalError, match="not found"):
        create_extractor("mnist-cnn", weights=tmp_path / "nope.safetensors")
    weights = _copy_weights(tmp_path)
    weights.with_suffix(".json").unlink()
    with pytest.raises(EvalError, match="no sidecar"):
        create_extractor("mnist-cnn", weights=weights)
