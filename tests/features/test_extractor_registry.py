"""Every extractor is reachable by name through one door, and listed by the CLI."""

from __future__ import annotations

import pytest

from ganforge.cli.main import main
from ganforge.errors import RegistryError
from ganforge.metrics.features import EXTRACTORS, FeatureExtractor, create_extractor
from ganforge.registry import EXTRACTORS as REGISTRY_EXTRACTORS
from ganforge.registry import _load_builtins

BUILTIN = ("inception", "inception-fidhelper", "mnist-cnn", "raw")


def test_builtins_registered_and_loaded_with_the_other_registries():
    _load_builtins()
    assert EXTRACTORS is REGISTRY_EXTRACTORS
    assert set(BUILTIN) <= set(EXTRACTORS.names())


def test_create_extractor_builds_a_feature_extractor():
    extractor = create_extractor("raw")
    assert isinstance(extractor, FeatureExtractor)
    assert extractor.name == "raw"


def test_unknown_name_and_key_are_reported_with_a_suggestion():
    with pytest.raises(RegistryError, match="did you mean 'mnist-cnn'"):
        create_extractor("mnist_cnn")
    with pytest.raises(RegistryError, match=r"unknown key 'weight'.*did you mean 'weights'"):
        create_extractor("inception", weight="x.pth")


def test_cli_lists_extractors(capsys: pytest.CaptureFixture[str]):
    assert main(["list", "extractors"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("extractors:")
    for name in BUILTIN:
        assert f"  {name} " in out
