"""Issue 8's restoration table: every image-to-image task against its classical baseline, one JSON line.

For each task it trains the preset on the 4,000-digit train split (and, where the issue asks for
it, the same generator with the adversarial term switched off: the L1-only ablation), then scores
the 1,000 test digits (``data.split: test``; conditions by the protocol of
``ganforge.evaluation.translation``: the centred 12×12 hole for inpainting, five thickness levels for
editing). Baselines are computed in the same run on the same inputs (biharmonic =
``skimage.restoration.inpaint_biharmonic``; mean fill = the train split's mean image in the hole):

| task | preset | baselines |
|---|---|---|
| ``pix2pix`` | ``i2i/edges2digits`` | L1-only U-Net |
| ``cyclegan`` | ``i2i/thin2thick`` | identity map (output = input) |
| ``sr4x`` | ``restore/sr4x_digits`` | bicubic upsampling; L1-only SRResNet |
| ``inpaint`` | ``restore/inpaint_digits`` | biharmonic, mean fill, L1-only generator |
| ``edit`` | ``i2i/thickness_edit`` | identity map |

Scores per method: ``identity`` = share of outputs the **independent** classifier ``mnist-judge``
reads as the input's digit (``identity_cnn``: the same under ``mnist-cnn``); ``fid`` in ``mnist-cnn``
space against the test targets (``fid_judge``: in ``mnist-judge`` space, which no preset trains
against; the inpainting preset's perceptual loss uses ``mnist-cnn`` features); ``psnr`` (pooled
MSE, full 32×32 frame or the hole), ``psnr_28`` (the 28×28 digit area without the 2-px frame, as
issue 8 quotes its figures), ``ssim``; for editing the attribute correlation ``attr_corr`` /
``attr_mae``. ``real`` scores the test targets themselves (the classifier's ceiling). ``goals``
restates issue 8's thresholds and ``meets_goal`` checks them.

    python benchmarks/restoration.py --budget-s 300 --threads 2        # all tasks, 5 min per training
    python benchmarks/restoration.py --tasks sr4x --steps 50 --n 200     # a quick check
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import ganforge
from bench_common import machine_facts
from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.evaluation.translation import attribute_scores
from ganforge.metrics import fid, label_accuracy
from ganforge.metrics.features import create_extractor
from ganforge.metrics.image_quality import mean_psnr, ssim
from ganforge.tasks.translation import HeldOutPairs, TranslationSamples

ROOT = Path(__file__).resolve().parents[1]
JUDGE, FEATURES = "mnist-judge", "mnist-cnn"
FRAME = 2  # the embedded digits are 28x28 centred in 32x32
Baseline = Callable[[HeldOutPairs], torch.Tensor]


def bicubic(pairs: HeldOutPairs) -> torch.Tensor:
    return F.interpolate(pairs.a, size=pairs.x.shape[-2:], mode="bicubic", align_corners=False).clamp(-1, 1)


def identity_map(pairs: HeldOutPairs) -> torch.Tensor:
    return pairs.a.clone()


def biharmonic(pairs: HeldOutPairs) -> torch.Tensor:
    from skimage.restoration import inpaint_biharmonic

    mask = pairs.conditions["mask"][:, 0].numpy() > 0.5
    out = [
        inpaint_biharmonic(img[0].numpy().astype(np.float64), m)[None]
        for img, m in zip(pairs.a, mask, strict=True)
    ]
    return torch.from_numpy(np.stack(out)).float().clamp(-1, 1)


def mean_fill(pairs: HeldOutPairs) -> torch.Tensor:
    from ganforge.data.embedded import mnist_arrays

    mean_image = mnist_arrays("train")[0].mean(0, keepdim=True)
    return torch.where(pairs.conditions["mask"] > 0.5, mean_image, pairs.a)


@dataclass(frozen=True)
class Task:
    preset: str
    ablation: tuple[str, ...] | None = None  # overrides turning the adversarial term off
    baselines: dict[str, Baseline] = field(default_factory=dict)
    goals: dict[str, float] = field(default_factory=dict)


TASKS = {
    "pix2pix": Task("configs/i2i/edges2digits.yaml", ("objective.lambda_adv=0",), goals={"identity": 0.95}),
    "cyclegan": Task(
        "configs/i2i/thin2thick.yaml",
        None,
        {"identity_map": identity_map},
        {"identity": 0.93, "psnr_28": 20.0},
    ),
    "sr4x": Task(
        "configs/restore/sr4x_digits.yaml",
        ("objective.lambda_adv=0",),
        {"bicubic": bicubic},
        {"identity": 0.90},
    ),
    "inpaint": Task(
        "configs/restore/inpaint_digits.yaml",
        ("objective.lambda_adv=0",),
        {"biharmonic": biharmonic, "mean_fill": mean_fill},
        {"identity": 0.93},
    ),
    "edit": Task("configs/i2i/thickness_edit.yaml", None, {"identity_map": identity_map}, {"attr_corr": 0.8}),
}


def score(outputs: torch.Tensor, pairs: HeldOutPairs, extractors: dict[str, Any]) -> dict[str, float]:
    """Identity (both classifiers), FID in mnist-cnn space, and PSNR/SSIM or the attribute scores."""
    feats, judged = extractors[FEATURES].extract(outputs), extractors[JUDGE].extract(outputs)
    values = {
        "identity": label_accuracy(judged["logits"], pairs.y),
        "identity_cnn": label_accuracy(feats["logits"], pairs.y),
        "fid": fid(extractors["real_features"], feats["features"]),
        "fid_judge": fid(extractors["real_judge_features"], judged["features"]),
    }
    if "attr" in pairs.conditions:
        assert pairs.attribute is not None
        return {**values, **attribute_scores(outputs, pairs.conditions["attr"], pairs.attribute)}
    mask = pairs.conditions.get("mask")
    values["psnr"] = mean_psnr(outputs, pairs.x, mask=mask)
    values["ssim"] = float(ssim(outputs, pairs.x, mask=mask).mean())
    if mask is None:
        crop = (..., slice(FRAME, -FRAME), slice(FRAME, -FRAME))
        values["psnr_28"] = mean_psnr(outputs[crop], pairs.x[crop])
    else:  # inside the hole only: the known pixels are returned as they are
        values["psnr_28"] = values["psnr"]
    return values


def train_and_translate(
    name: str, preset: Path, overrides: list[str], out: Path, n: int
) -> tuple[dict[str, Any], torch.Tensor, HeldOutPairs]:
    """Train a preset, then translate the first ``n`` test inputs (the translation task's protocol)."""
    run = ganforge.train(
        load_config(preset, ["train.progress=false", *overrides]), out=out / name, force=True
    )
    t = TranslationSamples(ganforge.load_translator(run.path), n)
    facts = {"steps": run.summary["step"], "train_wall_s": round(float(run.summary["wall_time_s"]), 1)}
    return facts, t.outputs, t.pairs


def rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in values.items()}


