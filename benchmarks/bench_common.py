"""What every benchmark line records about the machine, so two JSON lines can be compared honestly."""

from __future__ import annotations

import os
import platform
from pathlib import Path

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
