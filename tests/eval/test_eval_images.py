"""Image metrics through ``ganforge eval``: the JSON contract, the record, the real-feature cache,
the real-vs-real yardstick, and StackedMNIST's mode count checked on real stacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import ganforge
from ganforge.cli.main import main
from ganforge.config import load_config
from ganforge.data import build_dataset
from ganforge.data.embedded import mnist_arrays
from ganforge.errors import EvalError
from ganforge.evaluation import evaluate, score_samples
from ganforge.evaluation.reference import reference_path
from ganforge.metrics.features import create_extractor

IMAGE_KEYS = {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "is", "is_std"}


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dcgan_tiny on the MNIST train split, 5 steps: far from the data. Read-only."""
    cfg = {
        "model": {"name": "dcgan_tiny"},
        "data": {"name": "mnist", "split": "train", "batch_size": 16},
        "train": {"steps": 5, "progress": False},
    }
    return ganforge.train(cfg, out=tmp_path_factory.mktemp("mnist") / "run").path


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_json_holds_every_image_metric_and_the_record_names_the_extractor(mnist_run, capsys):
    rc = main(["eval", str(mnist_run), "--metrics", "fid,kid,pr,dc,is", "--n", "300", "--json"])
    out = capsys.readouterr().out
    assert rc == 0 and len(out.strip().splitlines()) == 1
    values = json.loads(out)
    assert set(values) == IMAGE_KEYS
    assert values["fid"] > 0 and 0 <= values["precision"] <= 1 and 1 <= values["is"] <= 10
    record = json.loads(sorted((mnist_run / "eval").glob("*.json"))[-1].read_text())
    assert record["n"] == 300 and record["dataset"]["resolution"] == 32
    fid = record["metrics"]["fid"]
    assert fid["extractor"] == "mnist-cnn"  # the dataset's default extractor
    assert fid["extractor_identity"] == create_extractor("mnist-cnn").identity


def test_real_features_are_cached_once_per_dataset_and_extractor(mnist_run, private_cache, monkeypatch):
    cfg = ganforge.rundir.read_run_config(mnist_run)
    extractor = create_extractor("mnist-cnn")
    first = evaluate(mnist_run, "fid", n=200, write=False).values
    path = reference_path(cfg, extractor)
    assert path.is_file() and path.parent.parent == private_cache
    calls = {"n": 0}
    original = type(extractor).extract

    def counting(self, x, *args, **kwargs):
        calls["n"] += 1
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(type(extractor), "extract", counting)
    assert evaluate(mnist_run, "fid", n=200, write=False).values == first  # same seed, same number
    assert calls["n"] == 1  # only the generated samples were embedded; the real ones came from disk


def test_held_out_real_digits_score_far_better_than_an_untrained_generator(mnist_run):
    cfg = ganforge.rundir.read_run_config(mnist_run)
    held_out, _ = mnist_arrays("test")
    real = score_samples(held_out[:500], cfg, "fid,pr")
    fake = evaluate(mnist_run, "fid,pr", n=500, write=False).values
    assert real["fid"] * 5 < fake["fid"]
    assert real["precision"] > 0.8 and real["recall"] > 0.8


def test_accuracy_needs_a_conditional_generator(mnist_run):
    with pytest.raises(EvalError, match="class-conditional"):
        evaluate(mnist_run, "accuracy", n=20, write=False)


def test_image_metrics_refuse_toy_runs(tiny_run):
    with pytest.raises(EvalError, match="use --metrics modes instead"):
        evaluate(tiny_run.path, "fid", write=False)


def test_stacked_modes_on_real_stacks_finds_nearly_every_mode():
    """Real StackedMNIST stacks stand in for a perfect generator: the per-channel classifier must
    recover nearly all 1,000 modes and a KL near the sampling-noise floor."""
    data = build_dataset("stacked_mnist", n=12_000, seed=7)
    cfg = load_config({"model": {"name": "dcgan_tiny"}, "data": {"name": "stacked_mnist"}})
    values = score_samples(data.x, cfg, "stacked_modes")
    assert values["modes_covered"] >= 990
    assert values["kl"] < 0.1  # 999 / (2 * 12,000) ≈ 0.04 from sampling alone
    from ganforge.evaluation.stacked import stacked_mode_ids

    ids = stacked_mode_ids(data.x[:2000], create_extractor("mnist-cnn"))
    assert data.y is not None
    assert (ids == data.y[:2000]).float().mean() > 0.95  # ~0.988³ of triples read right


def test_stacked_modes_refuses_other_datasets(mnist_run):
    with pytest.raises(EvalError, match="stacked_mnist"):
        evaluate(mnist_run, "stacked_modes", write=False)


def test_a_collapsed_stacked_generator_scores_one_mode():
    one = build_dataset("stacked_mnist", n=1, seed=3).x.expand(3000, -1, -1, -1)
    cfg = load_config({"model": {"name": "dcgan_tiny"}, "data": {"name": "stacked_mnist"}})
    values = score_samples(one.contiguous(), cfg, "stacked_modes")
    assert values["modes_covered"] == 1
    assert values["kl"] == pytest.approx(float(torch.log(torch.tensor(1000.0))), rel=1e-6)