def run_task(name: str, task: Task, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    preset = ROOT / task.preset
    if not preset.is_file():
        return {"skipped": f"{task.preset} does not exist yet"}
    common = [f"train.steps={args.steps}"] if args.steps else []
    if args.budget_s:
        common.append(f"train.max_seconds={args.budget_s}")
    t0 = time.perf_counter()
    row: dict[str, Any] = {"preset": task.preset}
    try:
        facts, outputs, pairs = train_and_translate(name, preset, [*common, *args.set], out, args.n)
        ablation = None
        if task.ablation is not None:
            ablation = train_and_translate(
                f"{name}-l1", preset, [*common, *task.ablation, *args.set], out, args.n
            )
    except GanforgeError as err:  # one broken preset must not hide the others' numbers
        return {**row, "error": str(err)}
    extractors = {JUDGE: create_extractor(JUDGE), FEATURES: create_extractor(FEATURES)}
    # Every method's FID is measured against the same real test targets.
    extractors["real_features"] = extractors[FEATURES].extract(pairs.x)["features"]
    extractors["real_judge_features"] = extractors[JUDGE].extract(pairs.x)["features"]
    row["gan"] = {**facts, **rounded(score(outputs, pairs, extractors))}
    if ablation is not None:
        row["l1_only"] = {**ablation[0], **rounded(score(ablation[1], pairs, extractors))}
    for base, make in task.baselines.items():
        row[base] = rounded(score(make(pairs), pairs, extractors))
    real = score(pairs.x, pairs, extractors)
    row["real"] = rounded({k: real[k] for k in ("identity", "identity_cnn")})
    row["goals"] = dict(task.goals)
    beats_ablation = "l1_only" not in row or row["gan"]["fid"] < row["l1_only"]["fid"]
    row["meets_goal"] = beats_ablation and all(row["gan"][k] >= v for k, v in task.goals.items())
    row["wall_s"] = round(time.perf_counter() - t0, 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated: {', '.join(TASKS)}")
    parser.add_argument("--steps", type=int, help="override every preset's train.steps (quick runs)")
    parser.add_argument("--budget-s", type=float, help="wall-clock cap per training (train.max_seconds)")
    parser.add_argument("--n", type=int, default=1000, help="test digits scored (<= 1,000)")
    parser.add_argument("--out", help="keep the runs in this folder (default: a temporary one)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="config override for every training")
    args = parser.parse_args()
    names = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = [t for t in names if t not in TASKS]
    if unknown or not names:
        parser.error(f"unknown tasks {unknown}; choose from {', '.join(TASKS)}")
    if not 1 <= args.n <= 1000:
        parser.error("--n must be in 1..1000: the test split has 1,000 digits")
    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="restoration-") as tmp:
        out = Path(args.out or tmp)
        for name in names:
            results[name] = run_task(name, TASKS[name], args, out)
    print(
        json.dumps(
            {
                "benchmark": "restoration",
                "identity_classifier": JUDGE,
                "fid_extractor": FEATURES,
                "n": args.n,
                "steps_override": args.steps,
                "budget_s": args.budget_s,
                "tasks": results,
                **machine_facts(args.threads),
            }
        )
    )


if __name__ == "__main__":
    main()
