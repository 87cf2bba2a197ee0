"""Spectral normalisation as a switch on any network (Miyato et al. 2018, "Spectral Normalization
for Generative Adversarial Networks").

Each weight is divided by its largest singular value σ(W), estimated by one power iteration per
training forward (Alg. 1), so every layer is 1-Lipschitz and so is D. That constrains D as WGAN's
clipping and gradient penalty try to, at the cost of a matrix-vector product per layer. SAGAN
(Zhang et al. 2019) and BigGAN also apply it to G for stability.

PyTorch's parametrization does the work: weights become ``<layer>.parametrizations.weight.original``
with power-iteration buffers ``_u``/``_v``, all plain tensors in the state dict, so checkpoints and
resume need nothing special as long as the network is wrapped the same way before loading.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

SPECTRAL_NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Wrap the weight of every Linear / Conv / ConvTranspose in ``module`` (in place; returned).

    Layers already parametrized are left alone, so calling it twice is harmless; so are all-zero
    weights (a conditional BatchNorm's neutral-start projections), whose σ(W) = 0 would make W/σ
    NaN. Transposed convs are normalised along their output dim (PyTorch picks ``dim=1`` for them).
    """
    for layer in list(module.modules()):
        if not isinstance(layer, SPECTRAL_NORM_LAYERS) or parametrize.is_parametrized(layer, "weight"):
            continue
        # σ(0) = 0: W/σ would be NaN (zero-initialised projections). A network built on the meta
        # device (sized before it is allocated, tasks/onefile.py) has no values to look at.
        if not layer.weight.is_meta and not bool(layer.weight.detach().any()):
            continue
        spectral_norm(layer, n_power_iterations=n_power_iterations)
    return module


def spectral_norm_targets(which: str) -> tuple[str, ...]:
    """Network names selected by ``model.spectral_norm``: none, d, g or both."""
    return {"none": (), "d": ("d",), "g": ("g",), "both": ("g", "d")}[which]
