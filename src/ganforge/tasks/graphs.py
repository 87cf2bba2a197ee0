"""The tensor-in, tensor-out forms of trained networks that ONNX and TorchScript exports trace.

A handle's methods take Python values (seeds, label lists, images of any size); a deployed graph
takes tensors only. These wrappers fix what a graph cannot vary (truncation ψ, the direction) at
export time and name the inputs the way users will feed them: ``z`` and ``label`` for generators,
``image`` plus ``mask`` / ``attr`` for translators.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.tasks.base import Graph

EXAMPLE_BATCH = 2  # a batch of 1 can be specialised away by tracers; 2 keeps dimension 0 symbolic


class SamplerGraph(nn.Module):
    """``forward(z[, label]) -> samples`` of a generator at a fixed truncation ψ."""

    def __init__(self, generator: nn.Module, truncation: float) -> None:
        super().__init__()
        self.generator, self.truncation = generator, float(truncation)

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator.generate(z, label, truncation=self.truncation)


class TranslatorGraph(nn.Module):
    """``forward(image[, condition]) -> image`` of one direction of a translator."""

    def __init__(self, generator: nn.Module, direction: str, condition: str | None) -> None:
        super().__init__()
        self.generator, self.direction, self.condition = generator, direction, condition

    def forward(self, image: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        extra = {self.condition: condition} if self.condition else {}
        return self.generator(image, self.direction, **extra).clamp(-1.0, 1.0)


def _checked_deterministic(graph: nn.Module, inputs: dict[str, torch.Tensor]) -> None:
    """A graph must give the same output twice for the same input: a network that draws noise in
    its forward (the mlp's learned mixture of latents) cannot be exported faithfully."""
    with torch.no_grad():
        first, second = graph(*inputs.values()), graph(*inputs.values())
    if not torch.equal(first, second):
        raise ConfigError(
            "this generator draws random numbers inside its forward pass (e.g. a learned latent"
            " mixture), so a fixed graph cannot reproduce it; use the one-file model instead"
        )


def sampler_graph(generator: nn.Module, num_classes: int, truncation: float) -> Graph:
    """A generator as ``(z[, label]) -> samples``; labels only for a conditional generator."""
    if not 0.0 <= truncation <= 1.0:
        raise ConfigError(f"truncation must be in [0, 1], got {truncation}")
    z = torch.randn(EXAMPLE_BATCH, int(generator.z_dim), generator=torch.Generator().manual_seed(0))
    inputs = {"z": z}
    doc = f"z: (N, {generator.z_dim}) float32, standard normal"
    if num_classes:
        inputs["label"] = torch.arange(EXAMPLE_BATCH, dtype=torch.long) % num_classes
        doc += f"; label: (N,) int64 class in 0..{num_classes - 1}"
    shape = ", ".join(map(str, generator.out_shape))
    doc += f"; samples: (N, {shape}) float32 in [-1, 1]; truncation {truncation} built in"
    graph = SamplerGraph(generator, truncation).eval()
    _checked_deterministic(graph, inputs)
    return Graph(graph, inputs, ("samples",), doc)


def translator_graph(generator: nn.Module, direction: str) -> Graph:
    """A translator's ``direction`` as ``(image[, mask | attr]) -> image``."""
    if direction not in generator.directions:
        can = " and ".join(generator.directions)
        raise ConfigError(f"this model translates {can} only, not {direction!r}")
    c, h, w = generator.input_shape(direction)
    gen = torch.Generator().manual_seed(0)
    inputs = {"image": torch.rand(EXAMPLE_BATCH, c, h, w, generator=gen) * 2 - 1}
    doc = f"image: (N, {c}, {h}, {w}) float32 in [-1, 1]"
    condition = generator.conditions[0] if direction == "AtoB" and generator.conditions else None
    if condition == "mask":
        inputs["mask"] = (torch.rand(EXAMPLE_BATCH, 1, h, w, generator=gen) > 0.5).float()
        doc += f"; mask: (N, 1, {h}, {w}) float32, 1 = missing pixel"
    elif condition == "attr":
        attr_dim = int(getattr(generator.ab, "attr_dim", 1))
        inputs["attr"] = torch.rand(EXAMPLE_BATCH, attr_dim, generator=gen)
        doc += f"; attr: (N, {attr_dim}) float32 target attribute values"
    out = generator.out_shape if direction == "AtoB" else generator.in_shape
    doc += f"; output image: (N, {', '.join(map(str, out))}) float32 in [-1, 1]"
    graph = TranslatorGraph(generator, direction, condition).eval()
    _checked_deterministic(graph, inputs)
    return Graph(graph, inputs, ("output",), doc)
