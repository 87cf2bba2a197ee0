"""Training schemes: each says what is optimised in which phase; ``Trainer`` runs any of them."""

from ganforge.objectives import acgan, cyclegan, gan, pix2pix, stylegan2
from ganforge.objectives.base import Batch, Context, Objective, Phase

__all__ = ["Batch", "Context", "Objective", "Phase", "acgan", "cyclegan", "gan", "pix2pix", "stylegan2"]
