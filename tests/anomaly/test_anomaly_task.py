"""The anomaly task end to end on MNIST, with tiny detectors: it learns, its threshold holds its
false-positive rate on fresh normal images, and the commands write what they promise or fail clearly.

The easy case (normal = the 1s, anomaly = the 0s of the fixed test split) is what a short fit must
get right; the benchmark (``benchmarks/anomaly.py``) measures the hard protocol.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli.main import main
from ganforge.data.embedded import mnist_arrays
from ganforge.errors import DataError, EvalError
from ganforge.tasks import open_run, task_of
from ganforge.tasks.anomaly import CALIBRATION_FILE

QUICK = ["--set", "train.progress=false", "--set", "train.sample_every=1000", "--set", "data.batch_size=32"]
# The tiny variant's own sizes: the preset's model keys would otherwise override them.
TINY = ["--set", "model.ngf=8", "--set", "model.ndf=8", "--set", "model.z_dim=16"]


def fit(out: Path, method: str, classes: str | None, steps: int, *extra: str) -> Path:
    argv = ["anomaly", "fit", "mnist", "--out", str(out), "--method", method, *QUICK, *TINY]
    argv += ["--set", f"model.name={method}_tiny", "--set", f"train.steps={steps}", *extra]
    if classes is not None:
        argv += ["--normal-classes", classes]
    assert main(argv) == 0
    return out


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive, scores))


def ones_and_zeros() -> tuple[torch.Tensor, np.ndarray]:
    """The test split's 0s and 1s (never trained on) and whether each is an anomaly (a 0)."""
    x, y = mnist_arrays("test")
    keep = np.isin(y, [0, 1])
    return x[keep], y[keep] == 0


@pytest.fixture(scope="session")
def ones_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ganomaly_tiny fitted on the train split's 1s (150 steps), calibrated by ``anomaly fit``."""
    return fit(tmp_path_factory.mktemp("anomaly") / "ones", "ganomaly", "1", 150)


def test_the_detector_scores_held_out_anomalies_above_held_out_normals(ones_run: Path) -> None:
    x, is_zero = ones_and_zeros()
    handle = open_run(ones_run, expect="anomaly")
    assert task_of(handle.config).name == "anomaly" and handle.normal_classes == [1]
    assert auroc(handle.score(x), is_zero) > 0.9  # 150 steps: 0.9997 on this machine
    with pytest.raises(EvalError, match="no sample metric"):
        task_of(handle.config).check_evaluable(handle.config)


@pytest.mark.slow
def test_fanogan_scores_held_out_anomalies_above_held_out_normals(tmp_path: Path) -> None:
    """At the preset's widths (32): the tiny ones (8) rank the 0s *below* the 1s after 150 steps
    (their blurry reconstructions are closer to a 0's blob of ink than to a thin 1)."""
    widths = ["--set", "model.ngf=32", "--set", "model.ndf=32", "--set", "model.z_dim=100"]
    run = fit(tmp_path / "run", "fanogan", "1", 150, "--set", "objective.gan_steps=100", *widths)
    x, is_zero = ones_and_zeros()
    assert auroc(open_run(run, expect="anomaly").score(x), is_zero) > 0.8  # 0.92 on this machine


def test_the_threshold_holds_its_false_positive_rate_on_fresh_normal_images(tmp_path: Path) -> None:
    """Every digit normal: calibrated on the train split's held-out 15% (600 images), the threshold
    at FPR 0.05 flags about 5% of the 1,000 test digits, none of them seen before."""
    run = fit(tmp_path / "run", "ganomaly", None, 20)
    handle = open_run(run, expect="anomaly")
    assert handle.calibration is not None and len(handle.calibration.scores) == 600
    x, _ = mnist_arrays("test")
    for fpr in (0.05, 0.1):
        flagged = float(handle.predict(x, fpr=fpr).mean())
        assert abs(flagged - fpr) <= 0.025, (fpr, flagged)
    assert handle.threshold(0.01) > handle.threshold(0.05) > handle.threshold(0.2)


