"""ganforge: a workbench for Generative Adversarial Networks.

>>> import ganforge
>>> run = ganforge.train("quickstart", out="runs/quickstart")       # doctest: +SKIP
>>> ganforge.load(run.path).sample(16, seed=0).shape                 # doctest: +SKIP
torch.Size([16, 1, 32, 32])

The public names load on first use (PEP 562), so ``import ganforge`` and ``import ganforge.errors``
stay cheap: torch and the registries are imported when a name that needs them is first touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganforge.utils.lazy import lazy_exports

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "Callback": "ganforge.training.trainer",
    "Config": "ganforge.config",
    "GeneratorHandle": "ganforge.tasks",
    "Imputer": "ganforge.tabular",
    "Run": "ganforge.api",
    "TabularGAN": "ganforge.tabular",
    "TranslatorHandle": "ganforge.tasks",
    "create_model": "ganforge.registry",
    "evaluate": "ganforge.evaluation",
    "from_pretrained": "ganforge.api",
    "load": "ganforge.api",
    "load_config": "ganforge.config",
    "load_translator": "ganforge.api",
    "open_run": "ganforge.tasks",
    "sweep": "ganforge.sweeps",
    "train": "ganforge.api",
}

if TYPE_CHECKING:
    from ganforge.api import Run, from_pretrained, load, load_translator, train
    from ganforge.config import Config, load_config
    from ganforge.evaluation import evaluate
    from ganforge.registry import create_model
    from ganforge.sweeps import sweep
    from ganforge.tabular import Imputer, TabularGAN
    from ganforge.tasks import GeneratorHandle, TranslatorHandle, open_run
    from ganforge.training.trainer import Callback


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)

__all__ = [
    "Callback",
    "Config",
    "GeneratorHandle",
    "Imputer",
    "Run",
    "TabularGAN",
    "TranslatorHandle",
    "__version__",
    "create_model",
    "evaluate",
    "from_pretrained",
    "load",
    "load_config",
    "load_translator",
    "open_run",
    "sweep",
    "train",
]
