"""Tables train through the same session builder as images (issue 17, item 5): a ``tabular fit`` is a
run dir with checkpoints, resumes bit-identically after an interruption, takes ``--set`` overrides,
and a table run opens as a ``TabularHandle`` and is scored by ``fidelity`` like any run."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
from tabular_helpers import correlated_table

from ganforge.cli.main import main
from ganforge.config import load_config
from ganforge.errors import EvalError
from ganforge.evaluation import evaluate
from ganforge.evaluation.periodic import periodic_eval
from ganforge.registry import DATASETS, MODELS, OBJECTIVES
from ganforge.rundir import read_run_config
from ganforge.tabular import TabularGAN
from ganforge.tabular.task import TabularHandle
from ganforge.tasks import open_run
from ganforge.testing import final_checkpoint, state_digest
from ganforge.training.build import build_session

TINY_SETS = ["model.embedding_dim=16", "model.generator_dims=[32,32]", "model.discriminator_dims=[32,32]"]
EPOCHS, BATCH = 6, 100  # 270 training rows: 2 steps an epoch, 12 steps


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "table.csv"
    correlated_table(n=300).to_csv(path, index=False)
    return path


def fit_flags(data_csv: Path, out: Path, *extra: str) -> list[str]:
    sets = [
        arg for s in [*TINY_SETS, "train.deterministic=true", "train.ckpt_every=2"] for arg in ("--set", s)
    ]
    return ["tabular", "fit", str(data_csv), "--out", str(out), "--epochs", str(EPOCHS), "--batch-size",
            str(BATCH), "--device", "cpu", "--no-progress", *sets, *extra]  # fmt: skip


class Killed(Exception):
    pass


class KillAt:
    """Dies at step ``step`` as ``kill -9`` would: no final checkpoint, no final evaluation."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer) -> None:
        if trainer.state.step == self.step:
            raise Killed


def without_timings(path: Path) -> list[dict]:
    return [
        {k: v for k, v in line.items() if k != "eval_s"}
        for line in map(json.loads, path.read_text().splitlines())
    ]


def test_a_killed_fit_resumes_bit_identically(data_csv: Path, tmp_path: Path) -> None:
    assert main(fit_flags(data_csv, tmp_path / "whole", "--set", "train.eval_every=2")) == 0
    # The same run killed at step 7 (its last checkpoint is step 4), then resumed from the CLI.
    model = TabularGAN(epochs=EPOCHS, batch_size=BATCH, device="cpu", progress=False)
    overrides = [*TINY_SETS, "train.deterministic=true", "train.ckpt_every=2", "train.eval_every=2"]
    cfg = load_config(model.config(str(data_csv)), overrides)
    with pytest.raises(Killed):
        build_session(
            cfg, tmp_path / "cut", extra_callbacks=(periodic_eval, lambda c, d, x: KillAt(7))
        ).trainer.fit()
    assert main(fit_flags(data_csv, tmp_path / "cut", "--set", "train.eval_every=2", "--resume")) == 0
    whole, cut = final_checkpoint(tmp_path / "whole"), final_checkpoint(tmp_path / "cut")
    assert whole[1]["step"] == cut[1]["step"] == 12
    assert state_digest(*whole) == state_digest(*cut)  # weights, EMA, optimisers, RNGs
    assert all(whole[1][key] == cut[1][key] for key in ("info", "data", "scalars"))  # encoding, draws, best
    evals = [without_timings(tmp_path / run / "logs" / "evals.jsonl") for run in ("whole", "cut")]
    assert evals[0] == evals[1] and [e["step"] for e in evals[0]] == [4, 8, 12]
    sample = [TabularGAN.load(tmp_path / run).sample(50, seed=0) for run in ("whole", "cut")]
    pd.testing.assert_frame_equal(*sample)  # the same best evaluation kept


