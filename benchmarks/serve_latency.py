"""The studio's HTTP overhead: ``POST /api/sample`` (n=16) against ``handle.sample(16)`` in-process.

Issue 19's goal: HTTP overhead under 20 % at p50 on the quickstart model. One process: the quickstart
preset trained for ``--steps`` steps (the weights do not change the timing), opened as a handle; the
same handle served by uvicorn on localhost in a thread; then ``--requests`` calls of each kind,
alternating, seeds varying. The HTTP side includes what a client gets that the in-process call does
not: JSON parsing, PNG encoding and base64 of 16 images, and the round trip. One JSON line.

    python benchmarks/serve_latency.py --requests 100
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import torch
import uvicorn

import ganforge
from bench_common import machine_facts
from ganforge.serve import create_app

JSON = {"Content-Type": "application/json"}


def serve_in_thread(app: object) -> tuple[str, uvicorn.Server]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": round(1000 * statistics.median(ordered), 2),
            "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 2),
            "per_s": round(len(times) / sum(times), 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [f"train.steps={args.steps}", "train.progress=false", "train.device=cpu"]
        run = ganforge.train("quickstart", out=Path(tmp) / "qs", overrides=overrides)
        handle = ganforge.load(run.path)
        url, server = serve_in_thread(create_app({"qs": handle}))
        body = lambda seed: json.dumps({"n": args.n, "seed": seed}).encode()  # noqa: E731
        local, remote = [], []
        for i in range(args.requests + 3):  # 3 warm-up rounds, not counted
            start = time.perf_counter()
            handle.sample(args.n, seed=i)
            mid = time.perf_counter()
            request = urllib.request.Request(
                url + "/api/sample", data=body(i), headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request) as response:
                assert len(json.loads(response.read())["images"]) == args.n
            end = time.perf_counter()
            if i >= 3:
                local.append(mid - start)
                remote.append(end - mid)
        server.should_exit = True
    in_process, http = percentiles(local), percentiles(remote)
    print(json.dumps({
        "benchmark": "serve_latency", "model": "quickstart (dcgan 1x32x32)", "n": args.n,
        "requests": args.requests,
        "in_process": in_process, "http": http,
        "http_overhead_p50": round(http["p50_ms"] / in_process["p50_ms"] - 1, 3),
        **machine_facts(torch.get_num_threads()),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
