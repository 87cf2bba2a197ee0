"""``ganforge tabular fit|sample|eval``: files in, files out, one JSON object from eval, and the
bad-input contract (one line on stderr, exit status 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from tabular_helpers import correlated_table

from ganforge.cli.main import main


def assert_user_error(rc: int, err: str, *fragments: str) -> None:
    assert rc == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "table.csv"
    frame = correlated_table(n=300)
    frame["when"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(frame.index.to_numpy() % 30, unit="D")
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def run_dir(data_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    rc = main(["tabular", "fit", str(data_csv), "--out", str(out), "--epochs", "2", "--batch-size", "100",
               "--patience", "0", "--no-progress"])  # fmt: skip
    assert rc == 0
    return out


def test_fit_writes_a_loadable_model_and_sample_writes_csv_and_parquet(cli, data_csv, run_dir, tmp_path):
    assert (run_dir / "model.json").is_file() and (run_dir / "generator.safetensors").is_file()
    meta = json.loads((run_dir / "model.json").read_text())
    assert meta["params"]["epochs"] == 2 and meta["training"]["epochs_run"] == 2
    rc, _, err = cli("tabular", "sample", run_dir, "-n", 50, "-o", tmp_path / "out.csv", "--seed", 3)
    assert rc == 0 and "wrote 50 rows" in err
    csv = pd.read_csv(tmp_path / "out.csv")
    assert list(csv.columns) == ["x", "y", "group", "when"] and len(csv) == 50
    rc, _, _ = cli("tabular", "sample", run_dir, "-n", 50, "-o", tmp_path / "out.parquet", "--seed", 3)
    parquet = pd.read_parquet(tmp_path / "out.parquet")
    assert rc == 0 and pd.api.types.is_datetime64_any_dtype(
        parquet["when"]
    )  # the date column came back typed
    assert parquet["group"].tolist() == csv["group"].tolist()  # same seed, same rows, either format


def test_sample_with_a_condition_from_the_command_line(cli, run_dir, tmp_path):
    rc, _, _ = cli("tabular", "sample", run_dir, "-n", 30, "-o", tmp_path / "b.csv", "--condition", "group=b")
    assert rc == 0 and (pd.read_csv(tmp_path / "b.csv")["group"] == "b").all()
    rc, _, err = cli(
        "tabular", "sample", run_dir, "-n", 3, "-o", tmp_path / "c.csv", "--condition", "group=zz"
    )
    assert_user_error(rc, err, "value 'zz' never occurs in column 'group'")
    assert not (tmp_path / "c.csv").exists()


def test_eval_prints_one_json_object(cli, data_csv, run_dir):
    pytest.importorskip("ganforge.metrics.tabular")
    rc, out, _ = cli("tabular", "eval", run_dir, "--real", data_csv, "--json", "--holdout", data_csv,
                     "--target", "group")  # fmt: skip
    assert rc == 0
    result = json.loads(out)  # stdout is exactly one JSON object
    assert {"quality", "column_shapes", "column_pair_trends", "ml_efficacy", "dcr"} <= set(result)
    assert 0.0 <= result["quality"] <= 1.0


def test_eval_report_is_one_self_contained_page(cli, data_csv, run_dir, tmp_path):
    page = tmp_path / "table.html"
    rc, out, _ = cli("tabular", "eval", run_dir, "--real", data_csv, "--json", "--report", page)
    assert rc == 0
    quality = json.loads(out)["quality"]
    text = page.read_text()
    assert f"quality {quality:.4f}" in text  # the page shows the same evaluation the JSON printed
    assert "data:image/png;base64," in text  # figures inlined
    assert "http://" not in text and "https://" not in text and "<script" not in text


def test_bad_input_is_one_line_and_exit_status_2(cli, data_csv, run_dir, tmp_path):
    rc, _, err = cli("tabular", "fit", data_csv, "--out", tmp_path / "r", "--discrete", "group,nope")
    assert_user_error(rc, err, "discrete column 'nope' is not a column")
    rc, _, err = cli("tabular", "fit", data_csv, "--out", run_dir)
    assert_user_error(rc, err, "already holds a tabular model", "--force")
    rc, _, err = cli("tabular", "fit", tmp_path / "missing.csv", "--out", tmp_path / "r")
    assert_user_error(rc, err, "does not exist")
    rc, _, err = cli("tabular", "sample", tmp_path, "-n", 5, "-o", tmp_path / "x.csv")
    assert_user_error(rc, err, "is not a saved TabularGAN")
    rc, _, err = cli("tabular", "sample", run_dir, "-n", 5, "-o", tmp_path / "x.xlsx")
    assert_user_error(rc, err, "neither a .csv nor a .parquet")
    other = tmp_path / "other.csv"
    pd.read_csv(data_csv).drop(columns="y").assign(z=1).to_csv(other, index=False)
    rc, _, err = cli("tabular", "eval", run_dir, "--real", other, "--json")
    assert_user_error(
        rc, err, "does not match the model's schema", "lacks column(s) ['y']", "unknown column(s) ['z']"
    )
