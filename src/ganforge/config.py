"""Typed run configuration: YAML in, dataclasses out, every key checked.

A config has five sections. ``optim`` and ``train`` are plain dataclasses. ``model``, ``data`` and
``objective`` name a registered builder (``name``) and may carry that builder's own keyword
arguments next to the common fields: ``data: {name: toy2d, kind: ring}``. Those extra keys are
validated against the builder's signature, so a typo is an error that names the closest valid key
(the builder's signature *is* its schema, as in diffusers' constructor-as-config).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import re
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml

from ganforge.errors import ConfigError
from ganforge.registry import did_you_mean

# Builder arguments the trainer fills in itself (from the data, or live objects), never the config.
RESERVED_ARGS = {
    "model": ("shape", "num_classes", "model_inputs"),
    "data": (),
    "objective": ("nets", "ctx", "loss"),
}


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-4`` as a float, as YAML 1.2 does (PyYAML's 1.1 wants ``1.0e-4``)."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_YamlLoader)  # a SafeLoader: builds plain data only


@dataclass
class ModelConfig:
    """``model.name`` picks a registered family; other keys go to its builder (e.g. ``ngf``).

    ``spectral_norm`` wraps every Linear/Conv layer of D, G or both (Miyato et al. 2018), whatever
    the family: ``ganforge.nn.spectral``.
    """

    name: str = "dcgan"
    spectral_norm: Literal["none", "d", "g", "both"] = "none"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """``data.name`` picks a registered dataset; other keys go to its builder (e.g. ``kind``)."""

    name: str = "mnist"
    batch_size: int = 64
    resolution: int | None = None  # None: the dataset's native size, or the nearest the model supports
    xflip: bool = False  # every image also as a left-right mirrored sample (StyleGAN's x-flip doubling)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimizerConfig:
    """One optimiser per trained network; ``optim.g.lr != optim.d.lr`` is TTUR (Heusel et al. 2017)."""

    name: Literal["adam", "rmsprop", "sgd"] = "adam"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    eps: float = 1e-8


@dataclass
class OptimConfig:
    g: OptimizerConfig = field(default_factory=OptimizerConfig)
    d: OptimizerConfig = field(default_factory=OptimizerConfig)


@dataclass
class ObjectiveConfig:
    """``objective.name`` picks the training scheme; ``objective.loss`` the adversarial loss."""

    name: str = "gan"
    loss: str = "ns"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    steps: int = 2000
    # What ``steps`` and the ``*_every`` cadences count: optimiser steps, or epochs (passes over the
    # data, ``rows // data.batch_size`` steps each; resolved to steps once the data are loaded).
    unit: Literal["step", "epoch"] = "step"
    max_seconds: float = 0.0  # wall-clock budget of one invocation; then stop as a normal end; 0: off
    seed: int = 0
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"  # fp16: with loss scaling (training/precision.py)
    deterministic: bool = False
    channels_last: bool | None = None  # None: on for image models (NHWC is faster for convs on CPU/GPU)
    compile: bool = False
    device: str = "auto"  # auto = cuda > mps > cpu
    log_every: int = 50
    ckpt_every: int = 500
    sample_every: int = 500
    keep_last: int = 3
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"  # decay of every optimiser's lr
    lr_decay_start: float = 0.5  # fraction of train.steps at which a linear/cosine decay begins
    ema_kimg: float = 10.0  # half-life of the generator EMA in thousands of images; 0 disables it
    ema_rampup: float | None = 0.05  # early on, half-life <= rampup * images seen (StyleGAN2-ADA)
    n_samples: int = 64  # size of the fixed-seed sample grid
    eval_every: int = 0  # steps between evaluations during training (logs/evals.jsonl); 0: never
    eval_metrics: str | None = None  # comma-separated; None: modes (toy2d), stacked_modes, else fid
    eval_n: int | None = None  # samples per periodic evaluation; None: the metrics' protocol
    eval_extractor: str | None = None  # None: the dataset's default extractor
    patience: int = 0  # evaluations without a better headline value before training stops; 0: never
    progress: bool = True  # a rich bar on a terminal; elsewhere (a pipe, a cluster log) plain lines
    progress_every_s: float = 30.0  # seconds between those plain lines (logger ganforge.train); 0: every step
    diagnostics: bool = True  # warn about vanishing G gradients, strong D, mode collapse, oscillation
    guard: bool = True  # on NaN/inf or exploding gradients roll back to a good state and halve the lrs
    guard_every: int = 10  # steps between the guard's checks (one host sync) and in-memory snapshots
    max_rollbacks: int = 3  # rollbacks allowed before the run stops with TrainingDivergedError
    max_grad_norm_factor: float = 1000.0  # grad norm > factor x its running median = exploding; 0: off


# What ``train.unit: epoch`` counts in epochs: the run length and every cadence.
EPOCH_CADENCES = ("steps", "log_every", "ckpt_every", "sample_every", "eval_every")


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, builder params flattened back beside the common fields."""
        return _to_plain(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def in_steps(self, per_epoch: int) -> Config:
        """This config with ``train.unit: epoch`` resolved at ``per_epoch`` steps an epoch: the run
        length and every ``*_every`` cadence in steps, the unit ``step``. The resolved config is the
        one a run dir records and ``--resume`` compares, so it means the same whatever reads it."""
        if self.train.unit == "step":
            return self
        counts = {key: getattr(self.train, key) * per_epoch for key in EPOCH_CADENCES}
        return dataclasses.replace(self, train=dataclasses.replace(self.train, unit="step", **counts))

    def like_recorded(self, recorded: Config) -> Config:
        """This config resolved as the run that recorded ``recorded`` resolved it (its steps an
        epoch are the ratio of the two run lengths): what a sweep compares with a run dir."""
        if self.train.unit == "step" or recorded.train.unit != "step":
            return self
        return self.in_steps(max(1, recorded.train.steps // max(1, self.train.steps)))

    def get(self, dotted: str) -> Any:
        node: Any = self.to_dict()
        for part in dotted.split("."):
            node = node[part]
        return node


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name == "params":
                out.update({k: _to_plain(v) for k, v in value.items()})
            else:
                out[f.name] = _to_plain(value)
        return out
    if isinstance(obj, tuple):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    return obj


# ----------------------------------------------------------------------------------------------
# Type checking of values


def coerce(value: Any, annotation: Any, key: str) -> Any:
    """Return ``value`` converted to ``annotation`` or raise a ConfigError naming ``key``.

    Accepts the harmless conversions YAML and ``--set`` produce (int for float, list for tuple)
    and nothing else: a string where a number belongs is an error, not a silent cast.
    """
    if annotation is Any or annotation is inspect.Parameter.empty:
        return value
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"'{key}' must be {_type_name(annotation)}, got {value!r}")
    if origin is Literal:
        if value in args:
            return value
        raise ConfigError(
            f"'{key}' must be one of {', '.join(map(str, args))},"
            f" got {value!r}{did_you_mean(str(value), map(str, args))}"
        )
    if origin in (tuple, list):
        return _coerce_sequence(value, origin, args, key)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"'{key}' must be a mapping, got {value!r}")
        return value
    return _coerce_scalar(value, annotation, key)


def _coerce_sequence(value: Any, origin: type, args: tuple[Any, ...], key: str) -> Any:
    """A list or tuple, each item coerced (a fixed-length tuple: item by item, the length checked)."""
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"'{key}' must be a list, got {value!r}")
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise ConfigError(f"'{key}' must have {len(args)} items, got {len(value)}")
        return tuple(coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    item = args[0] if args else Any
    converted = [coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    return tuple(converted) if origin is tuple else converted


def _coerce_scalar(value: Any, annotation: Any, key: str) -> Any:
    """bool, int (a whole float too), float (an int too), str or any class: nothing else converts."""
    if annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif annotation is str:
        if isinstance(value, str):
            return value
    elif isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
    else:
        return value
    raise ConfigError(f"'{key}' must be {_type_name(annotation)}, got {value!r}")


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}.get(
            annotation.__name__, annotation.__name__
        )
    return str(annotation).replace("typing.", "")


# ----------------------------------------------------------------------------------------------
# Building a Config from nested dicts


def _section_from_dict(cls: type, raw: Any, prefix: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"'{prefix or 'config'}' must be a mapping of keys to values, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    open_section = "params" in fields
    kwargs: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if key in fields and key != "params":
            if dataclasses.is_dataclass(hints[key]):
                kwargs[key] = _section_from_dict(hints[key], value, dotted)
            else:
                kwargs[key] = coerce(value, hints[key], dotted)
        elif open_section:
            params[key] = value  # checked against the builder's signature in validate()
        else:
            valid = [n for n in fields if n != "params"]
            what = "key" if prefix else "section"
            raise ConfigError(
                f"unknown {what} '{dotted}'{did_you_mean(key, valid)}; valid: {', '.join(valid)}"
            )
    if open_section:
        kwargs["params"] = params
    return cls(**kwargs)


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Build and fully validate a Config (builder params included) from a nested dict."""
    cfg = _section_from_dict(Config, raw, "")
    validate(cfg)
    return cfg


def _common_keys(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name != "params"]


def validate(cfg: Config) -> None:
    """Check builder params against registered builders' signatures and cross-field rules."""
    from ganforge.registry import DATASETS, MODELS, OBJECTIVES, _load_builtins

    _load_builtins()
    sections = [
        (cfg.model, MODELS, "model"),
        (cfg.data, DATASETS, "data"),
        (cfg.objective, OBJECTIVES, "objective"),
    ]
    for section, registry, prefix in sections:
        entry = registry.get(section.name)
        accepted = {n: p for n, p in entry.parameters().items() if n not in RESERVED_ARGS[prefix]}
        hints = entry.annotations()
        common = _common_keys(type(section))
        for key, value in section.params.items():
            if key not in accepted:
                valid = sorted(set(accepted) | set(common))
                raise ConfigError(
                    f"unknown key '{prefix}.{key}' for {registry.kind} '{section.name}'"
                    f"{did_you_mean(key, valid)}; valid: {', '.join(valid)}"
                )
            section.params[key] = coerce(value, hints.get(key, Any), f"{prefix}.{key}")
        if entry.options is not None:  # its values too, now: a bad one must not wait for the build
            names = {f.name for f in dataclasses.fields(entry.options)}
            entry.options(**{k: v for k, v in section.params.items() if k in names})
    _check_positive(cfg)
    from ganforge.registry import LOSSES

    if "loss" in OBJECTIVES.get(cfg.objective.name).parameters():
        LOSSES.get(cfg.objective.loss)


def _check_positive(cfg: Config) -> None:
    for key in (
        "data.batch_size",
        "train.steps",
        "train.log_every",
        "train.ckpt_every",
        "train.sample_every",
        "train.guard_every",
    ):
        if cfg.get(key) <= 0:
            raise ConfigError(f"'{key}' must be a positive integer, got {cfg.get(key)}")
    if cfg.train.ema_kimg < 0:
        raise ConfigError(f"'train.ema_kimg' must be >= 0 (0 disables the EMA), got {cfg.train.ema_kimg}")
    if cfg.train.progress_every_s < 0:
        raise ConfigError(f"'train.progress_every_s' must be >= 0, got {cfg.train.progress_every_s}")
    if cfg.train.max_rollbacks < 0:
        raise ConfigError(f"'train.max_rollbacks' must be >= 0, got {cfg.train.max_rollbacks}")
    factor = cfg.train.max_grad_norm_factor
    if factor != 0 and not factor > 1:
        raise ConfigError(f"'train.max_grad_norm_factor' must be above 1 (or 0 to turn it off), got {factor}")
    if cfg.data.resolution is not None and cfg.data.resolution <= 0:
        raise ConfigError(f"'data.resolution' must be positive, got {cfg.data.resolution}")
    if cfg.train.patience < 0:
        raise ConfigError(f"'train.patience' must be >= 0 (0: no early stopping), got {cfg.train.patience}")
    if cfg.train.patience and not cfg.train.eval_every:
        raise ConfigError("'train.patience' stops on evaluations: set 'train.eval_every' too")


# ----------------------------------------------------------------------------------------------
# Files and overrides


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.steps=200"`` -> (["train", "steps"], 200); the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like section.key=value")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) < 2 or not all(parts):
        raise ConfigError(f"override key '{key}' must be dotted, like train.steps")
    try:
        value = _load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set dotted keys in a nested dict (validated later with the rest of the config)."""
    for text in overrides:
        parts, value = parse_override(text)
        node = raw
        for part in parts[:-1]:
            if node.get(part) is None:  # absent, or an empty ``section:`` in the YAML
                node[part] = {}
            child = node[part]
            if not isinstance(child, dict):
                raise ConfigError(f"override '{text}': '{part}' is not a section")
            node = child
        node[parts[-1]] = value
    return raw


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file '{path}' is a folder, not a YAML file")
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    try:
        raw = _load_yaml(path.read_text())
    except UnicodeDecodeError:
        raise ConfigError(f"config file '{path}' is not a text file") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config file '{path}' is not valid YAML{where}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of sections, got {type(raw).__name__}")
    return raw


def load_config(
    source: str | Path | dict[str, Any] | None = None, overrides: list[str] | None = None
) -> Config:
    """Config from a YAML path, a bundled preset name (``quickstart``), or a dict, plus overrides."""
    if source is None:
        raw: dict[str, Any] = {}
    elif isinstance(source, dict):
        raw = copy.deepcopy(source)  # overrides must not write into the caller's dict
    else:
        raw = read_yaml(resolve_config_path(source))
    overrides = list(overrides or [])
    return config_from_dict(apply_overrides(drop_replaced_keys(raw, overrides), overrides))


BUILDER_SECTIONS = {"model": ModelConfig, "data": DataConfig, "objective": ObjectiveConfig}


def drop_replaced_keys(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """When an override swaps a section's builder (``--set data.name=folder`` on a preset made for
    ``mnist``), the file's keys for the old builder that the new one does not take (``data.split``)
    are dropped, with one warning naming them; keys the overrides set themselves are always checked.
    So a preset's recipe (batch size, optimiser, schedule) carries over to one's own data or model."""
    from ganforge.registry import DATASETS, MODELS, OBJECTIVES, _load_builtins

    registries = {"model": MODELS, "data": DATASETS, "objective": OBJECTIVES}
    swapped = {}
    for text in overrides:
        parts, value = parse_override(text)
        section = raw.get(parts[0])
        is_name = parts[1:] == ["name"] and parts[0] in BUILDER_SECTIONS and isinstance(section, dict)
        if is_name and isinstance(value, str) and section.get("name", value) != value:
            swapped[parts[0]] = value
    if not swapped:
        return raw
    _load_builtins()
    dropped = []
    for name, builder in swapped.items():
        if builder not in registries[name]:
            continue  # the validation names the unknown builder
        accepted = set(registries[name].get(builder).parameters()) | set(_common_keys(BUILDER_SECTIONS[name]))
        for key in [k for k in raw[name] if k not in accepted and k != "name"]:
            dropped.append(f"{name}.{key}")
            del raw[name][key]
    if dropped:
        warnings.warn(
            f"dropped the config's {', '.join(dropped)}: not keys of the builder the overrides chose",
            stacklevel=3,
        )
    return raw


def bundled_configs_dir() -> Path:
    return Path(__file__).parent / "configs"


def bundled_configs() -> list[str]:
    """Preset names like ``quickstart`` or ``toy/grid25`` shipped with the package."""
    root = bundled_configs_dir()
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))


def resolve_config_path(source: str | Path) -> Path:
    """A path as given if it exists; else a bundled preset of that name; else a clear error."""
    path = Path(source)
    if path.exists():
        return path
    name = str(source).removesuffix(".yaml").removeprefix("configs/")
    bundled = bundled_configs_dir() / f"{name}.yaml"
    if bundled.is_file():
        return bundled
    raise ConfigError(f"config file '{source}' does not exist{did_you_mean(name, bundled_configs())}")
