"""Label conditioning shared by every conditional family: embeddings that take hard or soft labels,
and conditional BatchNorm.

Labels reach a conditional network as either integer classes ``(N,)`` or float class weights
``(N, num_classes)`` (one-hot, or a mixture such as 0.3·"3" + 0.7·"8"). Soft labels are what make
class interpolation possible (``ganforge.latent``): the embedding of a mixture is the mixture of
embeddings, so the generator sees a straight path between two classes.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.errors import ConfigError


def embed_labels(embedding: nn.Embedding, y: torch.Tensor) -> torch.Tensor:
    """Embed integer labels (N,) or soft class weights (N, num_classes) -> (N, embedding_dim)."""
    if y.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8):
        return embedding(y.long())
    if y.ndim != 2 or y.shape[1] != embedding.num_embeddings:
        raise ConfigError(
            f"soft labels must be (N, {embedding.num_embeddings}) class weights, got shape {tuple(y.shape)}"
        )
    return y.to(embedding.weight.dtype) @ embedding.weight


def require_labels(y: torch.Tensor | None, num_classes: int, who: str) -> torch.Tensor:
    """The labels a conditional network needs, or one clear error naming the network."""
    if y is None:
        raise ConfigError(
            f"{who} is conditional ({num_classes} classes) and needs labels: pass y or train on labelled data"
        )
    return y


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose gain and bias are predicted from a conditioning vector (de Vries et al. 2017).

    ``gain = 1 + W_g c`` and ``bias = W_b c``: at initialisation (zero-initialised projections) the
    layer is a plain affine-free BatchNorm, so conditioning starts neutral and is learned. BigGAN feeds
    ``c = [shared class embedding, z chunk]``; a cGAN feeds the class embedding alone.
    """

    def __init__(self, num_features: int, cond_dim: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, affine=False, eps=eps, momentum=momentum)
        self.gain = nn.Linear(cond_dim, num_features, bias=False)
        self.bias = nn.Linear(cond_dim, num_features, bias=False)
        nn.init.zeros_(self.gain.weight)  # zero: apply_spectral_norm leaves these projections free
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gain = 1.0 + self.gain(cond).to(x.dtype)
        bias = self.bias(cond).to(x.dtype)
        return self.bn(x) * gain[:, :, None, None] + bias[:, :, None, None]
