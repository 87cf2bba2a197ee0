"""Anomaly detection on MNIST, protocol 1 (GANomaly's): one digit is the anomaly. Prints one JSON line.

For each digit d: every detector learns from the train split's images of the other nine digits
(``normal_images``' fit part: 85% of them; the other 15% calibrate thresholds and are not used
here), then scores the whole fixed test split (``default_rng(0).permutation(5000)[4000:]``, 1,000
digits, never trained on), d = anomaly. AUROC and AUPRC (anomaly = positive class) per digit for

* ``ganomaly``: the preset ``anomaly/mnist_ganomaly`` at this benchmark's budget,
* ``ae_ablation``: the same networks and losses with ``objective.w_adv=0`` (no adversary),
* ``fanogan``: the preset ``anomaly/mnist_fanogan`` at this benchmark's budget,
* ``iforest``, ``ocsvm``, ``lof``: scikit-learn's IsolationForest, OneClassSVM (rbf, nu 0.1) and
  LocalOutlierFactor(novelty=True) on PCA-50 of the pixels (PCA fitted on the same normal images),

plus each GAN detector's scoring throughput (test images per second, one process, ``--threads``).
The budget (steps, widths) is a command-line choice, recorded in the line: this machine has two
shared CPU cores, so the defaults are far below the presets' own training lengths.

    python benchmarks/anomaly.py [--digits 0,1,...] [--methods ganomaly,ae_ablation,fanogan]
        [--steps 800] [--gan-steps 600] [--encoder-steps 400] [--width 16] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import ganforge
from bench_common import machine_facts
from ganforge.data import build_dataset
from ganforge.data.embedded import mnist_arrays
from ganforge.tasks import open_run

CLASSIC = ("iforest", "ocsvm", "lof")
GANS = ("ganomaly", "ae_ablation", "fanogan")
GOAL_MEAN, GOAL_FLOOR = 0.85, 0.6


def metrics(scores: np.ndarray, is_anomaly: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {
        "auroc": round(float(roc_auc_score(is_anomaly, scores)), 4),
        "auprc": round(float(average_precision_score(is_anomaly, scores)), 4),
    }


def classic_scores(train: np.ndarray, test: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Scores (higher = more anomalous) of the scikit-learn detectors on PCA-50 of the pixels."""
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.svm import OneClassSVM

    pca = PCA(50, random_state=seed).fit(train)
    a, b = pca.transform(train), pca.transform(test)
    detectors = {
        "iforest": IsolationForest(random_state=seed),
        "ocsvm": OneClassSVM(nu=0.1, gamma="scale"),
        "lof": LocalOutlierFactor(novelty=True),
    }
    return {name: -det.fit(a).score_samples(b) for name, det in detectors.items()}


def gan_overrides(args: argparse.Namespace, normal: list[int]) -> dict[str, tuple[str, list[str]]]:
    """(preset, overrides) of each GAN detector at this benchmark's budget."""
    common = [
        f"data.normal_classes={json.dumps(normal)}",
        f"model.ngf={args.width}",
        f"model.ndf={args.width}",
        f"data.batch_size={args.batch_size}",
        f"train.seed={args.seed}",
        "train.progress=false",
        "train.sample_every=100000",
        "train.device=cpu",
        "train.diagnostics=false",
    ]
    ganomaly = [*common, f"train.steps={args.steps}", f"train.ckpt_every={args.steps}"]
    fanogan_steps = args.gan_steps + args.encoder_steps
    fanogan = [*common, f"train.steps={fanogan_steps}", f"train.ckpt_every={fanogan_steps}"]
    fanogan.append(f"objective.gan_steps={args.gan_steps}")
    return {
        "ganomaly": ("anomaly/mnist_ganomaly", ganomaly),
        "ae_ablation": ("anomaly/mnist_ganomaly", [*ganomaly, "objective.w_adv=0"]),
        "fanogan": ("anomaly/mnist_fanogan", fanogan),
    }


