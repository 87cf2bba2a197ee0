"""``ganforge augment`` (issue 19, item 7): a labelled set of real + generated examples, balanced
per class, as a folder with labels.csv, an .npz, or a table with a ``synthetic`` column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import ganforge
from ganforge.cli.main import main
from ganforge.errors import ConfigError, DataError
from ganforge.synthetic import augment


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cgan_tiny on the 8x8 sklearn digits (10 classes, 1,797 images), 3 steps."""
    cfg = {"model": {"name": "cgan_tiny"}, "data": {"name": "digits", "batch_size": 16},
           "objective": {"name": "gan"}, "train": {"steps": 3, "progress": False}}  # fmt: skip
    return ganforge.train(cfg, out=tmp_path_factory.mktemp("cond") / "run").path


def test_a_folder_holds_real_then_generated_images_and_their_labels(
    conditional_run: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "set"
    assert main(["augment", str(conditional_run), "--per-class", "3", "-o", str(out), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    labels = pd.read_csv(out / "labels.csv")
    assert counts["synthetic"] == 30 and counts["real"] == len(labels) - 30 > 0
    assert list(labels.columns) == ["file", "label", "synthetic"]
    fake = labels[labels.synthetic == 1]
    assert fake.label.value_counts().to_dict() == {c: 3 for c in range(10)}
    assert labels.synthetic.iloc[0] == 0 and labels.synthetic.iloc[-1] == 1  # real first
    assert Image.open(out / labels.file.iloc[-1]).size == (32, 32)
    assert len(list(out.glob("*.png"))) == len(labels)


def test_an_npz_of_generated_images_matches_sampling(conditional_run: Path, tmp_path: Path) -> None:
    augment(conditional_run, tmp_path / "set.npz", per_class=2, seed=5, synthetic_only=True)
    arrays = np.load(tmp_path / "set.npz")
    assert arrays["x"].shape == (20, 1, 32, 32) and arrays["synthetic"].all()
    assert list(arrays["y"]) == [c for c in range(10) for _ in range(2)]
    again = ganforge.load(conditional_run).sample(20, seed=5, labels=arrays["y"])
    assert np.array_equal(arrays["x"], again.numpy())


def test_bad_requests_are_refused(
    conditional_run: Path, tiny_image_run: ganforge.Run, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="class-conditional generator"):
        augment(tiny_image_run.path, tmp_path / "x.npz", per_class=2)
    with pytest.raises(ConfigError, match="positive"):
        augment(conditional_run, tmp_path / "x.npz", per_class=0)
    with pytest.raises(ConfigError, match="write the set to"):
        augment(conditional_run, tmp_path / "x.csv", per_class=1)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.png").write_bytes(b"")
    with pytest.raises(ConfigError, match="not empty; pass --force"):
        augment(conditional_run, tmp_path / "full", per_class=1)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ConfigError, match=r"write the set to a \.npz file"):
        augment(conditional_run, tmp_path / "a_file", per_class=1, force=True)


def test_force_replaces_a_folder_whole(conditional_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "set.v2"  # a folder whose name has a dot
    out.mkdir()
    augment(conditional_run, out, per_class=3, synthetic_only=True, force=True)
    augment(conditional_run, out, per_class=1, synthetic_only=True, force=True)
    assert len(list(out.glob("*.png"))) == 10 and len(pd.read_csv(out / "labels.csv")) == 10


def test_a_table_is_balanced_by_conditional_sampling(tmp_path: Path) -> None:
    sets = ["model.name=ctgan_tiny", "train.steps=2", "train.device=cpu", "train.progress=false"]
    flags = [a for s in sets for a in ("--set", s)]
    assert main(["train", "tabular/ctgan", "--out", str(tmp_path / "iris"), *flags]) == 0
    out = tmp_path / "iris_aug.csv"
    counts = augment(tmp_path / "iris", out, per_class=4, label_column="target")
    table = pd.read_csv(out)
    assert counts == {"path": str(out), "real": 150, "synthetic": 12, "classes": 3, "per_class": 4}
    fake = table[table.synthetic]
    assert fake.target.value_counts().to_dict() == {"setosa": 4, "versicolor": 4, "virginica": 4}
    with pytest.raises(DataError, match="not a column of the model"):
        augment(tmp_path / "iris", tmp_path / "x.csv", per_class=1, label_column="species")
    with pytest.raises(ConfigError, match="continuous"):
        augment(tmp_path / "iris", tmp_path / "x.csv", per_class=1, label_column="sepal length (cm)")
