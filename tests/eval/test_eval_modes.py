"""``ganforge eval RUN --metrics modes``: the JSON contract, the eval record, and the error cases.

The main check builds a generator whose answer is known in advance: its EMA weights are edited so
that every sample lands exactly on one chosen mode centre of the ring (a perfectly collapsed GAN).
The metric must then report 1 of 8 modes, 100% high quality and reverse KL = log 8, which proves
the evaluation reads the EMA weights and the run's own mixture (a non-default radius) correctly.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import ganforge
from ganforge.cli.main import main
from ganforge.data import mixture_spec
from ganforge.errors import ConfigError, EvalError
from ganforge.evaluation import METRICS, evaluate
from ganforge.metrics import mode_coverage
from ganforge.testing import plain

KEYS = {"modes_covered", "modes_total", "hq_fraction", "reverse_kl"}
RING = {"name": "toy2d", "kind": "ring", "modes": 8, "radius": 2.0, "std": 0.05, "batch_size": 16}


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mlp_tiny on a ring of radius 2 for 10 steps (its samples are not yet on the ring). Read-only."""
    cfg = {
        "model": {"name": "mlp_tiny"},
        "data": dict(RING),
        "train": {"steps": 10, "progress": False, "log_every": 5},
    }
    return ganforge.train(cfg, out=tmp_path_factory.mktemp("ring") / "run").path


def collapse_ema_generator(run: Path, point: torch.Tensor) -> None:
    """Make the EMA generator output ``point`` for every z: zero the last layer, bias = point."""
    ckpt = sorted((run / "checkpoints").glob("step_*.safetensors"))[-1]
    tensors = load_file(str(ckpt))
    last = max(int(k.split(".")[3]) for k in tensors if k.startswith("ema.g.net."))
    tensors[f"ema.g.net.{last}.weight"].zero_()
    tensors[f"ema.g.net.{last}.bias"].copy_(point)
    save_file(tensors, str(ckpt))
    sidecar = ckpt.with_suffix(".json")  # a deliberate edit: record its hash, or it reads as damaged
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "sha256": hashlib.sha256(ckpt.read_bytes()).hexdigest()}))


def test_json_prints_exactly_the_four_keys_of_a_known_collapse(ring_run, tmp_path, cli):
    run = Path(shutil.copytree(ring_run, tmp_path / "run"))
    centers, _ = mixture_spec("ring", 8, 0.05, 2.0)
    collapse_ema_generator(run, torch.tensor(centers[3], dtype=torch.float32))
    rc, out, _ = cli("eval", run, "--metrics", "modes", "--json")
    assert rc == 0
    assert len(out.strip().splitlines()) == 1  # one JSON object and nothing else on stdout
    values = json.loads(out)
    assert set(values) == KEYS
    assert values["modes_covered"] == 1 and values["modes_total"] == 8
    assert values["hq_fraction"] == 1.0
    assert values["reverse_kl"] == pytest.approx(math.log(8))


def test_a_point_between_modes_is_low_quality(ring_run, tmp_path, cli):
    run = Path(shutil.copytree(ring_run, tmp_path / "run"))
    collapse_ema_generator(run, torch.tensor([0.0, 0.0]))  # the ring's centre: 2 away from every mode
    rc, out, _ = cli("eval", run, "--json")  # modes is the default metric
    assert rc == 0
    assert json.loads(out) == {"modes_covered": 0, "modes_total": 8, "hq_fraction": 0.0,
                               "reverse_kl": pytest.approx(math.log(8))}  # fmt: skip


def test_values_match_the_metric_on_the_same_samples(ring_run, tmp_path):
    """--no-ema, --n and --seed reach the sampler: same numbers as mode_coverage on load(...).sample."""
    run = Path(shutil.copytree(ring_run, tmp_path / "run"))
    centers, std = mixture_spec("ring", 8, 0.05, 2.0)
    for ema, seed in ((False, 0), (False, 7), (True, 3)):
        expected = mode_coverage(ganforge.load(run, ema=ema).sample(500, seed=seed), centers, std)
        assert evaluate(run, "modes", n=500, seed=seed, ema=ema).values == expected


def test_eval_record_holds_what_is_needed_to_compare_numbers(ring_run, tmp_path, cli):
    run = Path(shutil.copytree(ring_run, tmp_path / "run"))
    rc, out, _ = cli("eval", run, "--json", "--n", 300, "--seed", 5, "--no-ema")
    assert rc == 0
    rc, _, _ = cli("eval", run, "--n", 300, "--seed", 5, "--no-ema")  # a second record, same second
    assert rc == 0
    records = sorted((run / "eval").glob("*.json"))
    assert len(records) == 2  # never overwritten
    rec = json.loads(records[0].read_text())
    assert rec["metrics"]["modes"] == {"extractor": "raw", "values": json.loads(out)}
    assert (rec["n"], rec["seed"], rec["generator"]) == (300, 5, "raw")
    assert rec["step"] == 10 and rec["checkpoint"] == "step_000010.safetensors"
    assert rec["dataset"]["name"] == "toy2d"
    assert rec["dataset"]["params"] == {"kind": "ring", "modes": 8, "radius": 2.0, "std": 0.05}
    assert rec["dataset"]["mixture"] == {"kind": "ring", "modes": 8, "radius": 2.0, "std": 0.05}
    assert rec["ganforge_version"] == ganforge.__version__
    assert not list((run / "eval").glob(".*.tmp"))  # atomic writes leave no temporary files


def test_readable_table_without_json(ring_run, tmp_path, cli):
    run = Path(shutil.copytree(ring_run, tmp_path / "run"))
    rc, out, err = cli("eval", run)
    assert rc == 0
    for key in KEYS:
        assert f"modes.{key}" in out
    assert "recorded in" in err


def test_modes_on_an_image_run_is_a_one_line_error(tiny_image_run, cli):
    before = sorted(p.name for p in tiny_image_run.path.iterdir())
    rc, out, err = cli("eval", tiny_image_run.path, "--metrics", "modes", "--json")
    assert rc == 2 and out == ""
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "toy2d" in err and "digits" in err
    assert sorted(p.name for p in tiny_image_run.path.iterdir()) == before  # no eval/ written
    with pytest.raises(EvalError):
        evaluate(tiny_image_run.path, "modes")


def test_unknown_metric_and_bad_inputs(ring_run, tmp_path, cli):
    rc, _, err = cli("eval", ring_run, "--metrics", "mode")
    assert rc == 2 and "unknown metric 'mode'" in err and "did you mean 'modes'" in err
    rc, _, err = cli("eval", tmp_path, "--json")
    assert rc == 2 and "not a ganforge run" in err
    rc, _, err = cli("eval", tmp_path / "missing")
    assert rc == 2 and "does not exist" in err
    with pytest.raises(ConfigError, match="at least one metric"):
        evaluate(ring_run, ",")
    with pytest.raises(ConfigError, match="positive integer"):
        evaluate(ring_run, "modes", n=0)


def test_help_documents_the_coverage_rule(cli, capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = plain(capsys.readouterr().out)
    assert "3 * std" in text and "0.2 * n / K" in text and "reverse_kl" in text
    assert set(METRICS["modes"].keys) == KEYS
