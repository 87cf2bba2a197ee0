"""``ganforge impute``: reads CSV/Parquet, writes a table with no holes, reports counts per column;
trains as a run (run dir, --set, --resume, --force)."""

import numpy as np
import pandas as pd
import pytest

from ganforge.cli.main import main
from ganforge.config import read_yaml
from ganforge.testing import final_checkpoint, read_metrics


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Every test in its own folder: run dirs and outputs land there."""
    monkeypatch.chdir(tmp_path)


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
        (["in.csv", "-o", "out.csv", "--set", "model.name=mlp"], "does not impute tables"),
        (["in.csv", "-o", "out.csv", "--set", "objective.alpha=-1"], "alpha"),
        (["in.csv", "-o", "out.csv", "--set", "objective.alpah=1"], "alpha"),
    ],
)
def test_user_errors_exit_2_with_one_line(tmp_path, capsys, args, message):
    holed_table(20).to_csv("in.csv", index=False)
    assert main(["impute", *args, "--iterations", "2"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_training_is_a_run_with_the_flags_and_set_as_config_keys(tmp_path, capsys):
    holed_table().to_csv("in.csv", index=False)
    run = tmp_path / "runs" / "impute-in"
    args = ["impute", "in.csv", "-o", "out.csv", "--iterations", "4", "--discrete", "kind", "--seed", "3"]
    args += ["--run", str(run)]
    assert main([*args, "--set", "objective.alpha=10", "--set", "train.log_every=1"]) == 0
    for part in ("config.yaml", "summary.json", "logs/metrics.jsonl", "checkpoints/latest"):
        assert (run / part).exists(), part
    assert list((run / "logs").glob("events.out.tfevents.*")), "no TensorBoard events"
    cfg = read_yaml(run / "config.yaml")
    assert cfg["model"]["name"] == "gain" and cfg["objective"]["alpha"] == 10
    assert cfg["data"]["path"] == str(tmp_path / "in.csv") and cfg["data"]["discrete"] == ["kind"]
    assert cfg["data"]["batch_size"] == 120  # 128 clamped to the table's rows
    assert cfg["train"]["seed"] == 3 and cfg["train"]["steps"] == 4
    assert [m["step"] for m in read_metrics(run)] == [1, 2, 3, 4]
    tensors, meta = final_checkpoint(run)
    assert meta["step"] == 4 and any(k.startswith("nets.g.") for k in tensors)
    assert meta["info"]["codec"]["columns"][2]["categories"] == ["hi", "lo"]
    assert "layout" in meta["info"]["model_inputs"]
    first = pd.read_csv("out.csv")
    capsys.readouterr()
    # The run dir is taken: --resume reuses the finished run (no more steps), --force trains anew.
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err
    again = ["--set", "objective.alpha=10", "--set", "train.log_every=1"]
    assert main([*args, *again, "--resume", "-o", "resumed.csv"]) == 0
    assert final_checkpoint(run)[1]["step"] == 4
    pd.testing.assert_frame_equal(pd.read_csv("resumed.csv"), first)
    assert main([*args, "--force", "-o", "forced.csv"]) == 0
    assert read_yaml(run / "config.yaml")["objective"]["alpha"] == 100


def test_epochs_count_passes_over_the_rows(tmp_path):
    holed_table().to_csv("in.csv", index=False)
    assert (
        main(["impute", "in.csv", "-o", "out.csv", "--epochs", "3", "--batch-size", "50", "--run", "r"]) == 0
    )
    train = read_yaml(tmp_path / "r" / "config.yaml")["train"]
    assert train["steps"] == 8  # ceil(3 x 120 rows / 50), as Imputer(epochs=3) counts


def test_without_run_nothing_is_left_behind_and_it_runs_again(tmp_path):
    holed_table().to_csv("in.csv", index=False)
    for _ in range(2):  # the same command twice, as scripts do
        assert main(["impute", "in.csv", "-o", "out.csv", "--iterations", "3"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]
    assert main(["impute", "in.csv", "-o", "out.csv", "--iterations", "3", "--resume"]) == 2
