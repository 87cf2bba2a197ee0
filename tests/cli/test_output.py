"""Everyday output: ``sample -o DIR/`` (one PNG per sample, ``labels.csv``), ``--json`` on ``train``,
``sample``, ``list`` and ``info``, and ``info`` itself. JSON commands print exactly one JSON object
on stdout; their messages and progress lines go to stderr."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import assert_user_error, snapshot
from PIL import Image

import ganforge
from ganforge.utils.images import to_uint8


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cgan_tiny on the sklearn digits (32x32, 10 classes), 1 step: a conditional generator. Read-only."""
    cfg = {
        "model": {"name": "cgan_tiny"},
        "data": {"name": "digits", "batch_size": 16},
        "train": {"steps": 1, "progress": False, "diagnostics": False, "n_samples": 4},
    }
    return ganforge.train(cfg, out=tmp_path_factory.mktemp("cond") / "run").path


def read_labels(folder: Path) -> list[dict[str, str]]:
    with (folder / "labels.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def one_json(out: str) -> dict:
    """stdout holds one JSON object on one line and nothing else."""
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    return json.loads(lines[0])


# ------------------------------------------------------------------------------------------ sample -o DIR/


def test_sample_folder_writes_one_png_per_sample(cli, tiny_image_run, tmp_path):
    out = tmp_path / "samples"
    rc, _, err = cli("sample", tiny_image_run.path, "-n", 5, "-o", f"{out}/", "--seed", 3)
    assert rc == 0, err
    assert f"wrote 5 samples to {out}" in err
    assert sorted(p.name for p in out.iterdir()) == [f"{i:06d}.png" for i in range(5)]  # no labels.csv
    expected = to_uint8(ganforge.load(tiny_image_run.path).sample(5, seed=3))  # (N, H, W, 1)
    for i in range(5):
        with Image.open(out / f"{i:06d}.png") as image:
            assert image.format == "PNG" and image.size == (32, 32) and image.mode == "L"
            np.testing.assert_array_equal(np.asarray(image), expected[i, ..., 0])


def test_sample_folder_of_a_conditional_model_has_labels_csv(cli, conditional_run, tmp_path):
    rc, out, err = cli("sample", conditional_run, "-n", 12, "-o", tmp_path / "cond", "--json")  # no suffix
    assert rc == 0, err
    assert err == ""  # --json: no message besides the object
    record = one_json(out)
    folder = tmp_path / "cond"
    assert record["files"] == [str(folder / f"{i:06d}.png") for i in range(12)]
    assert record["labels_csv"] == str(folder / "labels.csv")
    assert record["labels"] == [i % 10 for i in range(12)]
    assert (record["n"], record["seed"]) == (12, 0)
    assert read_labels(folder) == [{"file": f"{i:06d}.png", "label": str(i % 10)} for i in range(12)]

    rc, _, err = cli("sample", conditional_run, "-n", 3, "-o", tmp_path / "sevens/", "--label", 7)
    assert rc == 0, err
    assert [row["label"] for row in read_labels(tmp_path / "sevens")] == ["7", "7", "7"]


def test_sample_folder_is_not_overwritten_without_force(cli, conditional_run, tmp_path):
    folder = tmp_path / "s"
    assert cli("sample", conditional_run, "-n", 6, "-o", f"{folder}/")[0] == 0
    before = snapshot(folder)
    rc, _, err = cli("sample", conditional_run, "-n", 6, "-o", f"{folder}/", "--seed", 1)
    assert_user_error(rc, err, "already holds 7 sample file(s)", "--force")
    assert snapshot(folder) == before

    rc, _, err = cli("sample", conditional_run, "-n", 2, "-o", folder, "--seed", 1, "--force")
    assert rc == 0, err  # the earlier draw's files are gone, not mixed with the new one's
    assert sorted(p.name for p in folder.iterdir()) == ["000000.png", "000001.png", "labels.csv"]
    assert len(read_labels(folder)) == 2


def test_sample_folder_of_vectors_suggests_npz(cli, tiny_run, tmp_path):
    rc, _, err = cli("sample", tiny_run.path, "-n", 4, "-o", f"{tmp_path}/points/")
    assert_user_error(rc, err, "vectors of 2 values", ".npz")
    assert list(tmp_path.iterdir()) == []


def test_sample_json_for_a_grid(cli, tiny_image_run, tmp_path):
    grid = tmp_path / "grid.png"
    rc, out, err = cli("sample", tiny_image_run.path, "-n", 4, "-o", grid, "--seed", 2, "--json")
    assert rc == 0 and err == ""
    record = one_json(out)
    assert record["files"] == [str(grid)] and record["labels_csv"] is None and record["labels"] is None
    assert record["checkpoint"].endswith("step_000003.safetensors") and grid.is_file()


# ------------------------------------------------------------------------------------- train / list --json


def test_train_json_and_plain_progress_lines(cli, config_file, tmp_path):
    out = tmp_path / "run"
    rc, stdout, err = cli(
        "train", config_file, "--out", out, "--json", "--set", "train.progress=true",
        "--set", "train.progress_every_s=0",
    )  # fmt: skip
    assert rc == 0, err
    record = one_json(stdout)
    assert record["run_dir"] == str(out) and record["step"] == 20
    assert record["last_metrics"]["step"] == 20 and "loss_g" in record["last_metrics"]
    assert record == {"run_dir": str(out), **json.loads((out / "summary.json").read_text())}
    # stdout is captured (no terminal): one plain progress line a step, on stderr, no rich bar
    lines = [ln for ln in err.splitlines() if ln.startswith("step ")]
    assert len(lines) == 20, err
    assert re.fullmatch(
        r"step 20/20 kimg 0\.3 loss_d \S+ loss_g \S+ img/s \d+\.\d eta 00:00:00", lines[-1]
    ), lines[-1]


def test_list_json(cli):
    rc, out, _ = cli("list", "--json")
    assert rc == 0
    lists = one_json(out)
    assert list(lists) == [
        "models",
        "losses",
        "datasets",
        "objectives",
        "augments",
        "extractors",
        "tasks",
        "configs",
    ]
    models = {m["name"]: m for m in lists["models"]}
    assert models["dcgan_tiny"]["variant_of"] == "dcgan"
    assert models["dcgan"]["description"].startswith("DCGAN") and models["dcgan"]["resolutions"]
    assert {"name": "quickstart"} in lists["configs"]
    assert "generation" in {t["name"] for t in lists["tasks"]}

    rc, out, _ = cli("list", "losses", "--json")
    assert rc == 0 and list(one_json(out)) == ["losses"]


# ------------------------------------------------------------------------------------------ info


def test_info_says_what_the_model_is(cli, tiny_image_run):
    rc, out, err = cli("info", tiny_image_run.path)
    assert rc == 0, err
    labelled = [line for line in out.splitlines() if not line.startswith(" ")]  # not the description's
    fields = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in labelled)
    assert fields["task"] == "generation"
    assert fields["model"] == "dcgan_tiny (family dcgan)"
    assert fields["dataset"] == "digits: 1x32x32, 10 classes"
    assert fields["trained"].startswith("3 of 3 steps")
    assert fields["checkpoint"].endswith("step_000003.safetensors (with EMA weights)")
    assert fields["versions"] == f"ganforge {ganforge.__version__}, torch {torch.__version__}"
    assert fields["metrics"].startswith("step 3: loss_d ")


