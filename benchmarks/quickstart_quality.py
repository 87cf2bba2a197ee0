"""Quality of the quickstart generator against the honest yardstick: held-out real digits.

Prints one JSON line. Trains ``configs/quickstart.yaml`` (DCGAN on the 4,000-digit train split of
the embedded MNIST; or scores an existing ``--run``), then computes FID, KID, precision/recall and
density/coverage in ``mnist-cnn`` feature space for ``--n`` generated digits, and the same metrics
for the 1,000 held-out test digits that training never saw — both against the same cached
statistics of the training digits, at equal sample counts. ``fid_ratio`` = model FID / held-out FID:
1 means indistinguishable from new real data. The goal (issue 5) is ``fid_ratio <= 2.5`` within the
quickstart's 5-minute budget on 2 CPU cores.

    python benchmarks/quickstart_quality.py                 # train + score (~3 min on 2 cores)
    python benchmarks/quickstart_quality.py --run runs/quickstart
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

import ganforge
from bench_common import machine_facts
from ganforge.data.base import resize_images
from ganforge.data.embedded import mnist_arrays
from ganforge.evaluation import evaluate, score_samples
from ganforge.rundir import read_run_config

METRICS = "fid,kid,pr,dc"
EXTRACTOR = "mnist-cnn"
GOAL_FID_RATIO = 2.5


def held_out_baseline(run: Path, n: int) -> dict[str, float]:
    """The metrics of ``n`` test-split digits (never trained on), at the run's resolution."""
    cfg = read_run_config(run)
    x, _ = mnist_arrays("test")
    x = resize_images(x[:n], cfg.data.resolution or 32)
    return score_samples(x, cfg, METRICS, extractor=EXTRACTOR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="score this run dir instead of training the quickstart")
    parser.add_argument("--out", help="train into this run dir and keep it (default: a temporary one)")
    parser.add_argument("--n", type=int, default=1000, help="samples per side (the test split has 1,000)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="config override for the training")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.n > 1000:
        parser.error("--n must be <= 1000: the held-out test split has 1,000 digits")
    facts: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="quickstart-") as tmp:
        run = Path(args.run or args.out or Path(tmp) / "quickstart")
        if not args.run:
            overrides = ["train.progress=false", *args.set]
            trained = ganforge.train("quickstart", out=run, overrides=overrides, force=bool(args.out))
            facts = {"train_wall_s": trained.summary["wall_time_s"], "steps": trained.summary["step"]}
        t0 = time.perf_counter()
        model = evaluate(run, METRICS, n=args.n, extractor=EXTRACTOR).values
        real = held_out_baseline(run, args.n)
        eval_s = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "benchmark": "quickstart_quality",
                "extractor": EXTRACTOR,
                "n": args.n,
                "model": {k: round(float(v), 4) for k, v in model.items()},
                "real_heldout": {k: round(float(v), 4) for k, v in real.items()},
                "fid_ratio": round(model["fid"] / real["fid"], 3),
                "goal_fid_ratio": GOAL_FID_RATIO,
                "meets_goal": model["fid"] / real["fid"] <= GOAL_FID_RATIO,
                **facts,
                "eval_wall_s": round(eval_s, 1),
                **machine_facts(args.threads),
            }
        )
    )


if __name__ == "__main__":
    main()
