"""TabularGAN and Imputer as scikit-learn estimators: clone, get/set_params and repr work, arrays go
in (and come back out), and an Imputer saves and loads (safetensors + JSON) with identical output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from tabular_helpers import TINY, holed_table

from ganforge.errors import CheckpointError, ConfigError, InputError
from ganforge.tabular import Imputer, TabularGAN

FAST_GAN = {**TINY, "epochs": 2, "batch_size": 50, "patience": None, "device": "cpu"}


def holed_array(n: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    x[rng.random(x.shape) < 0.2] = np.nan
    return x


@pytest.mark.parametrize(
    "estimator",
    [TabularGAN(epochs=3, generator_dims=(64, 32), patience=None), Imputer(iterations=7, seed=2, hidden=8)],
    ids=["TabularGAN", "Imputer"],
)
def test_params_round_trip_and_repr_is_sklearn_like(estimator):
    params = estimator.get_params()
    assert vars(estimator) == params  # the constructor stored its arguments, and nothing else
    twin = clone(estimator)
    assert twin is not estimator and twin.get_params() == params
    assert estimator.set_params(**params) is estimator and estimator.get_params() == params
    estimator.set_params(seed=11)
    assert estimator.seed == 11 and twin.seed == params["seed"]
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        estimator.set_params(nope=1)
    assert (
        repr(twin)
        == {
            "TabularGAN": "TabularGAN(epochs=3, generator_dims=(64, 32), patience=None)",
            "Imputer": "Imputer(hidden=8, iterations=7, seed=2)",
        }[type(twin).__name__]
    )


def test_clone_of_a_fitted_imputer_is_unfitted_with_equal_params():
    imputer = Imputer(iterations=5, hidden=8, discrete_columns=["rating"]).fit(holed_table())
    check_is_fitted(imputer)
    twin = clone(imputer)
    assert twin.get_params() == imputer.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(twin)
    with pytest.raises(ConfigError, match="before transform"):  # ganforge's error, and sklearn's
        twin.transform(holed_table())
    pd.testing.assert_frame_equal(twin.fit_transform(holed_table()), imputer.transform(holed_table()))


def test_clone_of_a_fitted_tabular_gan_is_unfitted_with_equal_params():
    model = TabularGAN(**FAST_GAN).fit(holed_table().dropna())
    assert model.n_features_in_ == 4 and list(model.feature_names_in_) == ["x", "y", "rating", "kind"]
    twin = clone(model)
    assert twin.get_params() == model.get_params() and twin.handle is None and twin.training == {}
    with pytest.raises(NotFittedError, match="not fitted yet"):
        twin.sample(3)


def test_imputer_takes_arrays_and_gives_arrays_back():
    x = holed_array()
    out = Imputer(iterations=10, hidden=8, seed=1).fit_transform(x)
    assert isinstance(out, np.ndarray) and out.dtype == x.dtype and out.shape == x.shape
    observed = ~np.isnan(x)
    assert np.array_equal(out[observed], x[observed]) and not np.isnan(out).any()
    frame = pd.DataFrame(x, columns=["x0", "x1", "x2"])  # an array is the frame of columns x0, x1, ...
    imputer = Imputer(iterations=10, hidden=8, seed=1).fit(frame)
    assert np.array_equal(imputer.transform(frame).to_numpy(), out)
    assert np.array_equal(imputer.transform(x), out)  # a frame-fitted imputer takes arrays by position
    assert list(imputer.get_feature_names_out()) == ["x0", "x1", "x2"]
    with pytest.raises(InputError, match="X has 2 features, but Imputer is expecting 3"):
        imputer.transform(x[:, :2])
    with pytest.raises(ValueError, match="Reshape your data"):
        imputer.transform(x[0])


def test_array_discrete_columns_by_position_or_name():
    rng = np.random.default_rng(3)
    x = np.c_[rng.normal(size=60), rng.integers(1, 4, size=60)].astype(float)
    x[rng.random(x.shape) < 0.2] = np.nan
    by_position = Imputer(iterations=5, hidden=8, discrete_columns=[1]).fit(x)
    assert [c.kind for c in by_position.codec.columns] == ["continuous", "categorical"]
    by_name = Imputer(iterations=5, hidden=8).fit(x, discrete_columns=["x1"])
    assert np.array_equal(by_name.transform(x), by_position.transform(x))


def test_tabular_gan_takes_arrays_and_samples_arrays(tmp_path: Path):
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(size=(100, 2)), rng.integers(0, 3, size=100)]
    model = TabularGAN(**FAST_GAN).fit(x, discrete_columns=[2])
    rows = model.sample(20, conditions={"x2": 1.0}, seed=0)
    assert isinstance(rows, np.ndarray) and rows.dtype == x.dtype and rows.shape == (20, 3)
    assert (rows[:, 2] == 1.0).all() and model.discrete_columns == ["x2"]
    assert model.n_features_in_ == 3 and not hasattr(model, "feature_names_in_")
    loaded = TabularGAN.load(model.save(tmp_path / "m"))
    assert np.array_equal(loaded.sample(20, conditions={"x2": 1.0}, seed=0), rows)


@pytest.fixture(scope="module")
def fitted_imputer() -> Imputer:
    return Imputer(iterations=20, hidden=8, seed=4, discrete_columns=["rating"]).fit(holed_table())


def test_imputer_save_load_gives_identical_imputations(fitted_imputer, tmp_path: Path):
    path = fitted_imputer.save(tmp_path / "imputer")
    assert sorted(p.name for p in path.iterdir()) == ["generator.safetensors", "imputer.json"]
    meta = json.loads((path / "imputer.json").read_text())  # plain JSON: loading runs no code
    assert meta["format"] == "ganforge.imputer/1" and meta["params"]["discrete_columns"] == ["rating"]
    loaded = Imputer.load(path)
    assert repr(loaded) == repr(fitted_imputer) and loaded.get_params() == fitted_imputer.get_params()
    assert loaded.history == fitted_imputer.history and list(loaded.feature_names_in_) == list(
        fitted_imputer.feature_names_in_
    )
    for table in (holed_table(), holed_table(30, seed=9)):  # the training rows and new ones
        pd.testing.assert_frame_equal(loaded.transform(table), fitted_imputer.transform(table))


def test_an_array_fitted_imputer_saves_and_loads(tmp_path: Path):
    x = holed_array(40)
    imputer = Imputer(iterations=5, hidden=8).fit(x)
    loaded = Imputer.load(imputer.save(tmp_path / "a"))
    assert np.array_equal(loaded.transform(x), imputer.transform(x))
    assert not hasattr(loaded, "feature_names_in_") and loaded.n_features_in_ == 3


def test_imputer_load_refuses_what_is_not_a_saved_imputer(fitted_imputer, tmp_path: Path):
    with pytest.raises(CheckpointError, match="not a saved Imputer"):
        Imputer.load(tmp_path)
    with pytest.raises(ConfigError, match="not fitted yet"):
        Imputer().save(tmp_path / "unfitted")
    meta = json.loads((fitted_imputer.save(tmp_path / "ok") / "imputer.json").read_text())

    def write_meta(**changes: object):
        return lambda p: (p / "imputer.json").write_text(json.dumps({**meta, **changes}))

    damaged = {  # what is done to a saved imputer, and the one error loading it gives
        "junk_weights": (lambda p: (p / "generator.safetensors").write_bytes(b"junk"), "corrupt"),
        "junk_json": (lambda p: (p / "imputer.json").write_text("{not json"), "corrupt"),
        "a_list": (lambda p: (p / "imputer.json").write_text("[1, 2]"), "corrupt"),
        "foreign": (write_meta(format="x/1"), "not a ganforge.imputer/1 model"),
        "no_shape": (write_meta(info={}), "does not record the data shape"),
        "no_config": (write_meta(config=3), "damaged"),
        "bad_param": (write_meta(params={**meta["params"], "nope": 1}), "damaged"),
    }
    for name, (damage, match) in damaged.items():
        broken = fitted_imputer.save(tmp_path / name)
        damage(broken)
        with pytest.raises(CheckpointError, match=match):
            Imputer.load(broken)


def test_imputer_load_opens_an_imputation_run(tmp_path: Path):
    table = holed_table()
    imputer = Imputer(iterations=5, hidden=8, run_dir=tmp_path / "run").fit(table)
    reopened = Imputer.load(tmp_path / "run")
    pd.testing.assert_frame_equal(reopened.transform(table), imputer.transform(table))
    assert reopened.history == imputer.history and reopened.n_features_in_ == 4