def test_a_fit_is_a_run_with_overrides_checkpoints_and_a_handle(data_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(fit_flags(data_csv, out, "--set", "train.patience=0", "--set", "optim.g.lr=0.001")) == 0
    cfg = read_run_config(out)
    assert cfg.model.name == "ctgan" and cfg.model.params["embedding_dim"] == 16
    assert cfg.optim.g.lr == 0.001 and cfg.train.unit == "step" and cfg.train.steps == EPOCHS * 2
    assert (
        sorted(p.name for p in (out / "checkpoints").glob("step_*.safetensors"))[-1]
        == "step_000012.safetensors"
    )
    for name in ("config.yaml", "summary.json", "model.json", "generator.safetensors", "logs/metrics.jsonl"):
        assert (out / name).is_file(), name
    assert any((out / "logs").glob("**/events.out.tfevents.*"))  # TensorBoard, as for image runs
    handle = open_run(out)
    assert isinstance(handle, TabularHandle)
    rows = handle.sample(40, conditions={"group": "b"}, seed=1)
    assert list(rows.columns) == ["x", "y", "group"] and (rows["group"] == "b").all()


def test_train_tabular_preset_trains_a_shipped_table(tmp_path: Path) -> None:
    """``ganforge train tabular/ctgan`` is the same run; ``data.path`` may name a shipped table."""
    argv = ["train", "tabular/ctgan", "--out", str(tmp_path / "iris"), "--set", "model.name=ctgan_tiny",
            "--set", "train.steps=4", "--set", "train.eval_every=2", "--set", "train.device=cpu",
            "--set", "train.progress=false"]  # fmt: skip
    assert main(argv) == 0
    assert main(["eval", str(tmp_path / "iris"), "--metrics", "fidelity"]) == 0
    assert main(["report", str(tmp_path / "iris")]) == 0  # the task draws the worst marginals
    page = (tmp_path / "iris" / "report.html").read_text()
    assert "Synthetic rows" in page and "columns whose shapes match worst" in page
    frame = TabularGAN.load(tmp_path / "iris").sample(30, seed=0)
    assert "target" in frame.columns and set(frame["target"]) <= {"setosa", "versicolor", "virginica"}


def test_the_constructor_defaults_are_the_presets() -> None:
    """``TabularGAN()`` trains exactly preset ``tabular/ctgan``: its defaults cannot drift apart."""
    ours, preset = load_config(TabularGAN().config("iris")), load_config("tabular/ctgan")
    for section, registry in (("model", MODELS), ("data", DATASETS), ("objective", OBJECTIVES)):
        defaults = asdict(registry.get(getattr(preset, section).name).options())
        theirs = {**defaults, **getattr(preset, section).params}
        assert {**defaults, **getattr(ours, section).params} == theirs, section
    assert ours.optim == preset.optim and ours.train == preset.train and ours.data.batch_size == 500


def test_resuming_with_other_data_is_refused(data_csv: Path, tmp_path: Path, capsys) -> None:
    """A resumed fit refits the transformer from the file: a file changed since must not pass."""
    table = tmp_path / "table.csv"
    frame = pd.read_csv(data_csv)
    frame.to_csv(table, index=False)
    assert main(fit_flags(table, tmp_path / "run")) == 0
    frame["x"] *= 100  # the same path, other values
    frame.to_csv(table, index=False)
    capsys.readouterr()
    assert main([*fit_flags(table, tmp_path / "run"), "--resume"]) == 2
    assert "the data differ from those checkpoint" in capsys.readouterr().err


def test_an_early_stopped_fit_stays_stopped_on_resume(data_csv: Path, tmp_path: Path) -> None:
    flags = ["--set", "train.eval_every=1", "--set", "train.patience=1", "--epochs", "40"]
    argv = [*fit_flags(data_csv, tmp_path / "run"), *flags]
    assert main(argv) == 0
    first = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "did not improve" in first["stopped_early"] and first["step"] < 80
    evals = (tmp_path / "run" / "logs" / "evals.jsonl").read_text()
    assert main([*argv, "--resume"]) == 0  # patience has run out: nothing more to train
    again = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert again["step"] == first["step"] and again["stopped_early"] == first["stopped_early"]
    assert (tmp_path / "run" / "logs" / "evals.jsonl").read_text() == evals


def test_an_in_memory_fit_says_how_to_score_it(tmp_path: Path) -> None:
    model = TabularGAN(epochs=2, batch_size=100, device="cpu", progress=False)
    model.fit(correlated_table(n=200), run_dir=tmp_path / "run", overrides=TINY_SETS)
    with pytest.raises(EvalError, match=r"trained from an in-memory frame.*ganforge tabular eval"):
        evaluate(tmp_path / "run", "fidelity")
