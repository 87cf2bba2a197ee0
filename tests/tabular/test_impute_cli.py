"""``ganforge impute``: reads CSV/Parquet, writes a table with no holes, reports counts per column."""

import numpy as np
import pandas as pd
import pytest

from ganforge.cli.main import main


def holed_table(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "y": 2 * x + 0.1 * rng.normal(size=n), "kind": np.where(x > 0, "hi", "lo")})
    df.loc[[1, 5, 9], "x"] = np.nan
    df.loc[[2, 7], "kind"] = None
    return df


def test_impute_csv_writes_a_full_table_and_summarises(tmp_path, capsys):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    df = holed_table()
    df.to_csv(src, index=False)
    assert main(["impute", str(src), "-o", str(out), "--epochs", "3", "--seed", "1"]) == 0
    result = pd.read_csv(out)
    assert not result.isna().any().any() and list(result.columns) == ["x", "y", "kind"]
    assert np.array_equal(result["y"], df["y"])  # a column without holes is kept
    assert set(result["kind"]) == {"hi", "lo"}
    line = capsys.readouterr().out.strip()
    assert line == f"imputed 5 cells in 2 columns (x 3, kind 2) -> {out}"


def test_impute_parquet_and_nothing_to_do(tmp_path, capsys):
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    holed_table().to_parquet(src)
    assert main(["impute", str(src), "-o", str(out), "--iterations", "5"]) == 0
    assert not pd.read_parquet(out).isna().any().any()
    full = tmp_path / "full.csv"
    pd.read_parquet(out).to_csv(full, index=False)
    capsys.readouterr()
    assert main(["impute", str(full), "-o", str(tmp_path / "copy.csv")]) == 0
    assert capsys.readouterr().out.startswith("nothing to impute")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv", "-o", "out.csv"], "does not exist"),
        (["in.csv", "-o", "out.txt"], "must end in .csv or .parquet"),
        (["in.csv", "-o", "out.csv", "--discrete", "nope"], "lacks"),
    ],
)
def test_user_errors_exit_2_with_one_line(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    holed_table(20).to_csv("in.csv", index=False)
    assert main(["impute", *args, "--iterations", "2"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()
