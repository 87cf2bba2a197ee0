"""Model families; importing this package registers each family's builders in ``MODELS``."""

from ganforge.models import dcgan, mlp  # noqa: F401  (registration side effects)
from ganforge.models.base import Generator

__all__ = ["Generator"]
