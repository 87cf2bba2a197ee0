"""DCGAN-64 training throughput: ganforge's Trainer vs plain PyTorch loops, in one process.

Prints one JSON line. Four contestants train the classic 64x64 DCGAN (z=100, ngf=ndf=64, nc=3) at
batch 64 on real RGB patches cut from skimage's sample photos:

- ``plain_fp32``: the PyTorch DCGAN example's loop (BCE, one fake batch shared by the D and G steps,
  one backward for D's real + fake loss, Adam as PyTorch builds it by default);
- ``tuned_bf16``: the same loop hand-tuned with bf16 autocast and channels_last;
- ``ganforge_fp32`` / ``ganforge_bf16``: ``ganforge``'s config -> Trainer path (EMA off, as the
  loops have none; ``ganforge_bf16_ema`` adds the default EMA to show its cost).

The machine is noisy, so contestants run in interleaved rounds and each reports its median img/s
(real images consumed per second); the ratios are the result, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import ganforge
from bench_common import interleaved_rates, photo_patches
from ganforge.config import load_config
from ganforge.registry import create_model
from ganforge.training.build import build_session

BATCH = 64
RES = 64


def plain_loop(images: torch.Tensor, bf16: bool, channels_last: bool) -> Callable[[], None]:
    """One iteration of the PyTorch DCGAN example loop; returns a closure that runs it."""
    torch.manual_seed(0)
    nets = create_model("dcgan", shape=(3, RES, RES))
    g, d = nets["g"], nets["d"]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g.to(memory_format=fmt)
    d.to(memory_format=fmt)
    images = images.contiguous(memory_format=fmt)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    ones, zeros = torch.ones(BATCH), torch.zeros(BATCH)
    cast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        real = images[torch.randint(len(images), (BATCH,), generator=gen)]
        opt_d.zero_grad(set_to_none=True)
        with cast():
            fake = g(torch.randn(BATCH, 100))
            loss_real = F.binary_cross_entropy_with_logits(d(real).float(), ones)
            loss_fake = F.binary_cross_entropy_with_logits(d(fake.detach()).float(), zeros)
        (loss_real + loss_fake).backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        with cast():
            loss_g = F.binary_cross_entropy_with_logits(d(fake).float(), ones)
        loss_g.backward()
        opt_g.step()

    return step


def ganforge_loop(npz: Path, precision: str, ema: bool) -> Callable[[], None]:
    cfg = load_config(
        {
            "model": {"name": "dcgan"},
            "data": {"name": "npz", "path": str(npz), "batch_size": BATCH},
            "train": {"precision": precision, "ema_kimg": 10.0 if ema else 0.0, "progress": False},
        }
    )
    trainer = build_session(cfg, run_dir=None).trainer
    return trainer.train_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="iterations per timed block")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median reported)")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    patches = photo_patches(2048, RES)
    images = torch.from_numpy(patches).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "patches.npz"
        np.savez(npz, x=patches)
        contestants = {
            "plain_fp32": plain_loop(images, bf16=False, channels_last=False),
            "tuned_bf16": plain_loop(images, bf16=True, channels_last=True),
            "ganforge_fp32": ganforge_loop(npz, "fp32", ema=False),
            "ganforge_bf16": ganforge_loop(npz, "bf16", ema=False),
            "ganforge_bf16_ema": ganforge_loop(npz, "bf16", ema=True),
        }
        per_round = interleaved_rates(contestants, args.warmup, args.steps, args.rounds, BATCH)
        rates = {name: statistics.median(r) for name, r in per_round.items()}

    result = {
        "benchmark": "dcgan_throughput",
        "resolution": RES,
        "batch": BATCH,
        "img_per_s": {k: round(v, 1) for k, v in rates.items()},
        "ratio_ganforge_fp32_vs_plain_fp32": round(rates["ganforge_fp32"] / rates["plain_fp32"], 3),
        "ratio_ganforge_bf16_vs_tuned_bf16": round(rates["ganforge_bf16"] / rates["tuned_bf16"], 3),
        "ratio_ganforge_bf16_vs_plain_fp32": round(rates["ganforge_bf16"] / rates["plain_fp32"], 3),
        "ratio_tuned_bf16_vs_plain_fp32": round(rates["tuned_bf16"] / rates["plain_fp32"], 3),
        "ema_cost": round(1 - rates["ganforge_bf16_ema"] / rates["ganforge_bf16"], 3),
        "steps_per_block": args.steps,
        "rounds": args.rounds,
        "torch": torch.__version__,
        "ganforge": ganforge.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
