"""GAIN as an ordinary run: a resumed ``ganforge impute`` equals an uninterrupted one bit for bit, the
run reopens as an ``ImputerHandle`` without its data, the codec survives JSON with its types, and
the bundled preset trains through ``ganforge.train``."""

import json

import numpy as np
import pandas as pd
import pytest
from tabular_helpers import holed_table

import ganforge
import ganforge.tabular.gain as gain_module
from ganforge.cli.main import main
from ganforge.data.tables import load_table
from ganforge.errors import CheckpointError, DataError, EvalError
from ganforge.tabular.gain import Imputer
from ganforge.tabular.gain_codec import TableCodec
from ganforge.tabular.gain_family import ImputerHandle
from ganforge.tasks import open_run, task_named
from ganforge.testing import StopAfter, final_checkpoint, read_metrics, state_digest, tiny_overrides


def survey(n: int = 90, seed: int = 0) -> pd.DataFrame:
    return holed_table(n, seed, missing=0.15)


def test_resume_after_an_interruption_is_bit_identical(tmp_path, monkeypatch):
    survey().to_csv(tmp_path / "in.csv", index=False)
    common = ["--iterations", "6", "--batch-size", "32", "--discrete", "rating", "--seed", "2"]
    for key in ("train.deterministic=true", "train.ckpt_every=3", "train.log_every=1"):
        common += ["--set", key]

    def impute(run: str, out: str, *extra: str) -> int:
        paths = [str(tmp_path / "in.csv"), "-o", str(tmp_path / out), "--run", str(tmp_path / run)]
        return main(["impute", *paths, *common, *extra])

    build = gain_module.build_session
    with monkeypatch.context() as patch:  # the first invocation is killed after step 3
        patch.setattr(
            gain_module, "build_session",
            lambda *a, **kw: build(*a, **kw, extra_callbacks=(lambda c, d, data: StopAfter(3),)),
        )  # fmt: skip
        assert impute("a", "killed.csv") == 0
    assert final_checkpoint(tmp_path / "a")[1]["step"] == 3
    assert impute("a", "a.csv", "--resume") == 0
    assert impute("b", "b.csv") == 0
    (ta, ma), (tb, mb) = final_checkpoint(tmp_path / "a"), final_checkpoint(tmp_path / "b")
    assert ma["step"] == mb["step"] == 6 and set(ta) == set(tb)
    assert any(k.startswith("optim.") for k in ta)
    assert state_digest(ta, ma) == state_digest(tb, mb)
    assert all(ma[key] == mb[key] for key in ("info", "data", "scalars"))  # encoding, stream, extras
    clock = ("time", "img_per_s")
    logs = [
        [{k: v for k, v in m.items() if k not in clock} for m in read_metrics(tmp_path / r)] for r in "ab"
    ]
    assert logs[0] == logs[1] and [m["step"] for m in logs[0]] == [1, 2, 3, 4, 5, 6]
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    pd.testing.assert_frame_equal(a, b)
    assert not a.isna().any().any()


def test_a_run_reopens_as_an_imputer_handle_without_its_data(tmp_path):
    holed = survey(120)
    imputer = Imputer(iterations=20, seed=1, run_dir=tmp_path / "run")
    expected = imputer.fit_transform(holed, discrete_columns=["rating"])
    handle = open_run(tmp_path / "run", expect="imputation")
    assert isinstance(handle, ImputerHandle) and not handle.generator.training
    pd.testing.assert_frame_equal(handle.impute(holed), expected)  # the run's seed + 1, as transform
    again = Imputer.from_run(tmp_path / "run").transform(holed)
    pd.testing.assert_frame_equal(again, expected)
    fresh = survey(30, seed=5)
    out = handle.impute(fresh, seed=9)
    kept = fresh.notna().to_numpy()
    assert np.array_equal(out.to_numpy()[kept], fresh.to_numpy()[kept]) and not out.isna().any().any()
    assert set(out["rating"]) <= {1.0, 2.0, 3.0} and set(out["kind"]) <= {"hi", "lo"}
    pd.testing.assert_frame_equal(handle.impute(fresh, seed=9), out)  # a private, seeded RNG
    with pytest.raises(CheckpointError, match="imputation run"):
        ganforge.load(tmp_path / "run")  # a generation handle cannot be made of it
    with pytest.raises(EvalError, match="no sample metric"):
        task_named("imputation").check_evaluable(handle.config)
    with pytest.raises(DataError, match="differ"):
        handle.impute(fresh.drop(columns="x"))


def test_codec_state_round_trips_through_json_with_its_types():
    frame = pd.DataFrame(
        {
            "code": [3, 1, None, 2],  # integer-coded, declared discrete (floats once holes appear)
            "n": pd.Series([1, 2, 3, 4], dtype="int64"),
            "flag": [True, False, True, None],
            "word": ["b", "a", None, "a"],
            "mixed": [1, "one", 1, None],
            "when": pd.to_datetime(["2024-01-01", "2024-02-01", None, "2024-01-01"]),
            7: [0.5, None, 1.5, 2.5],  # an integer column name
        }
    )
    codec = TableCodec(frame, discrete_columns=["code", "n"])
    state = json.loads(json.dumps(codec.state_dict()))
    back = TableCodec.from_state(state)
    for before, after in zip(codec.columns, back.columns, strict=True):
        assert after.name == before.name and type(after.name) is type(before.name)
        assert after.categories == before.categories, before.name
        assert [type(c) for c in after.categories] == [type(c) for c in before.categories], before.name
        assert (after.kind, after.start, after.width, after.low, after.scale, after.integer) == (
            before.kind, before.start, before.width, before.low, before.scale, before.integer,
        )  # fmt: skip
    assert [type(c) for c in back.columns[1].categories] == [int] * 4  # ints stay ints
    assert [type(c) for c in back.columns[2].categories] == [bool, bool]
    assert [type(c) for c in back.columns[4].categories] == [int, str]
    for got, want in zip(back.encode(frame), codec.encode(frame), strict=True):
        assert np.array_equal(got, want)
    with pytest.raises(DataError, match="cannot record"):
        TableCodec(pd.DataFrame({"t": [(1, 2), (3, 4)]})).state_dict()


def test_the_bundled_preset_trains_through_ganforge_train(tmp_path):
    run = ganforge.train("tabular/gain", out=tmp_path / "run", overrides=tiny_overrides("tabular/gain"))
    assert run.config.model.name == "gain_tiny" and run.config.data.params["path"] == "penguins"
    lines = read_metrics(run.path)
    assert [m["step"] for m in lines] == [1, 2] and all(np.isfinite(m["loss_rec"]) for m in lines)
    penguins = load_table("penguins")[0]  # 19 cells really missing
    filled = open_run(run.path, expect="imputation").impute(penguins)
    assert not filled.isna().any().any() and (filled.dtypes == penguins.dtypes).all()
