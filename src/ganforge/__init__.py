"""ganforge: a workbench for Generative Adversarial Networks.

>>> import ganforge
>>> run = ganforge.train("quickstart", out="runs/quickstart")       # doctest: +SKIP
>>> ganforge.load(run.path).sample(16, seed=0).shape                 # doctest: +SKIP
torch.Size([16, 1, 32, 32])
"""

__version__ = "0.1.0"

from ganforge.api import GeneratorHandle, Run, TranslatorHandle, load, load_translator, train
from ganforge.config import Config, load_config
from ganforge.evaluation import evaluate
from ganforge.registry import create_model
from ganforge.sweeps import sweep
from ganforge.tabular import Imputer, TabularGAN

__all__ = [
    "Config",
    "GeneratorHandle",
    "Imputer",
    "Run",
    "TabularGAN",
    "TranslatorHandle",
    "__version__",
    "create_model",
    "evaluate",
    "load",
    "load_config",
    "load_translator",
    "sweep",
    "train",
]
