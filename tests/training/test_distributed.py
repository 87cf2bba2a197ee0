"""Data-parallel training on 2 CPU processes (gloo, under torchrun) is single-process training.

The data stream hands rank r the r-th slice of every global batch and ``Context.randn`` hands it
the r-th slice of the global noise, and gradients are averaged; so with a model without BatchNorm
two processes with global batch 64 compute what one process with batch 64 computes, up to the
summation order of the all-reduce.
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest
import torch
import yaml
from safetensors.torch import load_file
from training_helpers import (
    PYTHON,
    SUBPROCESS_ENV,
    assert_tensors_equal,
    final_checkpoint,
    free_port,
    make_config,
    read_metrics,
)

import ganforge
from ganforge.training.checkpoint import load_checkpoint

# Runs `ganforge train` (the CLI's own main) on every rank, then has each rank save the full state
# its trainer ended with. Rank 1 checks the run dir late on purpose: rank 0 must not have written
# into it by then (a fresh run refuses a folder that already holds one).
RANK_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from safetensors.torch import save_file
    import ganforge.rundir
    from ganforge.cli.main import main
    from ganforge.training.trainer import Trainer

    states, config, out = sys.argv[1:4]
    rank = int(os.environ["RANK"])
    fit = Trainer.fit

    def fit_and_save(self):
        fit(self)
        tensors, _ = self.state_tensors()
        tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
        save_file(tensors, os.path.join(states, f"rank{rank}.safetensors"))

    Trainer.fit = fit_and_save
    if rank == 1:
        prepare = ganforge.rundir.prepare_run_dir

        def late_prepare(*args, **kwargs):
            time.sleep(0.5)
            return prepare(*args, **kwargs)

        ganforge.rundir.prepare_run_dir = late_prepare
    sys.exit(main(["train", config, "--out", out]))
    """
)


def test_two_gloo_processes_stay_in_sync_and_match_one_process(tmp_path):
    steps, batch = 40, 64
    raw = make_config(batch_size=batch, train={"steps": steps, "log_every": 10, "ckpt_every": 20})
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(raw))
    script = tmp_path / "rank_main.py"
    script.write_text(RANK_SCRIPT)
    states, dist_run = tmp_path / "states", tmp_path / "dist"
    states.mkdir()

    cmd = [PYTHON, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={free_port()}", str(script), str(states), str(config), str(dist_run)]  # fmt: skip
    proc = subprocess.run(cmd, env=SUBPROCESS_ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    # (a) the ranks end identical, bit for bit, and rank 0's is the state the run dir holds
    rank0, rank1 = (load_file(str(states / f"rank{r}.safetensors")) for r in (0, 1))
    assert_tensors_equal(rank0, rank1)
    dist_tensors, dist_meta = final_checkpoint(dist_run)
    assert_tensors_equal(dist_tensors, rank0)
    assert dist_meta["step"] == steps and dist_meta["images_seen"] == steps * batch

    # only rank 0 writes: one log line per log step, and the summary knows the world size
    lines = read_metrics(dist_run)
    assert [m["step"] for m in lines] == [10, 20, 30, 40]
    assert lines[-1]["kimg"] == steps * batch / 1000
    summary = json.loads((dist_run / "summary.json").read_text())
    assert summary["world_size"] == 2

    # (b) one process with the same global batch computes the same run
    single = ganforge.train(raw, out=tmp_path / "single")
    single_tensors, single_meta = final_checkpoint(single.path)
    assert single_meta["images_seen"] == dist_meta["images_seen"]
    assert single_meta["data"] == dist_meta["data"]
    # every rank drew the global noise batch and kept its slice: the same RNG stream as one process
    assert torch.equal(single_tensors["rng.torch"], dist_tensors["rng.torch"])
    learned = [k for k in single_tensors if not k.startswith("rng.")]
    assert set(learned) == {k for k in dist_tensors if not k.startswith("rng.")}
    assert any(k.startswith("ema.") for k in learned) and any(k.startswith("optim.") for k in learned)
    for key in learned:
        a, b = single_tensors[key].double(), dist_tensors[key].double()
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5), f"{key}: max diff {(a - b).abs().max()}"
    # every logged statistic is the one-process value, window after window (each rank empties its
    # window at every log step; a rank that kept adding to it would drift by half a window each time)
    clock = ("time", "img_per_s")
    for dist_line, single_line in zip(lines, read_metrics(single.path), strict=True):
        assert dist_line.keys() == single_line.keys()
        for key in (k for k in single_line if k not in clock):
            assert dist_line[key] == pytest.approx(single_line[key], rel=1e-3, abs=1e-4), (
                dist_line["step"],
                key,
            )
    # and the tolerance is far below what training moves: steps 21-40 changed G by much more
    halfway = load_checkpoint(single.path / "checkpoints" / "step_000020.safetensors")[0]
    moved = (single_tensors["nets.g.net.0.weight"] - halfway["nets.g.net.0.weight"]).abs().max()
    assert moved > 100 * 1e-5
