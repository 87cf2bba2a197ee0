"""Training schemes: each says what is optimised in which phase; ``Trainer`` runs any of them."""

from ganforge.objectives import (
    acgan,
    attr_edit,
    cyclegan,
    fanogan,
    gan,
    ganomaly,
    inpaint,
    pix2pix,
    srgan,
    stylegan2,
    text_gan,
)
from ganforge.objectives.base import Batch, Context, Objective, Phase

__all__ = [
    "Batch",
    "Context",
    "Objective",
    "Phase",
    "acgan",
    "attr_edit",
    "cyclegan",
    "fanogan",
    "gan",
    "ganomaly",
    "inpaint",
    "pix2pix",
    "srgan",
    "stylegan2",
    "text_gan",
]
