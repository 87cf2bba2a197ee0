"""``ganforge anomaly fit|score``: train an image anomaly detector, score images with it.

    ganforge anomaly fit DATA --out RUN [--method ganomaly|fanogan] [--normal-classes 1,2,...]
    ganforge anomaly score RUN INPUT -o scores.csv [--explain DIR] [--fpr 0.05 | --contamination C]

``fit`` trains preset ``anomaly/mnist_<method>`` on DATA (a dataset name such as ``mnist``, an image
folder or an ``.npz``), then calibrates the threshold on the held-out normal images and saves it
in the run. ``score`` writes one CSV row per image of INPUT, in INPUT's order: ``index,score,
is_anomaly`` (score: higher = more anomalous; is_anomaly: 1 above the threshold, else 0).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.cli.common import add_command, add_run_flags, console
from ganforge.errors import ConfigError, DataError

METHODS = ("ganomaly", "fanogan")
CSV_HEADER = "index,score,is_anomaly"
HEATMAP_SCALE = 4  # explanation pictures are enlarged so a person can read a 32 px digit


def parse_classes(text: str | None) -> list[int] | None:
    """``"1,2,7"`` -> [1, 2, 7]; None or empty -> None (every image is normal)."""
    if not text:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--normal-classes must be integers separated by commas, got {text!r}") from None


def data_overrides(data: str) -> list[str]:
    """``data.base``/``data.base_params`` for DATA: a folder, an ``.npz`` or a dataset's name
    (its train split where it has one)."""
    from ganforge.registry import DATASETS, _load_builtins

    path = Path(data)
    if path.is_dir():
        base, params = "folder", {"path": str(path.resolve())}
    elif path.suffix.lower() == ".npz":
        if not path.is_file():
            raise DataError(f"data file '{data}' does not exist")
        base, params = "npz", {"path": str(path.resolve())}
    else:
        _load_builtins()
        if data not in DATASETS:
            raise DataError(
                f"DATA '{data}' is no folder, .npz file or dataset name (see `ganforge list datasets`)"
            )
        base, params = data, {"split": "train"} if "split" in DATASETS.get(data).parameters() else {}
    return [f"data.base={base}", f"data.base_params={json.dumps(params)}"]


def cmd_fit(args: argparse.Namespace) -> int:
    """train an image anomaly detector on normal images and calibrate its threshold

    Trains preset anomaly/mnist_<method> on the normal images of DATA (--normal-classes: the labels
    that are normal; default every image), holding 15% of them out, then scores those held-out
    images and saves them in RUN/calibration.json: the threshold at any false-positive rate.
    """
    from ganforge.api import train
    from ganforge.tasks import open_run

    classes = parse_classes(args.normal_classes)
    overrides = [*data_overrides(args.data), f"data.normal_classes={json.dumps(classes)}"]
    overrides += [f"train.device={args.device}", *args.set]
    run = train(f"anomaly/mnist_{args.method}", out=Path(args.out), overrides=overrides,
                resume=args.resume, force=args.force)  # fmt: skip
    handle = open_run(run.path, expect="anomaly", device=args.device)
    calibration = handle.calibrate()
    console.print(
        f"[green]done[/green]: {args.method} detector in {run.path}; threshold at FPR 0.05 ="
        f" {calibration.threshold(0.05):.4g} ({len(calibration.scores)} held-out normal images)",
        soft_wrap=True,
    )
    return 0


def read_images(source: str, in_shape: tuple[int, ...]) -> torch.Tensor:
    """INPUT as (N, C, H, W) in [-1, 1]: an ``.npz`` whose ``x`` is exactly that (its size must be
    the detector's), or an image folder (sorted file order), decoded and resized as training data are."""
    path = Path(source)
    if not path.exists():
        raise DataError(f"input '{source}' does not exist")
    if path.is_dir():
        from ganforge.data import build_dataset
        from ganforge.data.base import resize_images

        x = build_dataset("folder", path=str(path), channels=in_shape[0], recursive=True).x
        return resize_images(x, in_shape[-1])
    if path.suffix.lower() != ".npz":
        raise DataError(f"input '{source}' must be an .npz file (array x) or a folder of images")
    try:
        with np.load(path, allow_pickle=False) as f:
            if "x" not in f:
                raise DataError(f"'{source}' holds no array 'x' (it has {', '.join(f.files) or 'none'})")
            return torch.from_numpy(np.asarray(f["x"], dtype=np.float32))
    except (OSError, ValueError) as err:
        raise DataError(f"could not read '{source}' as .npz: {err}") from None


def threshold_for(handle: Any, scores: np.ndarray, fpr: float | None, contamination: float | None) -> float:
    """The run's calibrated threshold at ``fpr``, or with ``contamination`` C the score just below
    the round(C·N) highest of these very scores, so exactly those are flagged (barring ties): for
    an INPUT known to hold that share of anomalies."""
    if contamination is None:
        return handle.threshold(0.05 if fpr is None else fpr)
    from ganforge.tasks.anomaly import check_fraction

    check_fraction(contamination, "--contamination")
    k = round(contamination * len(scores))
    ranked = np.sort(scores)
    return float(ranked[len(ranked) - k - 1]) if k < len(ranked) else -np.inf


def write_scores(path: Path, scores: np.ndarray, flags: np.ndarray) -> None:
    from ganforge.utils.io import atomic_write_text

    rows = [f"{i},{s:.8g},{int(f)}" for i, (s, f) in enumerate(zip(scores, flags, strict=True))]
    atomic_write_text(path, "\n".join([CSV_HEADER, *rows]) + "\n")


def heat(values: torch.Tensor) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 in a black-red-yellow-white ramp."""
    v = values.clamp(0, 1).numpy()
    rgb = np.stack([np.clip(3 * v, 0, 1), np.clip(3 * v - 1, 0, 1), np.clip(3 * v - 2, 0, 1)], axis=-1)
    return (rgb * 255).round().astype(np.uint8)


def write_explanations(folder: Path, x: torch.Tensor, recon: torch.Tensor, residual: torch.Tensor) -> None:
    """``folder/000000.png`` ...: input | reconstruction | residual heatmap (|x − x̂|, 0 black to 2
    white) per image, enlarged ``HEATMAP_SCALE`` times."""
    from PIL import Image

    from ganforge.utils.images import to_uint8

    folder.mkdir(parents=True, exist_ok=True)
    grey = [to_uint8(t) for t in (x, recon)]  # (N, H, W, C) uint8
    for i in range(len(x)):
        panels = [np.repeat(g[i], 3, axis=-1) if g.shape[-1] == 1 else g[i] for g in grey]
        panels.append(heat(residual[i, 0].sqrt() / 2))
        strip = np.concatenate(panels, axis=1)
        big = strip.repeat(HEATMAP_SCALE, axis=0).repeat(HEATMAP_SCALE, axis=1)
        Image.fromarray(big).save(folder / f"{i:06d}.png")


def cmd_score(args: argparse.Namespace) -> int:
    """score images with an anomaly detector: index,score,is_anomaly per image

    Higher scores are more anomalous. is_anomaly is 1 above the run's threshold at --fpr (default
    0.05: the share of held-out normal images above it), or with --contamination C for the
    round(C * N) highest-scoring images of INPUT itself. --explain DIR writes input |
    reconstruction | residual heatmap per image.
    """
    from ganforge.tasks import open_run

    if not Path(args.run).exists():
        raise DataError(f"run '{args.run}' does not exist")
    handle = open_run(args.run, expect="anomaly", device=args.device)
    x = handle.checked(read_images(args.input, handle.generator.in_shape))
    scores = handle.score(x, batch_size=args.batch_size)
    threshold = threshold_for(handle, scores, args.fpr, args.contamination)
    flags = scores > threshold
    write_scores(Path(args.output), scores, flags)
    if args.explain:
        recon, residual = handle.explain(x, batch_size=args.batch_size)
        write_explanations(Path(args.explain), x, recon, residual)
    console.print(f"{int(flags.sum())} of {len(scores)} flagged (threshold {threshold:.4g}) -> {args.output}")
    return 0


def add_anomaly_parser(sub: Any) -> None:
    p = sub.add_parser("anomaly", help="image anomaly detection: fit a detector, score images")
    cmds = p.add_subparsers(dest="anomaly_command", required=True)
    fit = add_command(cmds, "fit", cmd_fit)
    fit.add_argument("data", help="dataset name (e.g. mnist), image folder or .npz (x: N,C,H,W)")
    fit.add_argument("--out", required=True, help="run directory")
    fit.add_argument("--method", choices=METHODS, default="ganomaly")
    fit.add_argument("--normal-classes", default=None, help="comma-separated normal labels (default: all)")
    fit.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    add_run_flags(fit, "--out", "train.steps=500 (a key of preset anomaly/mnist_<method>)")
    score = add_command(cmds, "score", cmd_score)
    score.add_argument("run", help="run directory of `ganforge anomaly fit`")
    score.add_argument("input", help=".npz (x: N,C,H,W in [-1, 1]) or a folder of images")
    score.add_argument("-o", "--output", required=True, help="CSV: index,score,is_anomaly")
    score.add_argument("--explain", default=None, help="folder for per-image residual heatmaps (PNG)")
    decision = score.add_mutually_exclusive_group()
    decision.add_argument(
        "--fpr", type=float, default=None, help="false-positive rate of the threshold (0.05)"
    )
    decision.add_argument(
        "--contamination", type=float, default=None, help="flag this share of INPUT instead"
    )
    score.add_argument("--batch-size", type=int, default=256)
    score.add_argument("--device", default="cpu")


__all__ = ["add_anomaly_parser", "cmd_fit", "cmd_score"]
