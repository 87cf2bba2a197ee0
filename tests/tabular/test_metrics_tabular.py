"""Tabular evaluation: each score on examples small enough to compute by hand, plus DCR, ML efficacy
and the errors a user can cause."""

import json

import numpy as np
import pandas as pd
import pytest

from ganforge.data.tables import load_table
from ganforge.errors import DataError
from ganforge.metrics.tabular import evaluate_tabular, tvd
from ganforge.report.tabular import tabular_report_html


def mixed_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "y": 2 * x + rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "code": rng.integers(1, 4, size=n),
        }
    )


def pair(result: dict, a: str, b: str) -> dict:
    return next(p for p in result["column_pair_trends"]["pairs"] if p["columns"] == [a, b])


def test_identical_frames_score_one_everywhere():
    real = mixed_frame()
    result = evaluate_tabular(real, real.copy(), ["colour", "code"])
    assert result["quality"] == pytest.approx(1.0)
    assert all(c["score"] == pytest.approx(1.0) for c in result["column_shapes"]["columns"].values())
    assert all(p["score"] == pytest.approx(1.0) for p in result["column_pair_trends"]["pairs"])
    assert len(result["column_pair_trends"]["pairs"]) == 6  # 4 columns: C(4, 2) pairs
    assert result["ml_efficacy"] is None and result["dcr"] is None
    assert set(result) == {"quality", "column_shapes", "column_pair_trends", "ml_efficacy", "dcr"}


def test_shifted_column_loses_exactly_the_ks_distance():
    real = pd.DataFrame({"a": np.arange(100.0), "b": np.arange(100.0) % 7})
    syn = real.assign(a=real["a"] + 10)  # CDFs differ by 10/100 at most: KS = 0.1
    shapes = evaluate_tabular(real, syn, [])["column_shapes"]
    assert shapes["columns"]["a"] == {"metric": "ks", "score": pytest.approx(0.9)}
    assert shapes["columns"]["b"]["score"] == pytest.approx(1.0)
    assert shapes["score"] == pytest.approx(0.95)


def test_tvd_hand_example():
    real = pd.DataFrame({"c": ["a", "a", "b", "c"]})  # p = (.5, .25, .25)
    syn = pd.DataFrame({"c": ["a", "b", "b", "b"]})  # q = (.25, .75, 0)
    result = evaluate_tabular(real, syn, ["c"])
    # TVD = ½ (|.5 − .25| + |.25 − .75| + |.25 − 0|) = 0.5; one column, no pairs: quality = shape
    assert result["column_shapes"]["columns"]["c"] == {"metric": "tvd", "score": pytest.approx(0.5)}
    assert result["column_pair_trends"]["score"] is None
    assert result["quality"] == pytest.approx(0.5)
    assert tvd({"a": 1.0}, {"b": 1.0}) == 1.0


def test_missing_cells_count_as_a_category():
    real = pd.DataFrame({"c": ["a", "a", None, None]})
    syn = pd.DataFrame({"c": ["a", "a", "a", "a"]})
    assert evaluate_tabular(real, syn, ["c"])["quality"] == pytest.approx(0.5)


def test_correlation_similarity_correlated_independent_anticorrelated():
    x = [1.0, 2.0, 3.0, 4.0]
    real = pd.DataFrame({"x": x, "y": x})  # ρ = 1
    independent = pd.DataFrame({"x": x, "y": [1.0, 4.0, 4.0, 1.0]})  # ρ = 0 exactly
    anti = pd.DataFrame({"x": x, "y": x[::-1]})  # ρ = −1
    got = pair(evaluate_tabular(real, independent, []), "x", "y")
    assert got["metric"] == "correlation"
    assert got["real"] == pytest.approx(1.0) and got["synthetic"] == pytest.approx(0.0, abs=1e-12)
    assert got["score"] == pytest.approx(0.5)  # 1 − |1 − 0| / 2
    assert pair(evaluate_tabular(real, anti, []), "x", "y")["score"] == pytest.approx(0.0)


def test_contingency_sees_broken_dependence_that_marginals_miss():
    real = pd.DataFrame({"a": ["p", "p", "q", "q"], "b": ["x", "x", "y", "y"]})
    syn = pd.DataFrame({"a": ["p", "p", "q", "q"], "b": ["y", "y", "x", "x"]})
    result = evaluate_tabular(real, syn, ["a", "b"])
    assert result["column_shapes"]["score"] == pytest.approx(1.0)  # same marginals
    assert pair(result, "a", "b") == {"columns": ["a", "b"], "metric": "contingency", "score": 0.0}
    assert result["quality"] == pytest.approx(0.5)