def test_info_json(cli, tiny_image_run):
    rng = torch.get_rng_state()
    rc, out, err = cli("info", tiny_image_run.path, "--json")
    assert rc == 0 and err == ""
    assert torch.equal(torch.get_rng_state(), rng)  # counting parameters draws from a forked RNG
    facts = one_json(out)
    assert facts["kind"] == "run" and facts["task"] == "generation"
    assert facts["model"]["name"] == "dcgan_tiny" and facts["model"]["family"] == "dcgan"
    assert facts["objective"]["name"] == "gan" and facts["objective"]["loss"] == "ns"
    assert facts["dataset"] == {
        "name": "digits", "shape": [1, 32, 32], "num_classes": 10, "resolution": 32, "params": {}
    }  # fmt: skip
    assert facts["steps"] == {"trained": 3, "planned": 3}
    g = ganforge.load(tiny_image_run.path).generator
    assert facts["parameters"]["g"] == sum(p.numel() for p in g.parameters()) and facts["parameters"]["d"] > 0
    assert facts["checkpoint"]["ema"] is True and facts["checkpoint"]["step"] == 3
    assert facts["last_metrics"]["step"] == 3 and facts["summary"]["step"] == 3
    assert facts["versions"] == {"ganforge": ganforge.__version__, "torch": torch.__version__}
    assert facts["config"]["model"]["name"] == "dcgan_tiny"


def test_info_of_what_is_not_a_run(cli, tiny_run, tmp_path):
    rc, _, err = cli("info", tmp_path / "nope")
    assert_user_error(rc, err, "does not exist")
    exported = tmp_path / "model.safetensors"
    exported.write_bytes(b"not a run")
    rc, _, err = cli("info", exported)
    assert_user_error(rc, err, f"'{exported}' is not a readable safetensors file")
    (tmp_path / "notes.txt").write_text("hello")
    rc, _, err = cli("info", tmp_path / "notes.txt")
    assert_user_error(rc, err, "is neither a run directory nor a one-file model")


def test_info_of_a_run_without_checkpoints(cli, tiny_run_copy):
    shutil.rmtree(tiny_run_copy / "checkpoints")
    rc, out, err = cli("info", tiny_run_copy, "--json")
    assert rc == 0, err
    facts = one_json(out)
    assert facts["checkpoint"] is None and facts["parameters"] == {} and facts["versions"] == {}
    assert facts["dataset"]["shape"] is None and facts["steps"]["trained"] == 0
    rc, out, err = cli("info", tiny_run_copy)
    assert rc == 0 and "checkpoint  none yet" in out and "versions    not recorded" in out
