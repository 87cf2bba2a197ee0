"""Name -> builder registries (timm-style), so configs can say ``model.name: dcgan``.

Every buildable thing (model, loss, dataset, objective) registers a builder with a decorator. The
builder's signature *is* its config schema: ``Registry.check_kwargs`` validates config keys against
it, so an unknown key is reported with the closest valid name.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ganforge.errors import RegistryError

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

    def parameters(self) -> dict[str, inspect.Parameter]:
        """Keyword parameters a config may set (excludes *args/**kwargs)."""
        sig = inspect.signature(self.builder)
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return {n: p for n, p in sig.parameters.items() if p.kind in kinds}


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

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        entry = self.get(name)
        self.check_kwargs(name, kwargs)
        return entry.builder(*args, **kwargs)

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


MODELS = Registry("model")
LOSSES = Registry("loss")
DATASETS = Registry("dataset")
OBJECTIVES = Registry("objective")
EXTRACTORS = Registry("extractor")

register_model = MODELS.register
register_loss = LOSSES.register
register_dataset = DATASETS.register
register_objective = OBJECTIVES.register
register_extractor = EXTRACTORS.register


def _load_builtins() -> None:
    """Import the modules whose decorators fill the registries (idempotent)."""
    import ganforge.augment
    import ganforge.data
    import ganforge.losses
    import ganforge.metrics.features  # cheap: class definitions only, weights load on create
    import ganforge.models
    import ganforge.objectives
    import ganforge.tabular.gain  # objective "gain" (GAIN imputation)
    import ganforge.tabular.objective  # noqa: F401  (objective "ctgan")


def create_model(name: str, **kwargs: Any) -> Any:
    """The one door to every model: ``create_model("dcgan_tiny", shape=(1, 32, 32))``."""
    _load_builtins()
    return MODELS.build(name, **kwargs)
