"""The streamed folder (``data.cache: none``) against the in-memory one: speed and memory, one JSON line.

Issue 18 asks that a folder of photos train with memory bounded by the batch, not the folder, and that
the loader never be the bottleneck at 64-256 px with 2 workers. Measured in one run, on one machine:

1. a folder of ``--images`` JPEG/PNG photos cut from scikit-image's sample photos (random crops of
   240-400 px, some grey), written once to a temporary folder;
2. ``throughput``: images/s the streamed loader delivers at each ``--sizes`` (batch 16, ``--workers``
   processes, after a warm-up batch), beside the images/s of a DCGAN training step on the same batches
   where a bundled family trains at that size (dcgan: 32/64/128; ``null`` above), and their ratio
   (``loader_over_step`` > 1: the loader keeps up);
3. ``rss``: peak resident memory of a process that builds the folder dataset at 256 px and draws
   ``--rss-batches`` batches, ``cache: none`` (workers included) against ``cache: memory`` (the whole
   folder decoded into uint8 pixels, converted to floats per batch), each in a fresh subprocess;
4. ``memory_cache``: what the memory cache holds (uint8) beside what the float32 cache it replaced
   held, and the peak RSS of a third process that holds the same images as float32 (the uint8 cache
   read whole, ``x[:]``, then dropped: the float cache's footprint, measured in the same run).

    python benchmarks/data_pipeline.py                    # 5,000 images, sizes 64 and 256
    python benchmarks/data_pipeline.py --images 300 --quick   # a plumbing check
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import ganforge
from bench_common import machine_facts
from ganforge.config import load_config
from ganforge.data import build_dataset
from ganforge.training.build import build_session

PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "coins",
    "hubble_deep_field",
    "immunohistochemistry",
)


def make_folder(root: Path, n: int, seed: int = 0) -> Path:
    """``n`` crops of the sample photos, alternately JPEG and PNG, every tenth one grey."""
    import skimage.data

    photos = [np.asarray(getattr(skimage.data, name)()) for name in PHOTOS]
    rng = np.random.default_rng(seed)
    for i in range(n):
        photo = photos[i % len(photos)]
        side = int(rng.integers(240, 400))
        h, w = photo.shape[:2]
        top, left = int(rng.integers(0, max(1, h - side))), int(rng.integers(0, max(1, w - side)))
        image = Image.fromarray(photo[top : top + side, left : left + side]).convert(
            "L" if i % 10 == 9 else "RGB"
        )
        image.save(root / f"{i:05d}.{'jpg' if i % 2 else 'png'}", quality=90)
    return root


def loader_rate(folder: Path, size: int, workers: int, batches: int) -> float:
    data = {"name": "folder", "path": str(folder), "resolution": size, "cache": "none", "workers": workers,
            "channels": 3, "batch_size": 16}  # fmt: skip
    cfg = load_config({"data": data})
    dataset = build_dataset("folder", **{k: v for k, v in data.items() if k not in ("name", "batch_size")})
    stream = dataset.stream(dataset, cfg, torch.device("cpu"), False)
    next(stream)  # workers started, first batch decoded
    t0 = time.perf_counter()
    for _ in range(batches):
        next(stream)
    return 16 * batches / (time.perf_counter() - t0)


def step_rate(folder: Path, size: int, workers: int, steps: int) -> float | None:
    """DCGAN training steps on the streamed folder at ``size`` (None where dcgan has no such size)."""
    if size not in (32, 64, 128):
        return None
    data = {"name": "folder", "path": str(folder), "resolution": size, "cache": "none", "workers": workers,
            "channels": 3, "batch_size": 16}  # fmt: skip
    cfg = load_config(
        {"model": {"name": "dcgan"}, "data": data, "train": {"device": "cpu", "steps": steps + 1}}
    )
    trainer = build_session(cfg, None).trainer
    trainer.train_step()  # warm-up: the first batch and the optimisers' state
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return 16 * steps / (time.perf_counter() - t0)


def peak_rss_mb(
    folder: Path, cache: str, workers: int, batches: int, floats: bool = False
) -> tuple[float, float]:
    """Peak RSS (MB) of a fresh process that builds the dataset at 256 px and draws ``batches``, and
    the MB its images hold (0 streamed); ``floats``: the memory cache turned into float32 first."""
    code = f"""
import dataclasses, resource, torch
from ganforge.config import load_config
from ganforge.data import build_dataset
data = dict(path={str(folder)!r}, resolution=256, channels=3, cache={cache!r}, workers={workers})
ds = build_dataset("folder", **data)
if {floats!r}:
    ds = dataclasses.replace(ds, x=ds.x[:])  # the float32 cache this one replaced
held = getattr(ds.x, "pixels", ds.x).nbytes if {cache!r} == "memory" else 0
cfg = load_config({{"data": {{"name": "folder", "batch_size": 16, **data}}}})
stream = ds.stream(ds, cfg, torch.device("cpu"), False) if ds.stream else None
if stream is None:
    from ganforge.data.loader import BatchStream
    stream = BatchStream(ds, 16)
for _ in range({batches}):
    next(stream)
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(own + kids, held)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    rss_kb, held = out.strip().splitlines()[-1].split()
    return round(int(rss_kb) / 1024, 1), round(int(held) / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=30, help="timed batches per size")
    parser.add_argument("--rss-batches", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="few batches: checks the plumbing only")
    args = parser.parse_args()
    if args.quick:
        args.batches, args.rss_batches = 3, 3
    torch.set_num_threads(2)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_folder(Path(tmp), args.images)
        throughput = {}
        for size in args.sizes:
            loader = loader_rate(folder, size, args.workers, args.batches)
            step = step_rate(folder, size, args.workers, max(2, args.batches // 3))
            throughput[str(size)] = {
                "loader_img_per_s": round(loader, 1),
                "dcgan_step_img_per_s": None if step is None else round(step, 1),
                "loader_over_step": None if step is None else round(loader / step, 2),
            }
        measured = {
            cache: peak_rss_mb(folder, cache, args.workers, args.rss_batches) for cache in ("none", "memory")
        }
        rss = {cache: peak for cache, (peak, _) in measured.items()}
        float_peak, float_held = peak_rss_mb(folder, "memory", args.workers, args.rss_batches, floats=True)
    memory_cache = {
        "dtype": "uint8",
        "held_mb": measured["memory"][1],
        "peak_rss_mb": rss["memory"],
        "float32_held_mb": float_held,
        "float32_peak_rss_mb": float_peak,
        "peak_ratio_uint8_over_float32": round(rss["memory"] / float_peak, 3),
    }
    line = {
        "benchmark": "data_pipeline",
        "images": args.images,
        "workers": args.workers,
        "throughput": throughput,
        "peak_rss_mb_256px": rss,
        "rss_ratio_none_over_memory": round(rss["none"] / rss["memory"], 3),
        "memory_cache_256px": memory_cache,
        "goal": "loader_over_step > 1 at 64-256 px with 2 workers; peak RSS < 1500 MB without cache",
        "total_wall_s": round(time.perf_counter() - t_start, 1),
        "machine": machine_facts(2),
        "ganforge": ganforge.__version__,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
