"""Model families; importing this package registers each family's builders in ``MODELS``."""

from ganforge.models import biggan, conditional, cyclegan, dcgan, mlp, pix2pix, r3gan, stylegan2  # noqa: F401  (registration)
from ganforge.models.base import Generator

__all__ = ["Generator"]
