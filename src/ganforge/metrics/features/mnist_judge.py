"""``mnist-judge``: a second digit classifier, kept apart from everything else, that only scores identity.

Why a second one: ``mnist-cnn`` is ganforge's digit *feature space* (FID, KID, precision/recall) and
a user may also train against it (a perceptual loss, a classifier guidance term). A model tuned,
directly or through preset choices, on one network's opinion of a digit can learn to please that
network; its accuracy under the same network then overstates how recognisable the digits are. The
restoration tasks of issue 8 therefore report identity ("is the output still the input's digit?")
under an *independent* classifier: a different architecture (strided convolutions, GroupNorm, GELU,
global average pooling; no max-pooling, no batch norm), a different seed and stronger augmentation,
trained by the same script on the same 4,000-digit train split. Nothing in ganforge trains against it.

Weights: ``weights/mnist_judge.safetensors`` + ``mnist_judge.json`` (sha256 checked on every load),
written by ``scripts/train_mnist_cnn.py --arch judge``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ganforge.metrics.features.mnist_cnn import NUM_CLASSES, WEIGHTS_DIR, MnistCNN
from ganforge.registry import register_extractor

JUDGE_WEIGHTS = WEIGHTS_DIR / "mnist_judge.safetensors"
JUDGE_WIDTHS = (32, 64, 128)
JUDGE_FEATURES = 128


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.GroupNorm(8, c_out), nn.GELU())


class MnistJudgeNet(nn.Module):
    """5×5 stem, then per width a stride-2 and a stride-1 3×3 conv (32→16→8→4 px), global average
    pooling → 128-d features → dropout → 10 logits. ~290k parameters."""

    def __init__(self, dropout: float = 0.3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(1, JUDGE_WIDTHS[0], 5, 1, 2), nn.GELU()]
        c_in = JUDGE_WIDTHS[0]
        for width in JUDGE_WIDTHS:
            layers += [_block(c_in, width, 2), _block(width, width, 1)]
            c_in = width
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(c_in, JUDGE_FEATURES), nn.GELU())
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(JUDGE_FEATURES, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.embed(self.body(x))
        return features, self.head(self.dropout(features))


class MnistJudge(MnistCNN):
    """``mnist-cnn``'s interface (input checks, framing, sha256-checked weights) over ``MnistJudgeNet``."""

    name = "mnist-judge"
    feature_dim = JUDGE_FEATURES
    net_class = MnistJudgeNet
    default_weights = JUDGE_WEIGHTS
    script = "scripts/train_mnist_cnn.py --arch judge"


@register_extractor(
    "mnist-judge",
    description="independent digit classifier (other architecture and seed) for identity accuracy only",
)
def mnist_judge(weights: str | Path | None = None) -> MnistJudge:
    """The bundled independent digit classifier; use its ``logits`` for identity accuracy."""
    return MnistJudge(weights)
