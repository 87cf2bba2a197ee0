"""``train.compile: true`` wraps every network with torch.compile and still trains (slow: compiles C++)."""

import json
import math

import pytest

import ganforge


@pytest.mark.slow
def test_compiled_training_matches_eager_losses_closely(tmp_path):
    base = {
        "model": {"name": "mlp_tiny"},
        "data": {"name": "toy2d", "kind": "ring", "batch_size": 64},
        "train": {"steps": 20, "log_every": 10, "progress": False, "ema_kimg": 0},
    }
    runs = {}
    for compiled in (False, True):
        raw = json.loads(json.dumps(base))
        raw["train"]["compile"] = compiled
        runs[compiled] = ganforge.train(raw, out=tmp_path / f"compile_{compiled}").metrics()
    for eager, comp in zip(runs[False], runs[True], strict=True):
        assert eager["step"] == comp["step"]
        for key in ("loss_d", "loss_g"):
            assert math.isfinite(comp[key])
            assert comp[key] == pytest.approx(eager[key], rel=1e-3, abs=1e-4)
