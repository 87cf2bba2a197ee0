"""What every generator shares, so the trainer, sampler and API can drive any family the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.options import Options
from ganforge.registry import register_model

# The sizes the image families' stage layouts are written for: every power of two from 32 to 1024.
# Above 128 px each family's widths keep shrinking with the resolution (StyleGAN2's channel_base / res
# capped at channel_max), so a 1024 px model costs a sane number of parameters; up to 128 px the
# layouts are the ones they always were.
IMAGE_RESOLUTIONS = tuple(2**i for i in range(5, 11))

Networks = dict[str, nn.Module]  # what a family builds: {"g": G, "d": D}


class Generator(nn.Module):
    """Base class for generators: ``forward(z, y=None)`` maps latents (and labels) to samples.

    Subclasses set ``z_dim``, ``num_classes`` (0 = unconditional) and ``out_shape`` (one sample's
    shape) in their constructor; everything that samples (grids, ``ganforge sample``, eval) uses
    ``sample_z`` so latent distributions stay a property of the model, not of the caller.
    """

    z_dim: int
    num_classes: int = 0
    out_shape: tuple[int, ...]
    # True only where forward really uses y: a model may be built with the data's num_classes and
    # still ignore labels (unconditional DCGAN on labelled MNIST); sampling "class 7" from it would lie.
    conditional: bool = False

    @property
    def draw_log_prob(self) -> torch.Tensor | None:
        """Per sample of the last forward: the log-probability of a discrete latent choice whose
        probabilities G learns (the mlp's ``MixtureLatent`` islands); None for a plain latent. The
        ``gan`` objective trains those probabilities with a score-function gradient."""
        return None

    def sample_z(
        self, n: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Standard-normal latents (N, z_dim); pass a seeded ``generator`` for reproducible draws."""
        return torch.randn(n, self.z_dim, generator=generator, device=device)

    def generate(
        self, z: torch.Tensor, y: torch.Tensor | None = None, truncation: float = 1.0
    ) -> torch.Tensor:
        """Samples with the truncation trick: ``truncation`` ψ in [0, 1] trades variety for fidelity.

        ψ = 1 is plain ``forward``. The default shrinks the latent toward its mean (z·ψ), the
        Gaussian-latent form of BigGAN's trick; families with a learned latent mean (StyleGAN2's
        w̄) override this to shrink there instead. Everything that samples for users (the API's
        ``sample``, ``ganforge sample --truncation``, latent tools) goes through here.
        """
        if not 0.0 <= truncation <= 1.0:
            raise ValueError(f"truncation must be in [0, 1], got {truncation}")
        return self(z if truncation == 1.0 else z * truncation, y)


def init_dcgan_weights(module: nn.Module) -> None:
    """Radford et al. 2015: conv weights ~ N(0, 0.02), BN weights ~ N(1, 0.02), BN biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@dataclass(frozen=True)
class ModelOptions(Options):
    """Base of every model's ``Options``: its fields are the ``model.*`` config keys."""

    SECTION: ClassVar[str] = "model"


@dataclass(frozen=True)
class ImageModelOptions(ModelOptions):
    """What every image family takes besides its widths: ``resolution`` and ``channels`` default to
    the data's; setting them only adds a check that a config meant for, say, 64x64 RGB is not
    silently trained on something else."""

    resolution: int | None = None
    channels: int | None = None

    def image_shape(
        self, family: str, shape: tuple[int, ...], resolutions: tuple[int, ...] = IMAGE_RESOLUTIONS
    ) -> tuple[int, int]:
        """(channels, resolution) of the data, checked against these options."""
        return resolve_image_shape(family, shape, self.resolution, self.channels, resolutions)


def resolve_image_shape(
    family: str,
    shape: tuple[int, ...],
    resolution: int | None,
    channels: int | None,
    resolutions: tuple[int, ...] = IMAGE_RESOLUTIONS,
) -> tuple[int, int]:
    """(channels, resolution) of square image data, checked against optional config values.

    The data decide both numbers; ``model.resolution`` / ``model.channels`` are assertions that a
    config meant for, say, 64x64 RGB is not silently trained on something else.
    """
    if len(shape) != 3:
        raise ConfigError(
            f"{family} needs (C, H, W) images, got samples of shape {tuple(shape)}; use 'mlp' for vectors"
        )
    c, h, w = shape
    if h != w:
        raise ConfigError(f"{family} needs square images, got {h}x{w}")
    if resolution is not None and resolution != h:
        raise ConfigError(
            f"'model.resolution' is {resolution} but the data are {h}x{w} images;"
            f" resize the data to {resolution}x{resolution} or leave model.resolution unset"
        )
    if h not in resolutions:
        raise ConfigError(
            f"{family} supports resolutions {', '.join(map(str, resolutions))}, not {h};"
            " resize the data to one of them"
        )
    if channels is not None and channels != c:
        raise ConfigError(f"'model.channels' is {channels} but the data have {c} channel(s)")
    return c, h


Builder = Callable[..., Networks]  # as registered: (shape, num_classes=0, options=<defaults>)


def _register_family(
    name: str,
    options: type[ModelOptions],
    description: str,
    fn: Callable[..., Any],
    call: Builder,
    **meta: Any,
) -> Builder:
    """Register ``call(shape, num_classes, options)`` under ``name`` with the builder contract every
    family shares (options defaulting to ``options()``), named and documented as ``fn``."""
    defaults = options()

    def build(shape: tuple[int, ...], num_classes: int = 0, options: ModelOptions = defaults) -> Networks:
        return call(shape, num_classes, options)

    build.__name__ = build.__qualname__ = fn.__name__
    build.__doc__, build.__module__ = fn.__doc__, fn.__module__
    register_model(name, options=options, description=description, **meta)(build)
    return build


def register_image_model(
    name: str,
    options: type[ImageModelOptions],
    description: str,
    resolutions: tuple[int, ...] = IMAGE_RESOLUTIONS,
) -> Callable[[Callable[[int, int, int, Any], Networks]], Builder]:
    """Decorator for an image family written as ``fn(channels, resolution, num_classes, options)``.

    Every image family checks the data's (C, H, W) against its options and the resolutions its stage
    layout supports before building anything; doing it here keeps that check (and the registered
    ``resolutions``/``inputs``) one declaration instead of a preamble copied into each builder.
    """

    def deco(fn: Callable[[int, int, int, Any], Networks]) -> Builder:
        def call(shape: tuple[int, ...], num_classes: int, o: ImageModelOptions) -> Networks:
            c, res = o.image_shape(name, shape, resolutions)
            return fn(c, res, num_classes, o)

        meta = {"resolutions": resolutions, "inputs": ("image",)}
        return _register_family(name, options, description, fn, call, **meta)

    return deco


def register_data_model(
    name: str, options: type[ModelOptions], description: str, **meta: Any
) -> Callable[[Callable[[tuple[int, ...], int, Any, dict[str, Any]], Networks]], Builder]:
    """Decorator for a family whose networks are sized by facts of its data beyond the sample shape
    (a table's column layout, a text encoder's width), written as ``fn(shape, num_classes, options,
    model_inputs)``; ``model_inputs`` (``{}`` when the data give none) is what the data's
    ``ArrayDataset.model_inputs`` holds, and every checkpoint records it. ``meta``: the registry's
    (``task``, ``inputs``, ``resolutions``)."""

    def deco(fn: Callable[[tuple[int, ...], int, Any, dict[str, Any]], Networks]) -> Builder:
        defaults = options()

        def build(
            shape: tuple[int, ...], num_classes: int = 0, options: ModelOptions = defaults,
            model_inputs: dict[str, Any] | None = None,
        ) -> Networks:  # fmt: skip
            return fn(shape, num_classes, options, model_inputs or {})

        build.__name__ = build.__qualname__ = fn.__name__
        build.__doc__, build.__module__ = fn.__doc__, fn.__module__
        register_model(name, options=options, description=description, **meta)(build)
        return build

    return deco


def register_translation_model(
    name: str, options: type[ModelOptions], description: str
) -> Callable[[Callable[[tuple[int, ...], int, Any], Networks]], Builder]:
    """Decorator for an image-to-image family written as ``fn(shape, num_classes, options)``: it takes
    paired images and belongs to the ``translation`` task (most ignore ``num_classes``)."""

    def deco(fn: Callable[[tuple[int, ...], int, Any], Networks]) -> Builder:
        meta = {"inputs": ("image_pair",), "task": "translation"}
        return _register_family(name, options, description, fn, fn, **meta)

    return deco