def gan_scores(
    preset: str, overrides: list[str], test: torch.Tensor, work: Path
) -> tuple[np.ndarray, float, float]:
    """Train one detector, score the test split: (scores, train seconds, scoring items/s)."""
    started = time.perf_counter()
    run = ganforge.train(preset, out=work, overrides=overrides, force=True)
    trained = time.perf_counter() - started
    handle = open_run(run.path, expect="anomaly")
    handle.score(test[:64])  # warm-up
    started = time.perf_counter()
    scores = handle.score(test)
    return scores, trained, len(test) / (time.perf_counter() - started)


def one_digit(args: argparse.Namespace, digit: int, test: torch.Tensor, labels: np.ndarray) -> dict[str, Any]:
    normal = [c for c in range(10) if c != digit]
    is_anomaly = (labels == digit).astype(int)
    fit = build_dataset("normal_images", base="mnist", base_params={"split": "train"}, normal_classes=normal)
    flat_train, flat_test = fit.x.flatten(1).numpy(), test.flatten(1).numpy()
    row: dict[str, Any] = {}
    for name, scores in classic_scores(flat_train, flat_test, args.seed).items():
        row[name] = metrics(scores, is_anomaly)
    for name, (preset, overrides) in gan_overrides(args, normal).items():
        if name not in args.methods:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            scores, seconds, rate = gan_scores(preset, overrides, test, Path(tmp) / "run")
        row[name] = {
            **metrics(scores, is_anomaly),
            "train_s": round(seconds, 1),
            "score_items_per_s": round(rate),
        }
    print(json.dumps({"digit": digit, **row}), file=sys.stderr, flush=True)  # progress, not the result
    return row


def summary(per_digit: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Mean and worst AUROC/AUPRC per method, and the issue's goals checked on them."""
    methods = sorted({m for row in per_digit.values() for m in row})
    out: dict[str, Any] = {}
    for m in methods:
        aurocs = [row[m]["auroc"] for row in per_digit.values() if m in row]
        auprcs = [row[m]["auprc"] for row in per_digit.values() if m in row]
        out[m] = {"mean_auroc": round(float(np.mean(aurocs)), 4), "min_auroc": min(aurocs),
                  "mean_auprc": round(float(np.mean(auprcs)), 4)}  # fmt: skip
    best_classic = max(out[m]["mean_auroc"] for m in CLASSIC)
    goals = {}
    for m in (g for g in GANS if g in out and g != "ae_ablation"):
        goals[m] = {
            f"mean_auroc>={GOAL_MEAN}": out[m]["mean_auroc"] >= GOAL_MEAN,
            f"min_auroc>={GOAL_FLOOR}": out[m]["min_auroc"] >= GOAL_FLOOR,
            "above_every_classic_mean": out[m]["mean_auroc"] > best_classic,
        }
    if "ganomaly" in out and "ae_ablation" in out:
        goals["ganomaly_beats_ablation"] = out["ganomaly"]["mean_auroc"] > out["ae_ablation"]["mean_auroc"]
    return {"summary": out, "goals": goals}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    p.add_argument(
        "--methods", default=",".join(GANS), help="GAN detectors to train (classic ones always run)"
    )
    p.add_argument("--steps", type=int, default=800, help="GANomaly / ablation training steps")
    p.add_argument("--gan-steps", type=int, default=600, help="f-AnoGAN stage 1 (WGAN-GP) steps")
    p.add_argument("--encoder-steps", type=int, default=400, help="f-AnoGAN stage 2 (izi_f) steps")
    p.add_argument("--width", type=int, default=16, help="model.ngf = model.ndf")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    torch.set_num_threads(args.threads)
    digits = [int(d) for d in args.digits.split(",")]
    test, labels = mnist_arrays("test")
    per_digit = {d: one_digit(args, d, test, labels) for d in digits}
    keys = ("methods", "steps", "gan_steps", "encoder_steps", "width", "batch_size", "seed")
    budget = {k: getattr(args, k) for k in keys}
    print(json.dumps({
        "benchmark": "anomaly_mnist_protocol1", "digits": digits, "budget": budget,
        **summary(per_digit), "per_digit": per_digit, "machine": machine_facts(args.threads),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
