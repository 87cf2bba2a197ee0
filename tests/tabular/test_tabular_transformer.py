"""The table transformer: exact round trips for every column type, mode-specific normalisation,
bounded width for high-cardinality columns, a JSON-only fitted state, the auto-detection rule."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from tabular_helpers import mixed_table

from ganforge.errors import DataError
from ganforge.tabular.transformer import (
    ContinuousColumn,
    DiscreteColumn,
    TableTransformer,
    is_auto_discrete,
)

DISCRETE = ["colour", "grade", "flag", "rating"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return mixed_table()


@pytest.fixture(scope="module")
def fitted(table: pd.DataFrame) -> TableTransformer:
    return TableTransformer.fit(table, DISCRETE, seed=0)


def test_inverse_of_forward_gives_back_the_real_rows_exactly(table, fitted):
    matrix = fitted.transform(table, seed=3)
    back = fitted.inverse_transform(matrix)
    pd.testing.assert_frame_equal(back, table)  # values, NaN/NaT/NA positions and dtypes alike
    assert [str(t) for t in back.dtypes] == [str(t) for t in table.dtypes]


def test_measured_floats_round_trip_to_machine_precision():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=300) * 1e3, "y": rng.exponential(size=300).astype("float32")})
    t = TableTransformer.fit(frame, [])
    assert t.columns[0].decimals is None  # nothing to round to: raw floats
    back = t.inverse_transform(t.transform(frame))
    np.testing.assert_allclose(back["x"], frame["x"], rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(back["y"].to_numpy(), frame["y"].to_numpy())  # float32 is exact
    assert back["y"].dtype == np.float32


def test_matrix_layout_is_alpha_plus_sampled_mode_per_continuous_column_and_one_hot_per_discrete(
    table, fitted
):
    matrix = fitted.transform(table)
    assert matrix.shape == (len(table), fitted.width)
    for span, start in zip(fitted.spans, fitted.span_starts, strict=True):
        block = matrix[:, start : start + span.width]
        if span.activation == "softmax":
            assert set(np.unique(block)) <= {0.0, 1.0} and np.all(block.sum(axis=1) == 1)
    bimodal = fitted.columns[0]
    assert isinstance(bimodal, ContinuousColumn) and bimodal.n_modes >= 2  # one mode per bump at least
    alpha = matrix[:, 0]
    assert np.mean(np.abs(alpha) <= 1) > 0.99  # α = (c − η_k) / 4φ_k lies in [−1, 1] for ~all values


def test_missing_values_get_their_own_slot(table, fitted):
    matrix = fitted.transform(table)
    income = fitted.columns[1]
    assert isinstance(income, ContinuousColumn) and income.has_missing
    modes = fitted.span_starts[fitted.column_spans[1][1]]
    missing_slot = matrix[:, modes + income.n_modes]
    np.testing.assert_array_equal(missing_slot == 1, table["income"].isna().to_numpy())
    colour = fitted.columns[6]
    assert isinstance(colour, DiscreteColumn) and None in colour.categories


def test_inverse_clips_to_the_observed_range_and_rounds_integers(table, fitted):
    matrix = fitted.transform(table)
    matrix[:, fitted.span_starts[fitted.column_spans[2][0]]] = 50.0  # absurd α for 'age'
    matrix[:, 0] = -0.3
    back = fitted.inverse_transform(matrix)
    assert back["age"].dtype == np.int64 and back["age"].max() == table["age"].max()
    assert back["bimodal"].between(table["bimodal"].min(), table["bimodal"].max()).all()


def test_fitted_state_is_plain_json_and_restores_the_same_transformer(table, fitted):
    state = json.loads(json.dumps(fitted.state_dict()))
    restored = TableTransformer.from_state(state)
    matrix = fitted.transform(table, seed=5)
    np.testing.assert_array_equal(restored.transform(table, seed=5), matrix)
    pd.testing.assert_frame_equal(restored.inverse_transform(matrix), table)


def test_high_cardinality_column_is_capped_and_its_tail_resampled_from_real_values():
    rng = np.random.default_rng(0)
    n = 50_000
    frame = pd.DataFrame({"id": [f"user{i}" for i in range(n)], "x": rng.normal(size=n)})
    frame.loc[:999, "id"] = "frequent"  # one value that is not rare
    t = TableTransformer.fit(frame, ["id"], max_categories=20)
    ids = t.columns[0]
    assert isinstance(ids, DiscreteColumn) and ids.has_other and ids.width == 20
    assert t.width <= 20 + 1 + 10  # the matrix stays narrow whatever the cardinality
    assert ids.categories[0] == "frequent"
    back = t.inverse_transform(t.transform(frame))
    assert (back["id"].iloc[:1000] == "frequent").all()  # kept categories round-trip
    tail = back["id"].iloc[1000:]
    assert tail.isin(set(frame["id"])).all()  # the 'other' slot becomes real (rare) values
    assert tail.nunique() > 1000


def test_unknown_values_and_schema_mismatch_are_clear_errors(table, fitted):
    bad = table.copy()
    bad["colour"] = bad["colour"].astype(object)
    bad.loc[0, "colour"] = "purple"
    with pytest.raises(DataError, match="'colour' holds value 'purple'"):
        fitted.transform(bad)
    with pytest.raises(DataError, match=r"lacks column\(s\) \['flag'\]"):
        fitted.transform(table.drop(columns="flag"))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.Series(["a", "b"]), True),
        (pd.Series([True, False]), True),
        (pd.Series([1.0, 2.0, 3.0, 2.0]), True),  # integer-valued, few levels: a code
        (pd.Series(np.arange(50)), False),  # integer-valued but many levels: a count
        (pd.Series([0.5, 1.0, 2.0]), False),  # not integer-valued
        (pd.Series(pd.date_range("2020", periods=3)), False),
    ],
)
def test_auto_detection_rule(values, expected):
    assert is_auto_discrete(values) is expected
