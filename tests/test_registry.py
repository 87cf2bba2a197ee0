"""Registry behaviour the config relies on: options declared once, variants as data."""

from __future__ import annotations

import pytest

from ganforge.errors import ConfigError
from ganforge.registry import MODELS, Registry, _load_builtins, create_model


def test_a_variant_has_its_base_schema_with_other_defaults() -> None:
    _load_builtins()
    base, tiny = MODELS.get("stylegan2"), MODELS.get("stylegan2_tiny")
    assert list(tiny.parameters()) == list(base.parameters())
    assert tiny.parameters()["channel_max"].default == 16 != base.parameters()["channel_max"].default
    assert tiny.annotations()["channel_max"] is int and tiny.meta["variant_of"] == "stylegan2"
    assert tiny.meta["resolutions"] == base.meta["resolutions"]  # the base's metadata is kept
    nets = create_model("stylegan2_tiny", shape=(1, 32, 32), channel_max=8)  # config keys still override
    assert nets["g"].z_dim == 32


def test_a_bad_variant_fails_where_it_is_declared() -> None:
    _load_builtins()
    scratch = Registry("model")
    scratch.register("dcgan", options=MODELS.get("dcgan").options)(MODELS.get("dcgan").builder)
    with pytest.raises(ConfigError, match=r"'model\.ngf' must be at least 1"):
        scratch.register_variant("dcgan_zero", base="dcgan", ngf=0)
    with pytest.raises(ValueError, match="lacks"):
        scratch.register_variant("dcgan_typo", base="dcgan", ngff=8)


def test_list_defaults_of_a_variant_become_tuples() -> None:
    _load_builtins()
    scratch = Registry("model")
    scratch.register("inpaint", options=MODELS.get("inpaint").options)(MODELS.get("inpaint").builder)
    scratch.register_variant("inpaint_dilated", base="inpaint", dilations=[1, 2])
    assert scratch.get("inpaint_dilated").parameters()["dilations"].default == (1, 2)
