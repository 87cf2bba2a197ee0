"""ADA's controller (Karras et al. 2020, Sec. 3): p follows r_t = E[sign(D(real))] towards its target."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

from ganforge.augment import build_augment
from ganforge.augment.ada import P_MAX, AdaController
from ganforge.data import build_dataset
from ganforge.errors import ConfigError
from ganforge.registry import create_model


def logits(positive: int, negative: int) -> torch.Tensor:
    return torch.cat([torch.rand(positive) + 0.1, -torch.rand(negative) - 0.1])


def test_p_rises_above_target_and_falls_below_it() -> None:
    ctl = AdaController(target=0.6, ada_kimg=1.0, interval=4)
    for _ in range(3):
        ctl.observe(logits(9, 1))  # r_t = 0.8 > 0.6: D overfits
    assert ctl.p == 0.0 and ctl.rt is None  # no update before `interval` D steps
    ctl.observe(logits(9, 1))
    assert ctl.p == pytest.approx(4 * 10 / 1000) and ctl.rt == pytest.approx(0.8)  # batch*interval/kimg
    for _ in range(4):
        ctl.observe(logits(3, 7))  # r_t = -0.4 < 0.6
    assert ctl.p == pytest.approx(0.0, abs=1e-12) and ctl.rt == pytest.approx(-0.4)
    for _ in range(4):
        ctl.observe(logits(6, 4))  # r_t == target: p stays
    assert ctl.p == pytest.approx(0.0, abs=1e-12)


def test_p_stays_in_zero_one() -> None:
    ctl = AdaController(ada_kimg=0.001, interval=1)  # each update moves p by 8
    ctl.observe(logits(0, 8))
    assert ctl.p == 0.0
    for _ in range(3):
        ctl.observe(logits(8, 0))
        assert ctl.p == P_MAX < 1.0


def test_speed_counts_images_not_logits() -> None:
    ctl = AdaController(ada_kimg=1.0, interval=2)
    for _ in range(2):
        ctl.observe(torch.ones(8, 1, 4, 4))  # patch logits: 16 per image
    assert ctl.p == pytest.approx(16 / 1000)


def test_state_dict_round_trip_is_exact() -> None:
    torch.manual_seed(0)
    batches = [torch.randn(12) + 1.5 for _ in range(11)]
    a = build_augment("ada", ada_kimg=0.2, interval=4)
    for x in batches[:6]:
        a.observe(x)
    state = json.loads(json.dumps(a.state_dict()))  # what the checkpoint's JSON sidecar holds
    assert state["steps"] == 2 and state["images"] == 24 and state["p"] > 0
    b = build_augment("ada", ada_kimg=0.2, interval=4)
    b.load_state_dict(state)
    assert b.state_dict() == a.state_dict()
    for x in batches[6:]:
        a.observe(x)
        b.observe(x)
    assert b.state_dict() == a.state_dict() and a.p == b.p > state["p"]


def test_bad_controller_settings_are_config_errors() -> None:
    for kwargs, key in (
        ({"target": 1.0}, "ada_target"),
        ({"ada_kimg": 0}, "ada_kimg"),
        ({"interval": 0}, "ada_interval"),
    ):
        with pytest.raises(ConfigError, match=key):
            build_augment("ada", **kwargs)


def test_p_rises_when_d_overfits_a_tiny_dataset() -> None:
    """16 faces vs a fixed untrained generator's images: D soon separates them, r_t -> 1, p climbs."""
    torch.manual_seed(0)
    nets = create_model("dcgan_tiny", shape=(1, 32, 32))
    g, d = nets["g"].eval(), nets["d"]
    real = build_dataset("faces", resolution=32).x[:16]
    with torch.no_grad():
        fake = g(torch.randn(16, g.z_dim))
    aug = build_augment("ada", ada_kimg=0.5, interval=4)  # one update moves p by 64 / 500
    opt = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
    ps = []
    for _ in range(40):
        real_logits, fake_logits = d(aug(real)).reshape(-1), d(aug(fake)).reshape(-1)
        aug.observe(real_logits)
        loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        ps.append(aug.p)
    assert ps[-1] > 0.5, ps
    assert aug.stats()["ada_rt"] > 0.6


RANK_SCRIPT = textwrap.dedent(
    """
    import sys, torch, torch.distributed as dist
    from ganforge.augment.ada import AdaController
    rank, port = int(sys.argv[1]), sys.argv[2]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    ctl = AdaController(ada_kimg=1.0, interval=2, p=0.5)
    for _ in range(2):
        ctl.observe(torch.ones(8) if rank == 0 else -torch.ones(8))
    print(repr(ctl.p), repr(ctl.rt))
    dist.destroy_process_group()
    """
)


def test_sign_statistics_are_summed_across_processes() -> None:
    """Rank 0 alone would see r_t = 1 and raise p; together with rank 1 r_t = 0, so both lower it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RANK_SCRIPT, str(rank), port], env=env, stdout=subprocess.PIPE, text=True
        )
        for rank in range(2)
    ]
    outs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    for p, rt in outs:
        assert float(p) == pytest.approx(0.5 - 2 * 16 / 1000) and float(rt) == 0.0
