"""``ganforge sweep``: grid x seeds into ordinary run dirs, CSV + markdown tables, resumability, errors."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

import ganforge
from ganforge.cli.main import main
from ganforge.errors import ConfigError, RunDirError
from ganforge.sweeps import SweepResult, mean_std, parse_grid, plan, sweep

TINY = {
    "model": {"name": "mlp_tiny"},
    "data": {"name": "toy2d", "kind": "ring", "std": 0.2, "batch_size": 16},
    "train": {"steps": 20, "log_every": 5, "ckpt_every": 10, "progress": False},
}
GRID = ["objective.loss=hinge,ns", "optim.g.lr=1e-3,2e-4"]
MODES_KEYS = ["modes_covered", "modes_total", "hq_fraction", "reverse_kl"]


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> SweepResult:
    """A finished 2 x 2 grid x 2 seeds sweep of 20-step runs (~5 s). Read-only."""
    return sweep(TINY, grid=GRID, seeds=2, out=tmp_path_factory.mktemp("sweep") / "out", n=500)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def read_markdown(path: Path) -> list[dict[str, str]]:
    lines = [ln for ln in path.read_text().splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in ln.strip("|").split("|")), strict=True)) for ln in lines[2:]]


def test_each_cell_and_seed_is_a_normal_run_dir(done):
    out = done.csv_path.parent
    cells = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert cells == ["loss=hinge__lr=1e-3", "loss=hinge__lr=2e-4", "loss=ns__lr=1e-3", "loss=ns__lr=2e-4"]
    for cell in cells:
        for seed in (0, 1):
            run = out / cell / f"seed{seed}"
            cfg = yaml.safe_load((run / "config.yaml").read_text())
            assert cfg["train"]["seed"] == seed
            assert json.loads((run / "summary.json").read_text())["step"] == 20
            assert len(list((run / "eval").glob("*.json"))) == 1
    cfg = yaml.safe_load((out / "loss=hinge__lr=1e-3" / "seed0" / "config.yaml").read_text())
    assert cfg["objective"]["loss"] == "hinge" and cfg["optim"]["g"]["lr"] == pytest.approx(1e-3)


def test_csv_has_one_row_per_run_and_markdown_one_line_per_cell(done):
    rows = read_csv(done.csv_path)
    assert len(rows) == 8
    for col in ["cell", "seed", "objective.loss", "optim.g.lr", "status", "loss_d", "loss_g", *MODES_KEYS]:
        assert col in rows[0], col
    assert {r["status"] for r in rows} == {"trained"}
    table = read_markdown(done.md_path)
    assert len(table) == 4
    assert {r["seeds"] for r in table} == {"2"}
    assert done.markdown == done.md_path.read_text()


def test_markdown_mean_and_std_match_numpy_on_the_csv(done):
    rows = read_csv(done.csv_path)
    for line in read_markdown(done.md_path):
        group = [r for r in rows if r["cell"] == line["cell"]]
        assert len(group) == 2
        for col in ["loss_d", "loss_g", *MODES_KEYS]:
            values = np.array([float(r[col]) for r in group])
            mean, std = (float(x) for x in re.fullmatch(r"(\S+) ± (\S+)", line[col]).groups())
            assert mean == pytest.approx(values.mean(), rel=1e-3, abs=1e-4)
            assert std == pytest.approx(values.std(ddof=1), rel=0.01, abs=1e-4)
    assert mean_std([1.0]) == (1.0, 0.0)
    assert ganforge.sweep is sweep  # the public API


def test_a_second_invocation_skips_finished_runs(done, capsys):
    out = done.csv_path.parent
    files = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.parent != out}
    again = sweep(TINY, grid=GRID, seeds=2, out=out, n=500)
    assert {r["status"] for r in again.rows} == {"skipped"}
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.parent != out} == files
    strip = ("status", "train_wall_s")
    assert [{k: v for k, v in r.items() if k not in strip} for r in again.rows] == [
        {k: v for k, v in r.items() if k not in strip} for r in done.rows
    ]


def test_unfinished_runs_are_resumed(tmp_path):
    short = sweep(TINY, grid=["objective.loss=ns"], seeds=1, out=tmp_path, overrides=["train.steps=10"])
    assert short.rows[0]["step"] == 10
    longer = sweep(TINY, grid=["objective.loss=ns"], seeds=1, out=tmp_path)
    assert longer.rows[0]["status"] == "resumed" and longer.rows[0]["step"] == 20
    run = tmp_path / "loss=ns" / "seed0"
    steps = [json.loads(ln)["step"] for ln in (run / "logs" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20]  # continued from step 10, not retrained


def test_grid_values_follow_the_set_rules():
    items = parse_grid(["optim.g.lr=1e-4,2e-4", "optim.g.betas=[0.5, 0.9],[0,0.9]", "objective.loss=ns"])
    assert items[0][:2] == ("optim.g.lr", [1e-4, 2e-4])
    assert items[1][:2] == ("optim.g.betas", [[0.5, 0.9], [0, 0.9]])
    assert items[2][:2] == ("objective.loss", ["ns"])
    runs = plan(TINY, ["optim.g.betas=[0.5,0.9],[0,0.9]"], 1, Path("x"))
    assert [r.path.parent.name for r in runs] == ["betas=0.5_0.9", "betas=0_0.9"]
    assert runs[1].config.optim.g.betas == (0.0, 0.9)
    assert [r.path.name for r in plan(TINY, None, 3, Path("x"))] == ["seed0", "seed1", "seed2"]
    both = plan(TINY, ["optim.g.betas=[0.5,0.9],[0.5,0.99]", "optim.d.betas=[0,0.9]"], 1, Path("x"))
    assert [r.cell for r in both] == [  # keys sharing a last part keep their full names
        "optim.g.betas=0.5_0.9__optim.d.betas=0_0.9",
        "optim.g.betas=0.5_0.99__optim.d.betas=0_0.9",
    ]


@pytest.mark.parametrize(
    ("grid", "fragment"),
    [
        (["objective.loss"], "must look like section.key=value1,value2"),
        (["objective.loss="], "empty value"),
        (["objective.loss=ns,,hinge"], "empty value"),
        (["loss=ns,hinge"], "must be dotted"),
        (["objective.loss=ns", "objective.loss=hinge"], "given twice"),
        (["objective.loss=ns,ns"], "repeats a value"),
        (["optim.g.lr=1e-4,0.0001"], "repeats a value"),
        (["train.seed=1,2"], "clashes with --seeds"),
        (["objective.los=ns,hinge"], "did you mean 'loss'"),
        (["objective.loss=ns,hnge"], "did you mean 'hinge'"),
    ],
)
def test_bad_grid_specs_fail_before_anything_trains(tmp_path, grid, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        sweep(TINY, grid=grid, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_different_config_in_the_same_folder_is_refused(done):
    with pytest.raises(RunDirError, match="different config"):
        sweep(TINY, grid=GRID, seeds=1, out=done.csv_path.parent, overrides=["model.hidden=16"])


def test_cli_prints_the_markdown_table(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, "train": {**TINY["train"], "steps": 5}}))
    rc = main(["sweep", str(config), "--grid", "objective.loss=ns,hinge", "--out", str(tmp_path / "s"),
               "--metrics", "none"])  # fmt: skip
    out, err = capsys.readouterr()
    assert rc == 0 and "sweep.csv" in err
    assert out.startswith("| cell | objective.loss | seeds | loss_d | loss_g | train_wall_s |")
    assert len(out.strip().splitlines()) == 4
    assert "modes" not in read_csv(tmp_path / "s" / "sweep.csv")[0]
    rc = main(["sweep", str(config), "--grid", "objective.loss", "--out", str(tmp_path / "t")])
    assert rc == 2 and "section.key=value1,value2" in capsys.readouterr().err


def test_a_sweep_counted_in_epochs_skips_its_finished_runs(tmp_path):
    """Run dirs record the resolved config (epochs in steps); a second invocation still recognises
    the same runs as finished instead of refusing them as a different config."""
    train = {**TINY["train"], "unit": "epoch", "steps": 2, "log_every": 1, "ckpt_every": 1}
    epochs = {**TINY, "data": {**TINY["data"], "n": 320}, "train": train}
    first = sweep(epochs, grid=["objective.loss=ns"], seeds=1, out=tmp_path, n=100)
    assert first.rows[0]["step"] == 2 * (320 // 16)
    again = sweep(epochs, grid=["objective.loss=ns"], seeds=1, out=tmp_path, n=100)
    assert again.rows[0]["status"] == "skipped"
