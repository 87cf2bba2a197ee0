"""Model families; importing this package registers each family's builders in ``MODELS``."""

from ganforge.models import (  # noqa: F401  (registration)
    anomaly,
    attr_edit,
    biggan,
    conditional,
    cyclegan,
    dcgan,
    inpaint,
    mlp,
    pix2pix,
    r3gan,
    srgan,
    stylegan2,
    text_gan,
)
from ganforge.models.base import Generator

__all__ = ["Generator"]