def test_scores_go_to_a_csv_with_explanations(ones_run: Path, tmp_path: Path) -> None:
    x, is_zero = ones_and_zeros()
    np.savez(tmp_path / "in.npz", x=x[:40].numpy())
    csv, explain = tmp_path / "scores.csv", tmp_path / "why"
    argv = ["anomaly", "score", str(ones_run), str(tmp_path / "in.npz"), "-o", str(csv)]
    assert main([*argv, "--explain", str(explain)]) == 0
    lines = csv.read_text().splitlines()
    assert lines[0] == "index,score,is_anomaly" and len(lines) == 41
    rows = [line.split(",") for line in lines[1:]]
    assert [int(r[0]) for r in rows] == list(range(40)) and {r[2] for r in rows} <= {"0", "1"}
    scores = np.array([float(r[1]) for r in rows])
    np.testing.assert_allclose(scores, open_run(ones_run).score(x[:40]), rtol=1e-6)
    flags = np.array([r[2] == "1" for r in rows])
    assert flags[is_zero[:40]].mean() > flags[~is_zero[:40]].mean()  # the 0s are the ones flagged
    pictures = sorted(explain.glob("*.png"))
    assert len(pictures) == 40
    with Image.open(pictures[0]) as picture:
        assert picture.size == (3 * 32 * 4, 32 * 4)  # input | reconstruction | heatmap, enlarged
    assert main([*argv, "--contamination", "0.25"]) == 0
    assert sum(line.endswith(",1") for line in csv.read_text().splitlines()) == 10


def test_a_folder_of_images_is_scored_in_file_order(ones_run: Path, tmp_path: Path) -> None:
    x, _ = ones_and_zeros()
    folder = tmp_path / "digits"
    folder.mkdir()
    for i in range(3):  # 28x28 like the MNIST files: resized as the training data were
        pixels = ((x[i, 0, 2:30, 2:30].numpy() + 1) * 127.5).round().astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")
    csv = tmp_path / "s.csv"
    assert main(["anomaly", "score", str(ones_run), str(folder), "-o", str(csv)]) == 0
    assert len(csv.read_text().splitlines()) == 4


def test_calibration_is_saved_with_the_run_and_reused(ones_run: Path) -> None:
    saved = (ones_run / CALIBRATION_FILE).read_text()
    handle = open_run(ones_run, expect="anomaly")
    assert handle.calibration is not None and handle.calibration.checkpoint == handle.checkpoint.stem
    assert handle.threshold(0.05) == handle.calibration.threshold(0.05)
    assert (ones_run / CALIBRATION_FILE).read_text() == saved  # read, not recomputed


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d / "missing.npz", "does not exist"),
        (lambda d: np.savez(d / "small.npz", x=np.zeros((2, 1, 28, 28), np.float32)) or d / "small.npz",
         "takes 1x32x32 images"),
        (lambda d: np.savez(d / "big.npz", x=np.full((2, 1, 32, 32), 3.0, np.float32)) or d / "big.npz",
         r"\[-1, 1\]"),
        (lambda d: np.savez(d / "nox.npz", images=np.zeros(2)) or d / "nox.npz", "no array 'x'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_sentence_and_status_2(ones_run, tmp_path, cli, make, needle) -> None:
    rc, _, err = cli("anomaly", "score", ones_run, make(tmp_path), "-o", tmp_path / "s.csv")
    assert rc == 2 and "Traceback" not in err
    assert re.search(needle, err), err


def test_no_normal_data_is_a_clear_error(cli, tmp_path) -> None:
    rc, _, err = cli("anomaly", "fit", "mnist", "--out", tmp_path / "run", "--normal-classes", "12")
    assert rc == 2 and "no normal data" in err and not (tmp_path / "run").exists()
    rc, _, err = cli("anomaly", "fit", tmp_path / "nowhere.npz", "--out", tmp_path / "run")
    assert rc == 2 and "does not exist" in err


def test_the_handle_refuses_images_of_another_size(ones_run: Path) -> None:
    with pytest.raises(DataError, match="takes 1x32x32"):
        open_run(ones_run, expect="anomaly").score(torch.zeros(2, 3, 32, 32))


def test_exports_say_a_detector_is_opened_from_its_run(ones_run: Path, tmp_path: Path, cli) -> None:
    rc, _, err = cli("export", ones_run, "-o", tmp_path / "d.onnx")
    assert rc == 2 and "no ONNX/TorchScript export" in err
    assert cli("export", ones_run, "-o", tmp_path / "d.safetensors")[0] == 0
    rc, _, err = cli(
        "anomaly", "score", tmp_path / "d.safetensors", tmp_path / "x.npz", "-o", tmp_path / "s.csv"
    )
    assert rc == 2 and "opened from its run directory" in err
