"""Name -> builder registries (timm-style), so configs can say ``model.name: dcgan``.

Every buildable thing (model, loss, dataset, objective, task) registers a builder with a decorator.
The builder declares its options once, and that declaration *is* its config schema: the fields of
its ``Options`` dataclass (models: ``register_model(..., options=...)``; objectives: the class's
``Options``), or its keyword arguments (datasets, losses). ``Registry.check_kwargs`` validates
config keys against it, so an unknown key is reported with the closest valid name. Variants are
data: ``register_variant("dcgan_tiny", base="dcgan", ngf=8)`` is the base with other defaults
(timm's ``model_args``).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib.metadata
import inspect
import typing
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ganforge.errors import RegistryError
from ganforge.options import field_hints

F = TypeVar("F", bound=Callable[..., Any])


def closest(name: str, options: Iterable[str]) -> str | None:
    """The option that best matches ``name`` (for 'did you mean' messages), or None."""
    matches = difflib.get_close_matches(name, list(options), n=1, cutoff=0.5)
    return matches[0] if matches else None


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix, or '' when nothing is close."""
    best = closest(name, options)
    return f" (did you mean '{best}'?)" if best else ""


@dataclass
class Entry:
    """One registered builder plus free-form metadata (e.g. supported resolutions, description)."""

    name: str
    builder: Callable[..., Any]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def description(self) -> str:
        doc = self.meta.get("description") or inspect.getdoc(self.builder) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    @property
    def options(self) -> type | None:
        """The dataclass that declares the builder's options (``meta["options"]`` or the builder's
        ``Options`` attribute), when it declares them that way."""
        options = self.meta.get("options") or getattr(self.builder, "Options", None)
        return options if isinstance(options, type) and dataclasses.is_dataclass(options) else None

    def parameters(self) -> dict[str, inspect.Parameter]:
        """Keyword parameters a config may set (excludes *args/**kwargs): the builder's own and, for a
        builder with an options dataclass, that dataclass's fields (the builder's ``options``
        argument itself is filled from them)."""
        sig = inspect.signature(self.builder)
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        own = {n: p for n, p in sig.parameters.items() if p.kind in kinds}
        if self.options is None:
            return own
        own.pop("options", None)
        kind, empty = inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.empty
        fields = {
            f.name: f.default if f.default is not dataclasses.MISSING else empty
            for f in dataclasses.fields(self.options)
        }
        return {**own, **{name: inspect.Parameter(name, kind, default=d) for name, d in fields.items()}}

    def annotations(self) -> dict[str, Any]:
        """Resolved type hints of the options (for config type checks); {} when unresolvable."""
        hints: dict[str, Any] = {}
        for target in (self.builder, self.options):
            while isinstance(target, functools.partial):  # a variant: its base's hints
                target = target.func
            if target is None:
                continue
            try:
                hints.update(typing.get_type_hints(target))
            except Exception:  # unresolved forward references: no type checks rather than a crash
                continue
        return hints

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Build: keys of the options dataclass (when there is one) become its instance, passed as
        ``options=``; the rest go to the builder as they are."""
        if self.options is None:
            return self.builder(*args, **kwargs)
        names = {f.name for f in dataclasses.fields(self.options)}
        options = self.options(**{k: v for k, v in kwargs.items() if k in names})
        return self.builder(*args, options=options, **{k: v for k, v in kwargs.items() if k not in names})


class Registry:
    """A named table of builders. ``kind`` is used in error messages ('unknown model ...')."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._aliases: dict[str, str] = {}

    def register(
        self, name: str | None = None, *, aliases: tuple[str, ...] = (), **meta: Any
    ) -> Callable[[F], F]:
        """Decorator: ``@MODELS.register("dcgan", resolutions=(32, 64, 128))``."""

        def deco(fn: F) -> F:
            key = name or fn.__name__
            for k in (key, *aliases):
                if k in self._entries or k in self._aliases:
                    raise ValueError(f"{self.kind} '{k}' is registered twice")
            self._entries[key] = Entry(key, fn, {"aliases": tuple(aliases), **meta})
            self._aliases.update({a: key for a in aliases})
            return fn

        return deco

    def get(self, name: str) -> Entry:
        try:
            return self._entries[self._aliases.get(name, name)]
        except KeyError:
            raise RegistryError(
                f"unknown {self.kind} '{name}'{did_you_mean(name, self._entries)};"
                f" available: {', '.join(sorted(self._entries))}"
            ) from None

    def register_variant(
        self, name: str, base: str, *, description: str | None = None, **defaults: Any
    ) -> None:
        """Register ``name`` as ``base`` with other defaults: the same schema, other values.

        ``register_variant("dcgan_tiny", base="dcgan", z_dim=16, ngf=8, ndf=8)``; the variant keeps
        the base's metadata (e.g. its resolutions) and records ``variant_of``.
        """
        entry = self.get(base)
        unknown = set(defaults) - set(entry.parameters())
        if unknown:
            raise ValueError(f"variant '{name}' sets {sorted(unknown)}, which {self.kind} '{base}' lacks")
        meta = {**entry.meta, "variant_of": entry.name, "aliases": ()}
        meta["description"] = description or f"{entry.name} with {_describe(defaults)}"
        builder: Callable[..., Any] = entry.builder
        if entry.options is None:  # a plain builder: the same function with other keyword defaults
            builder = functools.partial(entry.builder, **defaults)
        else:  # the same options class with other defaults
            # With their ``Annotated`` extras: a variant keeps the bounds its base declares.
            hints = field_hints(entry.options)
            frozen = {k: tuple(v) if isinstance(v, list) else v for k, v in defaults.items()}
            changed = [(k, hints.get(k, Any), field(default=v)) for k, v in frozen.items()]
            meta["options"] = dataclasses.make_dataclass(
                f"{entry.options.__name__}_{name}", changed, bases=(entry.options,), frozen=True
            )
            meta["options"]()  # a bad default is an error where the variant is declared, not at build
        self.register(name, **{k: v for k, v in meta.items() if k != "aliases"})(builder)

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        entry = self.get(name)
        self.check_kwargs(name, kwargs)
        return entry(*args, **kwargs)

    def check_kwargs(self, name: str, kwargs: dict[str, Any], section: str | None = None) -> None:
        """Raise a RegistryError naming the first key the builder does not accept."""
        params = self.get(name).parameters()
        for key in kwargs:
            if key not in params:
                where = f"{section}.{key}" if section else key
                raise RegistryError(
                    f"unknown key '{where}' for {self.kind} '{name}'"
                    f"{did_you_mean(key, params)}; valid: {', '.join(sorted(params))}"
                )

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases


