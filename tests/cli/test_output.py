"""Everyday output: ``sample -o DIR/`` (one PNG per sample, ``labels.csv``) and ``sample --json``.
JSON commands print exactly one JSON object on stdout; their messages go to stderr."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
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
