"""TabularGAN end to end: it learns a joint distribution, honours conditions, keeps the schema,
saves and loads without pickle, stops early, and turns bad input into one clear error."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from tabular_helpers import TINY, correlated_table, mixed_table

from ganforge.errors import CheckpointError, ConfigError, DataError
from ganforge.tabular import TabularGAN


@pytest.fixture(scope="module")
def correlated() -> pd.DataFrame:
    return correlated_table()


@pytest.fixture(scope="module")
def model(correlated: pd.DataFrame) -> TabularGAN:
    """600 steps of a narrow CTGAN at a 5x learning rate: a few CPU seconds, enough to learn the
    group shift well and the x ~ y correlation roughly (CTGAN learns continuous pairs slowly)."""
    fast = {"generator_lr": 1e-3, "discriminator_lr": 1e-3}
    return TabularGAN(epochs=60, batch_size=100, patience=None, **fast, **TINY).fit(correlated)


def test_fit_reproduces_a_correlation_that_independent_columns_lose(correlated, model):
    synthetic = model.sample(3000, seed=0)
    real_rho = correlated["x"].corr(correlated["y"])
    rng = np.random.default_rng(0)
    shuffled = pd.DataFrame({c: rng.permutation(correlated[c].to_numpy()) for c in correlated})
    baseline_error = abs(shuffled["x"].corr(shuffled["y"]) - real_rho)
    error = abs(synthetic["x"].corr(synthetic["y"]) - real_rho)
    assert real_rho > 0.9 and error < 0.7 * baseline_error
    # ... and the discrete column's effect: group b sits ~3 higher, as in the data
    gap = synthetic.groupby("group")["x"].mean()
    assert 1.5 < gap["b"] - gap["a"] < 4.5


def test_auto_detection_and_the_schema_of_samples(correlated, model):
    assert model.discrete_columns == ["group"]
    synthetic = model.sample(10, seed=1)
    assert list(synthetic.columns) == ["x", "y", "group"]
    assert synthetic.dtypes.equals(correlated.dtypes)
    assert len(model.sample(0, seed=0)) == 0


def test_conditions_are_honoured_exactly(model):
    rows = model.sample(200, conditions={"group": "b"}, seed=0)
    assert len(rows) == 200 and (rows["group"] == "b").all()
    assert rows["x"].mean() > 1.5  # the generator was steered, not merely filtered: b's rows sit high
    with pytest.raises(
        DataError, match=r"value 'c' never occurs in column 'group'; known values: \['a', 'b'\]"
    ):
        model.sample(5, conditions={"group": "c"})
    with pytest.raises(ConfigError, match="'x' is continuous"):
        model.sample(5, conditions={"x": 1.0})
    with pytest.raises(DataError, match="'colour', which is not a column"):
        model.sample(5, conditions={"colour": "red"})


def test_same_seed_same_rows_and_save_load_keeps_them(model, tmp_path: Path):
    a = model.sample(300, seed=7)
    pd.testing.assert_frame_equal(a, model.sample(300, seed=7))
    assert not a.equals(model.sample(300, seed=8))
    path = model.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["generator.safetensors", "model.json"]
    meta = json.loads((path / "model.json").read_text())
    assert meta["transformer"]["columns"][0]["means"]  # GMM parameters as JSON arrays
    loaded = TabularGAN.load(path)
    pd.testing.assert_frame_equal(loaded.sample(300, seed=7), a)
    pd.testing.assert_frame_equal(
        loaded.sample(50, conditions={"group": "a"}, seed=3),
        model.sample(50, conditions={"group": "a"}, seed=3),
    )


def test_load_of_a_damaged_or_foreign_directory_is_one_clear_error(model, tmp_path: Path):
    with pytest.raises(CheckpointError, match="not a saved TabularGAN"):
        TabularGAN.load(tmp_path)
    path = model.save(tmp_path / "m")
    (path / "generator.safetensors").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="corrupt"):
        TabularGAN.load(path)


def test_mixed_types_missing_values_and_a_tail_value_condition():
    frame = mixed_table(n=300)
    frame["city"] = [f"c{i % 40}" for i in range(len(frame))]  # 40 values, only 8 kept
    model = TabularGAN(epochs=2, batch_size=100, max_categories=8, patience=None, **TINY).fit(frame)
    synthetic = model.sample(400, seed=0)
    assert synthetic.dtypes.equals(frame.dtypes)
    assert set(synthetic["city"]) <= set(frame["city"])
    assert synthetic["grade"].cat.categories.tolist() == ["c", "b", "a", "z"]
    assert synthetic["stamp"].between(frame["stamp"].min(), frame["stamp"].max()).all()
    rare = model.sample(20, conditions={"city": "c39", "flag": True}, seed=0)  # 'c39' is in the tail
    assert (rare["city"] == "c39").all() and rare["flag"].all()
    missing = model.sample(10, conditions={"colour": None}, seed=0)
    assert missing["colour"].isna().all()


def test_early_stopping_ends_training_and_keeps_the_best_epoch(correlated):
    model = TabularGAN(epochs=200, batch_size=100, patience=2, eval_every=1, **TINY).fit(correlated)
    info = model.training
    assert info["stopped_early"] and "did not improve for 2 evaluations" in info["stopped_early"]
    assert info["epochs_run"] < 200 and info["validation_rows"] == 100
    scores = [h["fidelity"] for h in info["history"] if "fidelity" in h]
    assert info["best_fidelity"] == max(scores) and scores[info["best_epoch"] - 1] == max(scores)


def test_fit_is_deterministic_and_leaves_the_global_rng_alone(correlated):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    np_before, py_before = np.random.get_state()[1].copy(), random.getstate()
    model = TabularGAN(epochs=1, batch_size=100, patience=None, **TINY)
    a = model.fit(correlated, overrides=["train.deterministic=true"]).sample(50, seed=0)
    assert torch.equal(torch.get_rng_state(), before)  # the run seeded and set all of these ...
    assert (np.random.get_state()[1] == np_before).all() and random.getstate() == py_before
    assert not torch.are_deterministic_algorithms_enabled()  # ... and the caller gets them back
    b = TabularGAN(epochs=1, batch_size=100, patience=None, **TINY).fit(correlated).sample(50, seed=0)
    pd.testing.assert_frame_equal(a, b)


def test_high_cardinality_ids_fit_with_a_bounded_network():
    n = 50_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": [f"id{i:05d}" for i in range(n)], "x": rng.normal(size=n)})
    model = TabularGAN(epochs=1, batch_size=500, max_categories=50, patience=None, **TINY)
    model.fit(frame.iloc[:n], discrete_columns=["id"])
    assert model.generator is not None and model.generator.out.out_features <= 50 + 11
    weights = sum(p.numel() for p in model.generator.parameters())
    assert weights < 100_000  # independent of the 50,000 distinct ids
    synthetic = model.sample(1000, seed=0)
    assert model.transformer is not None
    kept = set(model.transformer.columns[0].categories)
    assert synthetic["id"].isin(set(frame["id"])).all()  # real ids only, ...
    assert (~synthetic["id"].isin(kept)).any()  # ... some drawn from the 'other' tail


@pytest.mark.parametrize(
    ("frame", "discrete", "error", "match"),
    [
        (pd.DataFrame(), None, DataError, "table is empty"),
        (pd.DataFrame({"a": []}), None, DataError, "table is empty"),
        (pd.DataFrame({"a": [1.0, 2.0], "b": [np.nan, np.nan]}), None, DataError, "'b' has no values"),
        (pd.DataFrame({"a": [1.0, 2.0]}), ["nope"], ConfigError, "discrete column 'nope' is not a column"),
        ([[1, 2]], None, DataError, "expects a pandas DataFrame"),
    ],
)
def test_bad_input_is_one_clear_error(frame, discrete, error, match):
    with pytest.raises(error, match=match):
        TabularGAN(epochs=1, **TINY).fit(frame, discrete)


def test_bad_settings_and_unfitted_use_are_clear_errors(correlated):
    # the constructor only stores its arguments (scikit-learn's contract): fit checks them
    with pytest.raises(ConfigError, match="'batch_size' \\(505\\) must be divisible by 'pac' \\(10\\)"):
        TabularGAN(batch_size=505).fit(correlated)
    with pytest.raises(ConfigError, match="'epochs' must be a positive integer"):
        TabularGAN(epochs=0).fit(correlated)
    with pytest.raises(ConfigError, match="not fitted yet"):
        TabularGAN().sample(5)
