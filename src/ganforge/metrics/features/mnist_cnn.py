"""``mnist-cnn``: a small digit classifier whose 128-d penultimate layer serves as MNIST features.

Why a domain network: Inception-v3 was trained on ImageNet photos at 299x299; on 28x28 grey digits
its features are a poor, slow proxy. A classifier trained on digits gives features that separate
digit identity and style, a 10-way head for per-class metrics (mode counting on StackedMNIST, a
classifier-based Inception Score), and runs in milliseconds on a CPU.

The shipped weights (``weights/mnist_cnn.safetensors``) were trained by
``scripts/train_mnist_cnn.py`` on the embedded MNIST *train* split only (4,000 digits); the
sidecar ``mnist_cnn.json`` records the architecture, the script's arguments, the accuracy on the
held-out 1,000-digit test split and the sha256 that is checked on every load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.errors import EvalError
from ganforge.metrics.features.base import FeatureExtractor, sha256_file
from ganforge.registry import register_extractor

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "mnist_cnn.safetensors"
INPUT_SIZE = 32
MNIST_SIZE = 28
FEATURE_DIM = 128
NUM_CLASSES = 10
CHANNELS = (32, 64, 128)


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class MnistCNNNet(nn.Module):
    """3 conv blocks (32-64-128 channels, 32->16->8->4 px) -> 128-d ReLU features -> 10 logits.

    ~360k parameters (1.4 MB in float32). Dropout sits between the features and the head, so it
    regularises the head during training without touching the features at evaluation.
    """

    def __init__(self, channels: tuple[int, ...] = CHANNELS, dropout: float = 0.3) -> None:
        super().__init__()
        blocks, c_in = [], 1
        for c_out in channels:
            blocks.append(_conv_block(c_in, c_out))
            c_in = c_out
        side = INPUT_SIZE // 2 ** len(channels)
        self.body = nn.Sequential(*blocks, nn.Flatten())
        self.embed = nn.Sequential(nn.Linear(c_in * side * side, FEATURE_DIM), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 1, 32, 32) in [-1, 1] -> (features (N, 128), logits (N, 10))."""
        features = self.embed(self.body(x))
        return features, self.head(self.dropout(features))


def preprocess_digits(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) in [-1, 1] -> (N, 1, 32, 32), the way the training digits were framed.

    - 32x32: unchanged;
    - 28x28 (raw MNIST): centre-padded with the background value -1 to 32x32, exactly as the
      embedded ``mnist`` dataset frames its digits, so the digit keeps its training size;
    - any other size: resized bilinearly with antialiasing to 32x32 (antialias avoids aliasing when
      shrinking large renders), then clamped to [-1, 1].
    """
    from ganforge.data.base import pad_images, resize_images  # lazy: keeps registry import cheap

    h, w = x.shape[-2:]
    if (h, w) == (INPUT_SIZE, INPUT_SIZE):
        return x
    if (h, w) == (MNIST_SIZE, MNIST_SIZE):
        return pad_images(x, INPUT_SIZE, value=-1.0)
    return resize_images(x, INPUT_SIZE)


def read_sidecar(weights: Path, name: str = "mnist-cnn") -> dict[str, Any]:
    """The JSON next to a weights file (``x.safetensors`` -> ``x.json``), or an EvalError."""
    sidecar = weights.with_suffix(".json")
    try:
        return json.loads(sidecar.read_text())
    except FileNotFoundError:
        raise EvalError(
            f"the {name} weights {weights} have no sidecar {sidecar.name} holding their checksum"
        ) from None
    except (OSError, ValueError) as err:
        raise EvalError(f"cannot read the {name} sidecar {sidecar}: {err}") from None


class MnistCNN(FeatureExtractor):
    """MNIST features: the 128-d penultimate layer of ``MnistCNNNet``; logits from its 10-way head.

    Input: (N, 1, H, W) grey digits in [-1, 1] with a dark (-1) background, like the embedded
    ``mnist`` dataset; see ``preprocess_digits`` for sizes other than 32x32. 3-channel input is
    rejected rather than converted: a colour image is not a digit, and StackedMNIST (three digits
    stacked as channels) must be classified one channel at a time, ``x[:, c:c+1]``.
    """

    name = "mnist-cnn"
    feature_dim = FEATURE_DIM
    num_classes = NUM_CLASSES
    progress_threshold = 50_000
    resize = "32x32 as is, 28x28 centre-padded to 32x32, other sizes bilinear + antialias to 32x32"
    net_class: type[nn.Module] = MnistCNNNet
    default_weights = DEFAULT_WEIGHTS
    script = "scripts/train_mnist_cnn.py"

    def __init__(self, weights: str | Path | None = None, *, pretrained: bool = True) -> None:
        super().__init__()
        self.net = self.net_class()
        self.meta: dict[str, Any] = {}
        if pretrained:
            self.meta = self.load(Path(weights) if weights is not None else self.default_weights)
        self.eval()

    def load(self, weights: Path) -> dict[str, Any]:
        """Load weights after checking their sha256 against the sidecar; return the sidecar."""
        from safetensors.torch import load_file

        if not weights.is_file():
            raise EvalError(f"{self.name} weights not found: {weights}")
        meta = read_sidecar(weights, self.name)
        expected = str(meta.get("sha256", ""))
        actual = sha256_file(weights)
        if actual != expected:
            raise EvalError(
                f"the {self.name} weights {weights} do not match the sha256 in their sidecar"
                f" {weights.with_suffix('.json').name} (got {actual[:12]}, expected"
                f" {expected[:12] or 'none'}): the file is corrupt or was replaced; reinstall ganforge"
                f" or retrain with {self.script}"
            )
        try:
            self.net.load_state_dict(load_file(str(weights)))
        except (RuntimeError, ValueError) as err:
            raise EvalError(f"the {self.name} weights {weights} do not fit the network: {err}") from None
        return meta

    def check_input(self, shape: tuple[int, ...] | torch.Size) -> None:
        if len(shape) != 3:
            raise EvalError(
                f"{self.name} needs grey digit images shaped (N, 1, H, W), got samples of shape"
                f" {tuple(shape)}"
            )
        if shape[0] != 1:
            raise EvalError(
                f"{self.name} classifies grey digits (1 channel) but got {shape[0]} channels; for"
                " StackedMNIST classify each channel separately (x[:, c:c+1])"
            )
        if min(shape[1:]) < 8:
            raise EvalError(f"{self.name} needs digits of at least 8x8 pixels, got {shape[1]}x{shape[2]}")

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return preprocess_digits(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features, logits = self.net(x)
        return {"features": features, "logits": logits}


@register_extractor(
    "mnist-cnn", description="small digit CNN trained on the embedded MNIST train split: 128-d + 10 logits"
)
def mnist_cnn(weights: str | Path | None = None) -> MnistCNN:
    """The bundled MNIST classifier (or your own weights trained by scripts/train_mnist_cnn.py)."""
    return MnistCNN(weights)
