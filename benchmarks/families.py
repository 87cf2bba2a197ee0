"""Every GAN family's small MNIST preset under one CPU budget, scored the same way: one JSON line.

For each family it trains the preset (``configs/image/mnist_<family>.yaml``, on the 4,000-digit
train split), then draws ``--n`` digits (classes 0-9 in turn for a conditional generator, so the
sample is class-balanced like the data) and scores them in ``mnist-cnn`` feature space against the
cached training-digit statistics: FID, KID, precision/recall, density/coverage, and for conditional
generators the label accuracy (share of digits mnist-cnn reads as the class asked for, metric
``accuracy``). The baseline, measured in the same run with the same code at the same ``n``: the
1,000 held-out test digits (``real_heldout``; their FID is ~17.5, the label accuracy is the
classifier's own on real digits). ``fid_ratio`` = family FID / held-out FID.

Presets that are not written yet are reported as skipped. ``--budget-s`` caps each training's wall
time through ``train.max_seconds`` (the run then ends normally, with its final checkpoint).

    python benchmarks/families.py                                  # all presets, their own steps
    python benchmarks/families.py --families cgan --steps 20 --n 200   # a quick check
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

import ganforge
from bench_common import machine_facts
from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.evaluation import evaluate, score_samples
from ganforge.metrics import label_accuracy
from ganforge.metrics.features import create_extractor
from quickstart_quality import EXTRACTOR, held_out_baseline

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {
    "conditional": "configs/image/mnist_conditional.yaml",  # projection cGAN, the best conditional
    "cgan": "configs/image/mnist_cgan.yaml",
    "acgan": "configs/image/mnist_acgan.yaml",
    "biggan": "configs/image/mnist_biggan.yaml",
    "stylegan2": "configs/image/mnist_stylegan2.yaml",
    "r3gan": "configs/image/mnist_r3gan.yaml",
}
METRICS = "fid,kid,pr,dc"
HELD_OUT = 1000  # the MNIST test split


def budget_overrides(budget_s: float | None) -> tuple[list[str], str]:
    """``train.max_seconds`` for every family, and a note saying what bounds the runs."""
    if budget_s is None:
        return [], "steps"
    return [f"train.max_seconds={budget_s}"], f"train.max_seconds={budget_s} or the preset's steps"


def real_label_accuracy(n: int) -> float:
    """mnist-cnn's accuracy on ``n`` held-out test digits: the ceiling for a generator's."""
    from ganforge.data.embedded import mnist_arrays

    x, y = mnist_arrays("test")
    logits = create_extractor(EXTRACTOR).extract(x[:n])["logits"]
    return float(label_accuracy(logits, torch.as_tensor(y[:n])))


def score_family(run: Path, n: int, seed: int = 0) -> dict[str, Any]:
    """Metrics of ``n`` samples of a finished run; class-balanced labels for a conditional G."""
    handle = ganforge.load(run)
    labels = torch.arange(n) % handle.num_classes if handle.num_classes else None
    samples = handle.sample(n, seed=seed, labels=labels)
    values = dict(score_samples(samples, handle.config, METRICS, extractor=EXTRACTOR))
    if handle.num_classes:  # same seed and the same 0..K-1 labels as above: the same digits
        values.update(evaluate(run, "accuracy", n=n, seed=seed, extractor=EXTRACTOR).values)
    return values


def run_family(name: str, out: Path, args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    preset = ROOT / PRESETS[name]
    if not preset.is_file():
        return {"skipped": f"{PRESETS[name]} does not exist yet"}
    overrides = ["train.progress=false", *extra, *args.set]
    if args.steps is not None:
        overrides.append(f"train.steps={args.steps}")
    run = ganforge.train(load_config(preset, overrides), out=out / name, force=True)
    wall = float(run.summary["wall_time_s"])
    values = score_family(run.path, args.n)
    return {
        "preset": PRESETS[name],
        "model": run.config.model.name,
        "objective": run.config.objective.name,
        "loss": run.config.objective.loss,
        "steps": run.summary["step"],
        "train_wall_s": round(wall, 1),
        # Whole run (sample grids and checkpoints included), and the last log window's training rate.
        "img_per_s": round(run.summary["kimg"] * 1000 / wall, 1) if wall > 0 else None,
        "img_per_s_train": round(float(run.summary["last_metrics"].get("img_per_s", 0.0)), 1),
        "resolution": run.config.data.resolution,
        **{k: round(float(v), 4) for k, v in values.items()},
        "_run": run.path,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--families", default=",".join(PRESETS), help=f"comma-separated: {', '.join(PRESETS)}"
    )
    parser.add_argument("--steps", type=int, help="override every preset's train.steps (quick runs)")
    parser.add_argument("--budget-s", type=float, help="wall-clock cap per family (train.max_seconds)")
    parser.add_argument(
        "--n", type=int, default=HELD_OUT, help="samples per metric (<= 1,000 held-out digits)"
    )
    parser.add_argument("--out", help="keep the runs in this folder (default: a temporary one)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="config override for every family")
    args = parser.parse_args()
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in families if f not in PRESETS]
    if unknown or not families:
        parser.error(f"unknown families {unknown}; choose from {', '.join(PRESETS)}")
    if not 1 <= args.n <= HELD_OUT:
        parser.error(f"--n must be in 1..{HELD_OUT}: the held-out baseline has {HELD_OUT} digits")
    torch.set_num_threads(args.threads)
    extra, bound = budget_overrides(args.budget_s)

    results: dict[str, Any] = {}
    baselines: dict[str, dict[str, float]] = {}  # by resolution: each run is compared at its own
    with tempfile.TemporaryDirectory(prefix="families-") as tmp:
        out = Path(args.out or tmp)
        for name in families:
            try:
                result = run_family(name, out, args, extra)
            except GanforgeError as err:  # one broken preset must not hide the others' numbers
                result = {"error": str(err)}
            run = result.pop("_run", None)
            if run is not None:
                key = str(result["resolution"])
                if key not in baselines:
                    real = held_out_baseline(run, args.n)
                    baselines[key] = {k: round(float(v), 4) for k, v in real.items()}
                result["fid_ratio"] = round(result["fid"] / baselines[key]["fid"], 3)
            results[name] = result
    if baselines:
        accuracy = round(real_label_accuracy(args.n), 4)
        for baseline in baselines.values():
            baseline["label_accuracy"] = accuracy
    print(
        json.dumps(
            {
                "benchmark": "families",
                "extractor": EXTRACTOR,
                "n": args.n,
                "steps_override": args.steps,
                "bounded_by": bound,
                "real_heldout": baselines,
                "families": results,
                **machine_facts(args.threads),
            }
        )
    )


if __name__ == "__main__":
    main()
