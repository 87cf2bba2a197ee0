"""Model ``ctgan``: CTGAN's generator and packed critic (``networks.py``), built from a table's layout.

The networks depend on the table, not only on a sample shape: the generator's output head reads
the transformer's spans, and both networks take the conditional vector of the discrete columns.
The ``table`` dataset hands that layout over as its ``model_inputs`` (``model_inputs=`` here), and every
checkpoint records it, so a run's generator is rebuilt without the data.

``pac`` is the critic's architecture (it judges ``pac`` rows side by side, Lin et al. 2018), so it
is a model key; the ``ctgan`` objective reads it from the critic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganforge.errors import ConfigError
from ganforge.models.base import ModelOptions, Networks, register_data_model
from ganforge.registry import register_variant
from ganforge.tabular.networks import PacDiscriminator, Span, SpanLayout, TabularGenerator


@dataclass(frozen=True)
class CTGANModelOptions(ModelOptions):
    """The paper's defaults (Xu et al. 2019, Sec. 4.4): noise of ``embedding_dim``, two residual
    layers of 256 in G, two layers of 256 in D over packs of ``pac`` = 10 rows."""

    embedding_dim: int = 128
    generator_dims: tuple[int, ...] = (256, 256)
    discriminator_dims: tuple[int, ...] = (256, 256)
    pac: int = 10

    def __post_init__(self) -> None:
        for key in ("embedding_dim", "pac"):
            if getattr(self, key) < 1:
                raise ConfigError(f"'model.{key}' must be a positive integer, got {getattr(self, key)}")
        for key in ("generator_dims", "discriminator_dims"):
            if any(d < 1 for d in getattr(self, key)):
                raise ConfigError(f"'model.{key}' must hold positive widths, got {list(getattr(self, key))}")


def table_layout(inputs: dict[str, Any] | None) -> SpanLayout:
    """The generator's output layout from the ``table`` dataset's ``model_inputs``."""
    if not inputs or "spans" not in inputs:
        raise ConfigError(
            "model 'ctgan' trains on tables: use it with data.name=table (it needs the table's layout)"
        )
    spans = [Span(int(width), str(activation)) for width, activation in inputs["spans"]]
    return SpanLayout(spans, [int(i) for i in inputs["cond_spans"]])


@register_data_model(
    "ctgan",
    CTGANModelOptions,
    "CTGAN (Xu et al. 2019): conditional generator and PacGAN critic for table rows",
    task="tabular",
    inputs=("table",),
)
def ctgan(
    shape: tuple[int, ...], num_classes: int, options: CTGANModelOptions, model_inputs: dict
) -> Networks:
    layout = table_layout(model_inputs)
    g = TabularGenerator(options.embedding_dim, layout, tuple(options.generator_dims))
    d = PacDiscriminator(layout.width + layout.cond_dim, options.pac, tuple(options.discriminator_dims))
    return {"g": g, "d": d}


register_variant(
    "ctgan_tiny",
    base="ctgan",
    description="ctgan with narrow networks, for tests",
    embedding_dim=16,
    generator_dims=(32, 32),
    discriminator_dims=(32, 32),
    pac=2,
)
