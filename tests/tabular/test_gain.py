"""GAIN imputation: beats mean imputation on correlated data, the hint reveals what it should,
observed cells come back bit for bit, categories stay valid, and it trains through the one Trainer."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from ganforge.errors import ConfigError, DataError
from ganforge.registry import OBJECTIVES
from ganforge.tabular.gain import Imputer
from ganforge.tabular.gain_objective import GainObjective, hint


def correlated_table(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Six columns driven by two latent factors: every column is predictable from the others."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    x = z @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(n, 6))
    return pd.DataFrame(x, columns=[f"c{i}" for i in range(6)])


def mcar(df: pd.DataFrame, rate: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    holes = np.random.default_rng(seed).random(df.shape) < rate
    return df.mask(holes), holes


def normalised_rmse(imputed: pd.DataFrame, truth: pd.DataFrame, holes: np.ndarray) -> float:
    lo, span = truth.min(), truth.max() - truth.min()
    diff = ((imputed - lo) / span - (truth - lo) / span).to_numpy()
    return float(np.sqrt((diff[holes] ** 2).mean()))


def mixed_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    species = rng.choice(["adelie", "gentoo", "chinstrap"], size=n)
    size = np.where(species == "gentoo", 5.0, 3.5) + 0.3 * rng.normal(size=n)
    return pd.DataFrame(
        {
            "species": pd.Series(species, dtype=str),
            "mass": size * 1000 + 0.1,  # not whole numbers
            "flipper": np.round(size * 40.0),  # whole numbers in a float column: rounded on output
            "rating": rng.integers(1, 6, size=n),  # integer-coded category (declared discrete)
            "odd": 0.1 + 0.2 * rng.normal(size=n),  # floats whose bits must survive untouched
        }
    )


def test_gain_beats_mean_imputation_on_correlated_data():
    truth = correlated_table()
    holed, holes = mcar(truth, 0.2, seed=1)
    mean_rmse = normalised_rmse(holed.fillna(holed.mean()), truth, holes)
    imputer = Imputer(iterations=600, seed=0)
    gain_rmse = normalised_rmse(imputer.fit_transform(holed), truth, holes)
    assert gain_rmse < 0.7 * mean_rmse, (gain_rmse, mean_rmse)
    first, last = imputer.history[0], imputer.history[-1]  # the Trainer's logged windows
    assert last["step"] == 600 and last["loss_rec"] < 0.5 * first["loss_rec"]


def test_hint_reveals_the_mask_at_the_hint_rate():
    torch.manual_seed(0)
    mask = (torch.rand(400, 250) < 0.8).float()
    h, b = hint(mask, 0.9)
    revealed = h != 0.5
    assert torch.equal(revealed, b == 1)
    assert revealed.float().mean().item() == pytest.approx(0.9, abs=0.005)
    assert torch.equal(h[revealed], mask[revealed])  # a revealed cell shows its true mask bit
    assert torch.equal(hint(mask, 1.0)[0], mask)
    assert torch.all(hint(mask, 0.0)[0] == 0.5)


def test_discriminator_loss_counts_only_hidden_cells():
    imputer = Imputer(iterations=1, seed=0).fit(correlated_table(64))
    obj = imputer.objective
    batch = {"x": torch.cat([torch.rand(32, 6), torch.ones(32, 6)], dim=1)}  # everything observed
    obj.hint_rate = 1.0  # every cell revealed: no hidden cell, so D learns nothing
    assert obj.step("D", batch)["loss"].item() == 0.0
    obj.hint_rate = 0.0
    assert obj.step("D", batch)["loss"].item() > 0.0


def test_observed_cells_are_unchanged_and_categories_valid():
    truth = mixed_table()
    holed, holes = mcar(truth, 0.2, seed=2)
    out = Imputer(iterations=200, seed=0).fit_transform(holed, discrete_columns=["rating"])
    assert not out.isna().any().any()
    assert (out.dtypes == holed.dtypes).all()  # "rating" became float when holes were punched
    for j, col in enumerate(truth.columns):
        kept = ~holes[:, j]
        assert np.array_equal(out[col].to_numpy()[kept], holed[col].to_numpy()[kept]), col
    assert set(out["species"]) <= {"adelie", "gentoo", "chinstrap"}
    assert set(out["rating"]) <= set(truth["rating"])
    filled = out["flipper"].to_numpy()[holes[:, 2]]
    assert np.array_equal(filled, np.round(filled))
    assert filled.min() >= holed["flipper"].min() and filled.max() <= holed["flipper"].max()


def test_categorical_imputation_learns_from_other_columns():
    truth = mixed_table(600)
    holed, holes = mcar(truth, 0.2, seed=3)
    out = Imputer(iterations=600, seed=0).fit_transform(holed, discrete_columns=["rating"])
    hit = (out["species"] == truth["species"]).to_numpy()[holes[:, 0]].mean()
    majority = truth["species"].value_counts(normalize=True).max()
    assert hit > majority + 0.1  # mass says gentoo or not: better than guessing the mode


def test_seeded_runs_repeat_and_leave_the_global_rng_alone():
    holed, _ = mcar(correlated_table(200), 0.2, seed=4)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = Imputer(iterations=30, seed=5).fit_transform(holed)
    assert torch.equal(torch.get_rng_state(), before)
    b = Imputer(iterations=30, seed=5).fit_transform(holed)
    c = Imputer(iterations=30, seed=6).fit_transform(holed)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_epochs_set_the_number_of_steps_and_fit_transform_splits():
    data = correlated_table(300)
    holed, _ = mcar(data, 0.2, seed=5)
    imputer = Imputer(epochs=2, batch_size=64, seed=0).fit(holed)
    assert imputer.history[-1]["step"] == math.ceil(2 * 300 / 64)
    other, _ = mcar(correlated_table(50, seed=9), 0.3, seed=6)
    assert not imputer.transform(other).isna().any().any()  # a fitted imputer fills new rows too
    assert isinstance(imputer.objective, GainObjective) and "gain" in OBJECTIVES


def test_user_errors():
    df = correlated_table(40)
    with pytest.raises(DataError, match="column 'c0' has no observed values"):
        Imputer(iterations=1).fit(df.assign(c0=np.nan))
    with pytest.raises(DataError, match="missing \\['c5'\\]"):
        Imputer(iterations=1).fit(df).transform(df.drop(columns="c5"))
    with pytest.raises(DataError, match="at least one row"):
        Imputer(iterations=1).fit(df.iloc[:0])
    with pytest.raises(DataError, match="lacks"):
        Imputer(iterations=1).fit(df, discrete_columns=["nope"])
    with pytest.raises(ConfigError, match="before transform"):
        Imputer().transform(df)
    # the constructor only stores its arguments (scikit-learn's contract): fit checks them
    with pytest.raises(ConfigError, match="not both"):
        Imputer(iterations=10, epochs=1).fit(df)
    with pytest.raises(ConfigError, match="hint_rate"):
        Imputer(hint_rate=1.5).fit(df)
    with pytest.raises(ConfigError, match="positive integer"):
        Imputer(iterations=0).fit(df)
