"""Train the ``mnist-cnn`` feature extractor and write its weights plus a JSON sidecar.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/train_mnist_cnn.py
    OMP_NUM_THREADS=1 .venv/bin/python scripts/train_mnist_cnn.py --arch judge --seed 1 --rotate 15 \
        --scale 0.15 --shift 3 --epochs 40     # the independent ``mnist-judge``

Trains ONLY on the embedded MNIST train split (4,000 digits, ``mnist_split_indices("train")``) with
light augmentation (small random rotation, scale and shift), then reports accuracy on the held-out
1,000-digit test split. The test split is never used to choose anything (no early stopping, no
model selection): the number reported is an honest held-out estimate. Deterministic for a given
seed on one CPU thread.

``--hole 12 --out DIR`` trains and tests on digits whose centred 12x12 square is blanked (filled
with 0, as the inpainting presets' inputs): how much of a digit's identity survives the hole, the
ceiling a classifier can read straight from inpainting inputs (docs/inpainting.md). It refuses to
write such weights over the shipped ones.

Writes ``<out>/mnist_cnn.safetensors`` and ``<out>/mnist_cnn.json`` (``mnist_judge.*`` for
``--arch judge``) (architecture, this script and
its arguments, train/test accuracy, sha256 of the weights), both atomically.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ganforge.data.degrade import random_affine
from ganforge.data.embedded import mnist
from ganforge.metrics.features.base import sha256_file
from ganforge.metrics.features.mnist_cnn import CHANNELS, FEATURE_DIM, WEIGHTS_DIR, MnistCNNNet
from ganforge.metrics.features.mnist_judge import JUDGE_FEATURES, JUDGE_WIDTHS, MnistJudgeNet
from ganforge.utils.io import atomic_write, atomic_write_json

# --arch: (extractor name, network class, file stem, architecture facts for the sidecar)
ARCHES: dict[str, tuple[str, type[torch.nn.Module], str, dict[str, Any]]] = {
    "cnn": (
        "mnist-cnn",
        MnistCNNNet,
        "mnist_cnn",
        {
            "class": "ganforge.metrics.features.mnist_cnn.MnistCNNNet",
            "channels": list(CHANNELS),
            "blocks": "per channel count: conv3x3 (no bias)-BN-ReLU-maxpool2; then flatten,"
            " linear-ReLU (the features), dropout, linear (the logits)",
            "feature_dim": FEATURE_DIM,
        },
    ),
    "judge": (
        "mnist-judge",
        MnistJudgeNet,
        "mnist_judge",
        {
            "class": "ganforge.metrics.features.mnist_judge.MnistJudgeNet",
            "channels": list(JUDGE_WIDTHS),
            "blocks": "conv5x5-GELU stem; per width: conv3x3 stride 2-GroupNorm(8)-GELU,"
            " conv3x3-GroupNorm-GELU; global average pool, linear-GELU (the features), dropout,"
            " linear (the logits)",
            "feature_dim": JUDGE_FEATURES,
        },
    ),
}


@torch.no_grad()
def holed(x: torch.Tensor, hole: int) -> torch.Tensor:
    """Digits with their centred ``hole`` x ``hole`` square set to 0, the inpainting input."""
    from ganforge.data.degrade import center_mask
    from ganforge.data.masked import masked_input

    return masked_input(x, center_mask(x.shape[-1], hole).expand(len(x), -1, -1, -1))


def accuracy(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    net.eval()
    correct = sum(
        int((net(x[i : i + batch])[1].argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(x), batch)
    )
    return correct / len(x)


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(args.seed)
    train_set, test_set = mnist(split="train"), mnist(split="test")
    x, y, x_test = train_set.x, train_set.y, test_set.x
    if args.hole:  # after augmentation below, so the hole stays centred like the test inputs'
        x, x_test = holed(x, args.hole), holed(x_test, args.hole)
    assert y is not None and test_set.y is not None
    net = ARCHES[args.arch][1](dropout=args.dropout)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = math.ceil(len(x) / args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.2
    )
    start = time.perf_counter()
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), args.batch_size):
            idx = order[i : i + args.batch_size]
            xb = random_affine(train_set.x[idx], gen, args.rotate, args.scale, args.shift)
            if args.hole:
                xb = holed(xb, args.hole)
            loss = F.cross_entropy(net(xb)[1], y[idx], label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        elapsed = time.perf_counter() - start
        print(f"epoch {epoch + 1:2d}/{args.epochs}  loss {total / len(x):.4f}  {elapsed:.0f}s")
    seconds = time.perf_counter() - start
    return {
        "net": net,
        "train_accuracy": accuracy(net, x, y),
        "test_accuracy": accuracy(net, x_test, test_set.y),
        "train_seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--rotate", type=float, default=10.0, help="max rotation, degrees")
    p.add_argument("--scale", type=float, default=0.1, help="max relative scale change")
    p.add_argument("--shift", type=float, default=2.0, help="max shift, pixels")
    p.add_argument("--arch", choices=sorted(ARCHES), default="cnn", help="cnn: mnist-cnn; judge: mnist-judge")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 = reproducible anywhere)")
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="folder for <stem>.{safetensors,json}")
    p.add_argument("--hole", type=int, default=0, help="blank the centred HOLE x HOLE square (ceiling study)")
    args = p.parse_args(argv)
    if args.hole and args.out.resolve() == WEIGHTS_DIR.resolve():
        p.error("--hole trains a study network: give --out a folder other than the shipped weights'")
    torch.set_num_threads(args.threads)

    from safetensors.torch import save_file

    result = train(args)
    net = result.pop("net")
    name, _, stem, arch = ARCHES[args.arch]
    weights = args.out / f"{stem}.safetensors"
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    atomic_write(weights, lambda tmp: save_file(state, str(tmp)))
    sidecar = {
        "name": name,
        "architecture": {
            **arch,
            "input": [1, 32, 32],
            "num_classes": 10,
            "parameters": sum(p.numel() for p in net.parameters()),
        },
        "data": "ganforge mnist dataset, split=train (4000 digits, mnist_split_indices('train'))",
        "script": "scripts/train_mnist_cnn.py",
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "out"},
        **result,
        "test_split": "mnist split=test (1000 held-out digits), never used for training or selection",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "sha256": sha256_file(weights),
    }
    atomic_write_json(args.out / f"{stem}.json", sidecar)
    print(
        f"train accuracy {result['train_accuracy']:.4f}  test accuracy {result['test_accuracy']:.4f}"
        f"  ({result['train_seconds']}s) -> {weights}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