def _describe(defaults: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in defaults.items())


MODELS = Registry("model")
LOSSES = Registry("loss")
DATASETS = Registry("dataset")
OBJECTIVES = Registry("objective")
EXTRACTORS = Registry("extractor")
TASKS = Registry("task")
TEXT_ENCODERS = Registry("text encoder")  # prompts -> sentence embeddings (ganforge.text)

register_model = MODELS.register
register_variant = MODELS.register_variant
register_loss = LOSSES.register


def register_dataset(
    name: str | None = None, *, native_resolution: int | None = None, channels: int | None = None, **meta: Any
) -> Callable[[F], F]:
    """``@register_dataset("mnist", native_resolution=32, channels=1)``: the size and channels the
    data come in, None (the defaults) where they depend on the data's options (a folder of yours,
    a derived dataset)."""
    return DATASETS.register(name, native_resolution=native_resolution, channels=channels, **meta)


def register_objective(name: str, **meta: Any) -> Callable[[F], F]:
    """``@register_objective("pix2pix")`` on an ``Objective`` subclass. One with a ``model``
    attribute (a two-player game) trains the model family of its own name unless it sets ``model``
    itself (the ``gan`` objective's ``None``: any family), so the name is written once."""

    def deco(cls: F) -> F:
        if hasattr(cls, "model") and "model" not in vars(cls):
            cls.model = name  # type: ignore[attr-defined]
        return OBJECTIVES.register(name, **meta)(cls)

    return deco


register_extractor = EXTRACTORS.register
register_text_encoder = TEXT_ENCODERS.register


def register_task(name: str, **meta: Any) -> Callable[[F], F]:
    """``@register_task("translation")`` on a ``Task`` subclass: registers it and sets its ``name``,
    so a task's name is written once."""

    def deco(cls: F) -> F:
        cls.name = name  # type: ignore[attr-defined]
        return TASKS.register(name, **meta)(cls)

    return deco


PLUGIN_GROUP = "ganforge.plugins"
_plugins: list[str] | None = None  # names of the plugins loaded, once per process


def _load_builtins() -> None:
    """Import the modules whose decorators fill the registries, then the plugins (idempotent)."""
    import ganforge.augment
    import ganforge.data
    import ganforge.losses
    import ganforge.metrics.features  # cheap: class definitions only, weights load on create
    import ganforge.models
    import ganforge.objectives
    import ganforge.tabular.dataset  # dataset "table"
    import ganforge.tabular.family  # model "ctgan"
    import ganforge.tabular.gain_family  # dataset "incomplete_table", model "gain", task "imputation"
    import ganforge.tabular.gain_objective  # objective "gain" (GAIN imputation)
    import ganforge.tabular.objective  # objective "ctgan"
    import ganforge.tabular.task  # noqa: F401  (task "tabular", metric "fidelity")

    load_plugins()


def load_plugins() -> list[str]:
    """Load every ``ganforge.plugins`` entry point once: a third-party package registers its models,
    objectives, losses, datasets or tasks by naming a module (imported, so its decorators run) or a
    function (called with no arguments) under that group in its ``pyproject.toml``::

        [project.entry-points."ganforge.plugins"]
        my_family = "my_package.ganforge_plugin"

    A plugin that fails to load is reported in a warning naming it and skipped, so one broken
    package cannot take every other command down with it. Returns the names of those loaded.
    """
    global _plugins
    if _plugins is not None:
        return _plugins
    _plugins = []
    for ep in sorted(importlib.metadata.entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            loaded = ep.load()
            if callable(loaded):
                loaded()
        except Exception as err:  # a third party's bug: say whose, keep going
            warnings.warn(f"ganforge plugin '{ep.name}' ({ep.value}) failed to load: {err!r}", stacklevel=2)
            continue
        _plugins.append(ep.name)
    return _plugins


def create_model(name: str, **kwargs: Any) -> Any:
    """The one door to every model: ``create_model("dcgan_tiny", shape=(1, 32, 32))``."""
    _load_builtins()
    return MODELS.build(name, **kwargs)


def create_objective(name: str, nets: dict[str, Any], ctx: Any, **options: Any) -> Any:
    """The one door to every objective: ``create_objective("gan", nets, ctx, loss="hinge")``."""
    _load_builtins()
    return OBJECTIVES.build(name, nets, ctx, **options)
