"""Every registered model, objective and dataset declares its options on ``options.Options``, and
every bound it declares in an annotation (``ngf: PositiveInt``) is enforced: a value one below the
bound is a ConfigError naming the key. A subclass that overrode ``__post_init__`` without calling
``super().__post_init__()`` would silently drop its bounds; this walk catches it."""

from __future__ import annotations

import dataclasses
import math

import pytest

from ganforge.errors import ConfigError
from ganforge.models.base import ModelOptions
from ganforge.options import AtLeast, Options, PositiveInt, Within, declared_bounds
from ganforge.registry import DATASETS, MODELS, OBJECTIVES, _load_builtins


def _options_classes() -> dict[str, type]:
    _load_builtins()
    found = {}
    for registry in (MODELS, OBJECTIVES, DATASETS):
        for entry in registry.entries():
            if entry.options is not None:
                found.setdefault(entry.options.__qualname__, entry.options)
    return found


OPTIONS = _options_classes()
BOUNDED = {name: cls for name, cls in OPTIONS.items() if declared_bounds(cls)}


def test_the_walk_finds_bounded_options_of_models_and_objectives() -> None:
    section = {getattr(cls, "SECTION", None) for cls in BOUNDED.values()}
    assert {"model", "objective"} <= section
    assert len(BOUNDED) >= 20


def violations(bound: AtLeast | Within, is_int: bool) -> list[float]:
    """Values just outside ``bound``."""
    if isinstance(bound, AtLeast):
        return [int(bound.minimum) - 1 if is_int else bound.minimum - 0.5]
    return [bound.low - 1, bound.high + 1] if is_int else [bound.low - 0.5, bound.high + 0.5]


@pytest.mark.parametrize("name", sorted(BOUNDED))
def test_every_declared_bound_is_enforced(name: str) -> None:
    cls = BOUNDED[name]
    assert issubclass(cls, Options)
    cls()  # the defaults satisfy their own bounds
    for key, is_int, bound in declared_bounds(cls):
        for value in violations(bound, is_int):
            with pytest.raises(ConfigError, match=rf"'{cls.SECTION}\.{key}' must be"):
                cls(**{key: value})
        if is_int:  # a float where a layer size belongs fails here, not inside nn.Conv2d
            with pytest.raises(ConfigError, match=rf"'{cls.SECTION}\.{key}' must be an integer"):
                cls(**{key: 1.5})
        else:
            with pytest.raises(ConfigError, match=rf"'{cls.SECTION}\.{key}' must be"):
                cls(**{key: math.nan})


def test_variants_keep_the_bounds_of_their_base() -> None:
    _load_builtins()
    variants = [e for e in MODELS.entries() if e.meta.get("variant_of") and e.options is not None]
    assert len(variants) >= 10
    for entry in variants:
        base = MODELS.get(entry.meta["variant_of"]).options
        assert declared_bounds(entry.options) == declared_bounds(base), entry.name
    with pytest.raises(ConfigError, match=r"'model\.ch' must be at least 1"):
        MODELS.build("biggan_tiny", (1, 32, 32), ch=0)


def test_a_key_redeclared_with_another_default_keeps_its_bound() -> None:
    """``n_critic: PositiveInt = 5`` in a subclass, not ``n_critic: int = 5``, which would drop it."""
    for cls in OPTIONS.values():
        own = {key: (is_int, bound) for key, is_int, bound in declared_bounds(cls)}
        for base in cls.__mro__[1:]:
            if dataclasses.is_dataclass(base) and issubclass(base, Options):
                for key, is_int, bound in declared_bounds(base):
                    assert own.get(key) == (is_int, bound), f"{cls.__qualname__}.{key} lost its bound"


def test_an_optional_bounded_key_accepts_none() -> None:
    from ganforge.models.translation import TranslationOptions

    assert TranslationOptions(d_layers=None).d_layers is None
    with pytest.raises(ConfigError, match=r"'model\.d_layers' must be at least 1, got 0"):
        TranslationOptions(d_layers=0)


def test_options_classes_are_frozen_dataclasses_whose_defaults_hold() -> None:
    for cls in OPTIONS.values():
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls
        cls()  # a __post_init__ chain that breaks (a mixin outside Options) fails here


def test_a_mixin_group_checks_its_keys_in_the_family_that_inherits_it() -> None:
    """MLPOptions inherits MixtureLatentOptions: the group's own rules run, after the bounds."""
    from ganforge.models.mlp import MLPOptions

    with pytest.raises(ConfigError, match=r"'model\.latent_components' must be 0 \(off\) or at least 2"):
        MLPOptions(latent_components=1)
    with pytest.raises(ConfigError, match=r"'model\.depth' must be at least 1"):
        MLPOptions(depth=0)


def test_options_whose_annotations_do_not_all_resolve_still_check_the_ones_that_do() -> None:
    """A plugin's field typed with a name imported under TYPE_CHECKING only must not stop its
    options from being made (typing.get_type_hints fails on the whole class there)."""

    @dataclasses.dataclass(frozen=True)
    class PluginOptions(ModelOptions):
        where: NotImportedHere | None = None  # noqa: F821 (a TYPE_CHECKING-only name)
        width: PositiveInt = 8

    assert PluginOptions().width == 8
    with pytest.raises(ConfigError, match=r"'model\.width' must be at least 1, got 0"):
        PluginOptions(width=0)
