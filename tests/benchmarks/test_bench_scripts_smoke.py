"""The benchmark scripts' bookkeeping: splits that never leak, imbalance as asked, honest aggregation.

Why: a benchmark that leaks holdout rows into training, or pairs the wrong seeds, prints confident
numbers that mean nothing, and nobody reruns a 30-minute benchmark to find out. The full runs are not
tests (they report numbers); these check the pieces their numbers rest on, in a few seconds.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import augmentation
import restoration
import tabular_vs_ctgan


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.normal(size=n),
            "c": rng.choice(["a", "b"], n),
            "y": np.where(np.arange(n) < n // 3, "rare", "common"),
        }
    )


def test_ctgan_split_is_disjoint_complete_and_seeded():
    frame = _frame()
    train, hold = tabular_vs_ctgan.split(frame, seed=3)
    assert len(hold) == 40 and len(train) == 160
    assert set(train["id"]).isdisjoint(hold["id"])
    assert set(train["id"]) | set(hold["id"]) == set(frame["id"])
    again, _ = tabular_vs_ctgan.split(frame, seed=3)
    other, _ = tabular_vs_ctgan.split(frame, seed=4)
    assert again["id"].tolist() == train["id"].tolist() != other["id"].tolist()


def test_ctgan_aggregate_means_numbers_and_keeps_labels():
    runs = [{"fit_s": 1.0, "metric": "r2", "ratio": None}, {"fit_s": 3.0, "metric": "r2", "ratio": 0.5}]
    out = tabular_vs_ctgan.aggregate(runs)
    assert out["fit_s"] == [2.0, pytest.approx(1.4142, abs=1e-4)]
    assert out["metric"] == "r2"
    assert out["ratio"] == [0.5, 0.0]  # a seed where the ratio is undefined does not count as 0


def test_ctgan_child_threads_are_capped():
    env = tabular_vs_ctgan.thread_env(2)
    assert all(env[k] == "2" for k in tabular_vs_ctgan.THREAD_ENV)


def test_imbalanced_split_has_the_asked_share_and_an_untouched_test():
    frame = _frame(600)
    train, test = augmentation.imbalanced_split(frame, "y", "rare", share=0.1, seed=0)
    assert set(train["id"]).isdisjoint(test["id"])
    assert (train["y"] == "rare").mean() == pytest.approx(0.1, abs=0.01)
    assert len(test) == 180 and (test["y"] == "rare").mean() == pytest.approx(1 / 3, abs=0.01)


def test_summarise_pairs_seeds():
    out = augmentation.summarise({"real": [0.5, 0.7], "gan": [0.6, 0.8]}, "real")
    assert out["gan"]["delta_vs_real"] == [0.1, 0.0]  # paired: the same +0.1 on both seeds
    assert "delta_vs_real" not in out["real"]


def test_few_shot_digits_are_balanced_train_digits():
    x, y = augmentation.few_shot_digits(3, seed=0)
    assert x.shape == (30, 1, 32, 32) and np.bincount(y).tolist() == [3] * 10


def test_shift_moves_digits_and_fills_with_background():
    x = torch.full((4, 1, 32, 32), -1.0)
    x[:, :, 14:18, 14:18] = 1.0
    out = augmentation.shift(x, torch.Generator().manual_seed(0), max_shift=2)
    assert out.min() == -1.0 and out.max() == 1.0
    assert ((out == 1.0).sum(dim=(1, 2, 3)) == 16).all()  # a shift of <= 2 px keeps the blob inside


def test_smote_balances_with_valid_categories():
    frame = _frame(300)
    train, _ = augmentation.imbalanced_split(frame.drop(columns="id"), "y", "rare", 0.1, seed=0)
    out = augmentation.smote_rows(train, ["x", "c"], ["c"], "y", seed=0)
    counts = out["y"].value_counts()
    assert counts["rare"] == counts["common"]
    assert set(out["c"]) <= {"a", "b"}  # SMOTE-NC: discrete features are never interpolated


@pytest.mark.skipif(not os.environ.get("GANFORGE_CTGAN_PYTHON"), reason="needs a python with ctgan")
def test_ctgan_driver_round_trip(tmp_path):
    frame = _frame(120).drop(columns="id")
    syn, facts = tabular_vs_ctgan.fit_ctgan(
        os.environ["GANFORGE_CTGAN_PYTHON"], frame, ["c", "y"], 0, 1, "cpu", 1, False, tmp_path
    )
    assert list(syn.columns) == list(frame.columns) and len(syn) == len(frame)
    assert facts["fit_s"] > 0 and facts["epochs"] == 1


def test_restoration_baselines_and_scores_on_known_answers():
    """The restoration table's baselines and scores: the truth scores perfectly, biharmonic fills a
    hole from its border, mean fill only touches the hole, bicubic keeps a constant image constant."""
    from ganforge.data.degrade import center_mask
    from ganforge.data.embedded import mnist_arrays
    from ganforge.metrics.features import create_extractor
    from ganforge.tasks.translation import HeldOutPairs

    x = mnist_arrays("test")[0][:32]
    y = torch.as_tensor(mnist_arrays("test")[1][:32])
    mask = center_mask(32, 12).expand(32, 1, 32, 32).clone()
    pairs = HeldOutPairs(a=torch.where(mask > 0.5, 0.0, x), x=x, y=y, conditions={"mask": mask})
    extractors = {name: create_extractor(name) for name in (restoration.JUDGE, restoration.FEATURES)}
    extractors["real_features"] = extractors[restoration.FEATURES].extract(x)["features"]
    extractors["real_judge_features"] = extractors[restoration.JUDGE].extract(x)["features"]
    truth = restoration.score(x, pairs, extractors)
    assert truth["psnr"] > 100 and truth["ssim"] == pytest.approx(1.0) and truth["identity"] > 0.9
    assert abs(truth["fid_judge"]) < 1e-3 and abs(truth["fid"]) < 1e-3  # real vs itself
    filled = restoration.biharmonic(pairs)
    assert torch.equal(filled[mask.expand_as(x) < 0.5], x[mask.expand_as(x) < 0.5])
    assert (
        restoration.score(filled, pairs, extractors)["psnr"]
        > restoration.score(pairs.a, pairs, extractors)["psnr"]
    )
    mean = restoration.mean_fill(pairs)
    assert torch.equal(mean[mask.expand_as(x) < 0.5], x[mask.expand_as(x) < 0.5])
    flat = HeldOutPairs(a=torch.full((2, 1, 8, 8), 0.25), x=torch.full((2, 1, 32, 32), 0.25), y=None)
    assert torch.allclose(restoration.bicubic(flat), flat.x)


def test_anomaly_classic_scores_rank_outliers_high_and_goals_read_the_means():
    """Every classic detector's score is oriented like the GAN scores (higher = more anomalous),
    and the goals compare the right means (a benchmark whose sign is flipped reports 1 - AUROC)."""
    import anomaly

    rng = np.random.default_rng(0)
    normal, test = rng.normal(size=(300, 60)), rng.normal(size=(40, 60))
    test[:20] += 6.0  # the first 20 are far from every normal point
    is_anomaly = np.arange(40) < 20
    for name, scores in anomaly.classic_scores(normal, test, seed=0).items():
        assert anomaly.metrics(scores, is_anomaly)["auroc"] > 0.95, name
    row = {m: {"auroc": a, "auprc": 0.5} for m, a in (("iforest", 0.7), ("ocsvm", 0.6), ("lof", 0.8))}
    per_digit = {
        0: {**row, "ganomaly": {"auroc": 0.9, "auprc": 0.5}, "ae_ablation": {"auroc": 0.85, "auprc": 0.5}}
    }
    goals = anomaly.summary(per_digit)["goals"]
    assert goals["ganomaly"] == {
        "mean_auroc>=0.85": True,
        "min_auroc>=0.6": True,
        "above_every_classic_mean": True,
    }
    assert goals["ganomaly_beats_ablation"] is True