def test_mixed_pair_uses_quantile_bins_of_the_real_column():
    c = np.arange(10.0)  # 10 quantile bins of 0..9: one value per bin
    real = pd.DataFrame({"c": c, "d": ["a"] * 5 + ["b"] * 5})
    syn = pd.DataFrame({"c": c, "d": ["a", "b"] * 5})
    # bins 1, 3, 6, 8 change category: TVD = ½ · 4 · (0.1 + 0.1) = 0.4
    assert pair(evaluate_tabular(real, syn, ["d"]), "c", "d")["score"] == pytest.approx(0.6)
    far = syn.assign(c=syn["c"] + 100)  # beyond the real range: all in the top bin
    assert pair(evaluate_tabular(real, far, ["d"]), "c", "d")["score"] == pytest.approx(0.1)


def split3(frame: pd.DataFrame, seed: int = 0) -> list[pd.DataFrame]:
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    n = len(shuffled) // 3
    return [shuffled[:n], shuffled[n : 2 * n], shuffled[2 * n :]]


def test_dcr_flags_a_copy_of_the_training_rows_and_not_fresh_real_rows():
    frame, discrete, target = load_table("wine")
    train, other, holdout = split3(frame)
    copied = evaluate_tabular(train, train.copy(), discrete, holdout=holdout, target=target)["dcr"]
    assert copied["synthetic_to_train"] == {"median": 0.0, "p5": 0.0, "exact": 1.0}
    assert copied["share_closer"] == 1.0 and copied["flagged"] is True
    assert copied["holdout_to_train"]["median"] > 1.0
    fresh = evaluate_tabular(train, other, discrete, holdout=holdout, target=target)["dcr"]
    assert fresh["synthetic_to_train"]["median"] > 1.0
    assert fresh["share_closer"] < 0.2 and fresh["flagged"] is False


def test_ml_efficacy_real_vs_real_ratio_is_about_one_on_iris():
    frame, discrete, _ = load_table("iris")
    train, other, holdout = split3(frame, seed=1)
    result = evaluate_tabular(train, other, discrete, holdout=holdout, seed=0)  # target: last column
    eff = result["ml_efficacy"]
    assert eff["task"] == "classification" and eff["target"] == "target" and eff["metric"] == "f1_macro"
    assert eff["real"]["accuracy"] > 0.85
    assert 0.85 < eff["ratio"] < 1.15
    assert eff == evaluate_tabular(train, other, discrete, holdout=holdout, seed=0)["ml_efficacy"]
    json.dumps(result, allow_nan=False)  # JSON-able as is


def test_ml_efficacy_regression_and_useless_synthetic_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 2))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "t": x[:, 0] - x[:, 1] + 0.1 * rng.normal(size=600)})
    train, _, holdout = split3(frame)
    noise = train.assign(t=rng.permutation(train["t"].to_numpy()))  # target unrelated to features
    eff = evaluate_tabular(train, noise, [], holdout=holdout)["ml_efficacy"]
    assert eff["task"] == "regression" and eff["metric"] == "r2"
    assert eff["real"]["r2"] > 0.8 and eff["ratio"] < 0.2


@pytest.mark.parametrize(
    ("synthetic", "message"),
    [
        (lambda r: r.drop(columns="y"), "missing \\['y'\\]"),
        (lambda r: r.assign(z=1.0), "extra \\['z'\\]"),
        (lambda r: r.assign(x=r["x"].astype(str)), "column 'x' is numeric in the real data"),
        (lambda r: r.assign(code=r["code"].astype(str)), "discrete column 'code'"),
        (lambda r: r.iloc[:0], "synthetic data is empty"),
    ],
)
def test_schema_errors_are_clear(synthetic, message):
    real = mixed_frame(20)
    with pytest.raises(DataError, match=message):
        evaluate_tabular(real, synthetic(real), ["colour", "code"])


def test_user_errors_on_the_real_side():
    real = mixed_frame(20)
    with pytest.raises(DataError, match="real data is empty"):
        evaluate_tabular(real.iloc[:0], real, ["colour", "code"])
    with pytest.raises(DataError, match="list it in discrete_columns"):
        evaluate_tabular(real, real, ["code"])
    with pytest.raises(DataError, match="lacks: \\['nope'\\]"):
        evaluate_tabular(real, real, ["colour", "code", "nope"])
    with pytest.raises(DataError, match="target column 'nope'"):
        evaluate_tabular(real, real, ["colour", "code"], holdout=real, target="nope")
    with pytest.raises(DataError, match="holdout data's columns differ"):
        evaluate_tabular(real, real, ["colour", "code"], holdout=real.drop(columns="x"))


def test_report_fragment_is_self_contained():
    frame, discrete, target = load_table("penguins", dropna=True)
    train, other, holdout = split3(frame)
    result = evaluate_tabular(train, other, discrete, holdout=holdout, target=target)
    page = tabular_report_html(result, train, other, discrete)
    assert page.count('src="data:image/png;base64,') == 2  # bars + one figure of three marginals
    assert "<script" not in page and "http" not in page
    assert "ML efficacy ratio" in page and "copying" not in page
    copied = evaluate_tabular(train, train.copy(), discrete, holdout=holdout, target=target)
    assert "copying its training data" in tabular_report_html(copied, train, train, discrete)
