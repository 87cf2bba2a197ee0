"""StyleGAN2 and R3GAN training throughput at 64 and 256 px, batch 16, fp32 vs bf16: one JSON line.

Issue 18 asks what the modern families cost per image at real resolutions. Each contestant is
ganforge's whole training step (``Trainer.train_step``: every phase of the objective, lazy
regularisers at their cadence, EMA) at the family's full width, built from the config a user
would run:

- ``stylegan2``: the ``image/folder_64`` / ``image/folder_256`` presets (StyleGAN2-ADA's ``auto``
  settings at that size: 512-wide mapping, ADA, path length every 4 steps, R1 every 16);
- ``r3gan``: the ``image/r3gan_style`` preset's objective (RpGAN + R1 + R2) with the r3gan model's
  default widths (64 at full size, doubling to 256).

Data are random crops of skimage's colour sample photos held in memory (an ``.npz``), so the
loader is not what is measured (``data_pipeline.py`` measures that). Contestants run in
interleaved rounds after a warm-up and report their median images/s; the result is the bf16/fp32
ratio per family and size, measured in the same run. A CPU step at 256 px takes seconds, so the
defaults are few steps: the ratios, not the absolute numbers, are the point.

    python benchmarks/style_throughput.py                       # 64 and 256 px
    python benchmarks/style_throughput.py --resolutions 64 --steps 2 --rounds 1   # a quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bench_common import interleaved_rates, machine_facts, photo_patches
from ganforge.config import load_config
from ganforge.training.build import build_session

BATCH = 16
PRESETS = {"stylegan2": "image/folder_{res}", "r3gan": "image/r3gan_style"}


def training_step(family: str, res: int, npz: Path, precision: str) -> Callable[[], None]:
    """The family's whole training step at ``res`` px in ``precision``, on the in-memory photos."""
    preset = PRESETS[family].format(res=res)
    overrides = [
        "data.name=npz", f"data.path={npz}", f"data.batch_size={BATCH}", "data.resolution=null",
        f"train.precision={precision}", "train.progress=false", "train.device=cpu",
    ]  # fmt: skip
    if family == "r3gan":  # the preset sizes r3gan for 32 px digits; full widths here
        overrides += ["model.width=64", "model.max_width=256", "model.blocks_per_stage=2"]
    cfg = load_config(preset, overrides=overrides)
    trainer = build_session(cfg, run_dir=None).trainer
    return trainer.train_step


def summarise(per_round: dict[str, list[float]]) -> dict[str, dict]:
    return {name: {"median": round(statistics.median(r), 3), "all": [round(x, 3) for x in r]}
            for name, r in per_round.items()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", default="64,256")
    parser.add_argument("--families", default="stylegan2,r3gan")
    parser.add_argument("--steps", type=int, default=3, help="training steps per timed block")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (median reported)")
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for res in (int(r) for r in args.resolutions.split(",")):
            npz = Path(tmp) / f"photos_{res}.npz"
            np.savez(npz, x=photo_patches(256, res).transpose(0, 3, 1, 2))
            for family in args.families.split(","):
                contestants = {p: training_step(family, res, npz, p) for p in ("fp32", "bf16")}
                rates = summarise(interleaved_rates(contestants, args.warmup, args.steps, args.rounds, BATCH))
                ratio = rates["bf16"]["median"] / rates["fp32"]["median"]
                results[f"{family}_{res}"] = {"img_per_s": rates, "bf16_vs_fp32": round(ratio, 3)}
    print(json.dumps({
        "benchmark": "style_throughput", "batch": BATCH, "results": results,
        "steps_per_block": args.steps, "rounds": args.rounds, "warmup": args.warmup,
        **machine_facts(torch.get_num_threads()),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
