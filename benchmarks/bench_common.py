"""What every benchmark line records about the machine, so two JSON lines can be compared honestly."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

import ganforge


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo``), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_facts(threads: int) -> dict[str, object]:
    """Threads used, cores, the 1-minute load (a busy machine makes times meaningless), versions."""
    return {
        "threads": threads,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "ganforge": ganforge.__version__,
        "python": platform.python_version(),
    }


def photo_patches(n: int, res: int, seed: int = 0) -> np.ndarray:
    """(n, res, res, 3) uint8 random crops of skimage's colour sample photos: real images, offline,
    up to 512 px (the photos' size)."""
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    photos = [p for p in photos if min(p.shape[:2]) >= res] or [data.astronaut()]
    rng = np.random.default_rng(seed)
    out = np.empty((n, res, res, 3), np.uint8)
    for i in range(n):
        img = photos[i % len(photos)]
        y, x = rng.integers(0, img.shape[0] - res + 1), rng.integers(0, img.shape[1] - res + 1)
        out[i] = img[y : y + res, x : x + res, :3]
    return out


def interleaved_rates(
    contestants: dict[str, Callable[[], None]], warmup: int, steps: int, rounds: int, batch: int
) -> dict[str, list[float]]:
    """Images/s of each contestant (a callable running one training step of ``batch`` images) per
    round: all warm up first, then the rounds interleave them, so a load that comes and goes on
    this noisy machine falls on every contestant alike. Callers report the median (and the spread)."""
    rates: dict[str, list[float]] = {name: [] for name in contestants}
    for step in contestants.values():
        for _ in range(warmup):
            step()
    for _ in range(rounds):
        for name, step in contestants.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            rates[name].append(steps * batch / (time.perf_counter() - t0))
    return rates
