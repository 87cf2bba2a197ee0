"""Task ``anomaly``: images in, anomaly scores out (GANomaly, f-AnoGAN), with a calibrated threshold.

``open_run(run, expect="anomaly")`` returns an ``AnomalyHandle``:

* ``score(x)`` → (N,) scores, **higher = more anomalous**, from the network's own ``score`` (the
  task never asks which family it holds); ``explain(x)`` → the per-pixel residuals behind them.
* ``calibrate()`` scores the run's *held-out normal* images (its dataset's ``part: calibration``:
  normal images the detector never trained on) and saves them, sorted, in ``RUN/calibration.json``
  with the checkpoint they belong to. ``threshold(fpr)`` is then their (1 − fpr) quantile: a fresh
  normal image scores above it with probability ≈ fpr (the false-positive rate), whatever the
  scale of the family's score. ``predict(x, fpr=...)`` flags scores above it.

Runs of this task are scored by AUROC/AUPRC on labelled data (``benchmarks/anomaly.py``), not by a
sample metric, so ``ganforge eval`` refuses them with a sentence saying so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.data.base import resize_images
from ganforge.errors import CheckpointError, ConfigError, DataError
from ganforge.models.anomaly import AnomalyModel, Scores
from ganforge.registry import DATASETS, register_task
from ganforge.tasks.base import Graph, Handle, Task
from ganforge.tasks.views import GeneratedView, grid_uri, weights_of
from ganforge.training.build import build_networks
from ganforge.training.checkpoint import load_checkpoint, load_module_state
from ganforge.utils.io import atomic_write_json

CALIBRATION_FILE = "calibration.json"
NO_EXPORT = (
    "an anomaly detector is opened from its run directory (its critic and calibration live there;"
    " exports keep the generator only)"
)
DEFAULT_FPR = 0.05
NO_SAMPLE_METRIC = (
    "anomaly runs have no sample metric: score them by AUROC/AUPRC on labelled images"
    " (benchmarks/anomaly.py) or use `ganforge anomaly score`"
)


@dataclass
class Calibration:
    """The scores of ``n`` held-out normal images under checkpoint ``checkpoint``, sorted."""

    checkpoint: str
    scores: np.ndarray

    def threshold(self, fpr: float = DEFAULT_FPR) -> float:
        """The score above which a fraction ``fpr`` of normal images lie (the higher order
        statistic, so the calibration set's own false-positive rate is at most ``fpr``)."""
        check_fraction(fpr, "fpr")
        return float(np.quantile(self.scores, 1.0 - fpr, method="higher"))


def check_fraction(value: float, name: str) -> None:
    if not 0.0 < value < 1.0:
        raise ConfigError(f"{name} must be a fraction in (0, 1), got {value!r}")


class AnomalyHandle(Handle):
    """A trained detector: ``score(x)``, ``explain(x)``, ``calibrate()``, ``threshold(fpr)``, ``predict(x)``.

    Images are (N, C, H, W) (or one (C, H, W)) in [-1, 1] at the size the detector trained on.
    """

    generator: AnomalyModel

    def load_info(self, checkpoint: Path) -> None:
        """The critic (f-AnoGAN scores with its features) from the same checkpoint, and the
        calibration saved beside it, if it belongs to this checkpoint."""
        if not checkpoint.with_suffix(".json").is_file():  # a one-file export: G only
            raise CheckpointError(f"'{checkpoint}' is no run checkpoint: {NO_EXPORT}")
        tensors, _ = load_checkpoint(checkpoint)
        if "data_shape" not in self.info:
            raise CheckpointError(
                f"checkpoint '{checkpoint}' does not record the data shape it was trained on"
            )
        nets = build_networks(self.config, tuple(self.info["data_shape"]), 0, self.info.get("model_inputs"))
        self.critic = nets["d"]
        load_module_state(self.critic, "nets.d", tensors, checkpoint)
        self.critic.to(self.device).eval()
        self.run_dir = checkpoint.parent.parent
        self.calibration = self._saved_calibration()

    @property
    def normal_classes(self) -> list[int] | None:
        """The classes the detector was taught are normal (None: all of its training images)."""
        return (self.info.get("anomaly") or {}).get("normal_classes")

    def checked(self, x: Any) -> torch.Tensor:
        """``x`` as (N, C, H, W) float32 of the detector's size in [-1, 1], or a DataError."""
        c, h, w = self.generator.in_shape
        x = torch.as_tensor(x, dtype=torch.float32)
        x = x[None] if x.ndim == 3 else x
        if x.ndim != 4 or len(x) == 0:
            raise DataError(f"the detector takes (N, C, H, W) images, got shape {tuple(x.shape)}")
        if tuple(x.shape[1:]) != (c, h, w):
            got = f"{x.shape[1]}x{x.shape[2]}x{x.shape[3]}"
            raise DataError(f"the detector takes {c}x{h}x{w} images (C x H x W), got {got}")
        if not torch.isfinite(x).all() or x.abs().max() > 1 + 1e-3:
            raise DataError("images to score must be finite values in [-1, 1]")
        return x

    @torch.no_grad()
    def scores(self, x: Any, batch_size: int = 256) -> Scores:
        """Scores and residual maps of ``x``, in batches, on the CPU."""
        x = self.checked(x)
        parts = [
            self.generator.score(x[i : i + batch_size].to(self.device), self.critic)
            for i in range(0, len(x), max(1, batch_size))
        ]
        score = torch.cat([p.score.float().cpu() for p in parts])
        return Scores(score, torch.cat([p.residual.float().cpu() for p in parts]))

    def score(self, x: Any, batch_size: int = 256) -> np.ndarray:
        """(N,) anomaly scores, higher = more anomalous."""
        return self.scores(x, batch_size).score.double().numpy()

    @torch.no_grad()
    def explain(self, x: Any, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstructions x̂, residual maps (N, 1, H, W)): what the model made of each image and
        where it differs (squared error per pixel, mean over channels)."""
        x = self.checked(x)
        step = max(1, batch_size)
        recon = torch.cat([self.generator.reconstruct(x[i : i + step].to(self.device)).float().cpu()
                           for i in range(0, len(x), step)])  # fmt: skip
        return recon, self.scores(x, batch_size).residual

    def calibrate(self, x: Any = None) -> Calibration:
        """Score held-out normal images (default: the run's calibration part) and save the result
        in ``RUN/calibration.json`` for this checkpoint."""
        images = calibration_images(self.config, self.generator.in_shape) if x is None else x
        scores = np.sort(self.score(images))
        self.calibration = Calibration(self.checkpoint.stem, scores)
        atomic_write_json(
            self.run_dir / CALIBRATION_FILE,
            {"checkpoint": self.checkpoint.stem, "n": len(scores), "scores": scores.tolist()},
        )
        return self.calibration

    def threshold(self, fpr: float = DEFAULT_FPR) -> float:
        """The score threshold with false-positive rate ``fpr`` on held-out normal images
        (calibrating first when this checkpoint has not been)."""
        return (self.calibration or self.calibrate()).threshold(fpr)

    def predict(self, x: Any, fpr: float = DEFAULT_FPR) -> np.ndarray:
        """(N,) booleans: True where the score is above ``threshold(fpr)``."""
        return self.score(x) > self.threshold(fpr)

    def _saved_calibration(self) -> Calibration | None:
        path = self.run_dir / CALIBRATION_FILE
        if not path.is_file():
            return None
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            return None  # damaged: recalibrated when asked for a threshold
        if (
            not isinstance(saved, dict)
            or saved.get("checkpoint") != self.checkpoint.stem
            or not saved.get("scores")
        ):
            return None  # another checkpoint's: recalibrated when asked for a threshold
        return Calibration(str(saved["checkpoint"]), np.asarray(saved["scores"], dtype=np.float64))


def calibration_images(cfg: Any, in_shape: tuple[int, ...]) -> torch.Tensor:
    """The run's held-out normal images (its dataset with ``part: calibration``) at the detector's size."""
    name = cfg.data.name
    if name not in DATASETS or "part" not in DATASETS.get(name).parameters():
        raise DataError(
            f"calibration needs held-out normal images, but the run's data '{name}' has no calibration"
            " part: train on data 'normal_images', or pass normal images to calibrate"
        )
    params = {**cfg.data.params, "part": "calibration"}
    x = DATASETS.build(name, **params).x
    return resize_images(x, in_shape[-1]) if x.shape[-1] != in_shape[-1] else x


@register_task(
    "anomaly", description="images in, anomaly scores out (higher = more anomalous): GANomaly, f-AnoGAN"
)
class AnomalyTask(Task):
    """Anomaly detection: the handle scores, thresholds and explains; no sample metric applies."""

    handle_class = AnomalyHandle
    report_title = "Held-out normal images: input | reconstruction | residual"
    loader = "ganforge.tasks.open_run(RUN, expect='anomaly') (or `ganforge anomaly score`)"
    network = AnomalyModel
    no_sample_metric = NO_SAMPLE_METRIC

    def export_graph(self, handle: Any, direction: str = "AtoB", truncation: float = 1.0) -> Graph:
        raise ConfigError(f"anomaly detectors have no ONNX/TorchScript export yet: {NO_EXPORT}")

    def report_view(self, handle: AnomalyHandle, rows: int = 8) -> GeneratedView | None:
        """The first ``rows`` calibration images: input | reconstruction | residual (white = 2)."""
        x = calibration_images(handle.config, handle.generator.in_shape)[:rows]
        recon, residual = handle.explain(x)
        panels = torch.stack([x, recon, (residual.sqrt() - 1).expand_as(x)], dim=1).flatten(0, 1)
        caption = (
            f"{len(x)} held-out normal images; {weights_of(handle)} networks of {handle.checkpoint.stem}."
        )
        return GeneratedView("anomaly", grid_uri(panels, nrow=3), caption)
