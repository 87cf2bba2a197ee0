"""The studio's HTTP overhead: ``POST /api/sample`` (n=16) against ``handle.sample(16)`` in-process.

Issue 19's goal: HTTP overhead under 20 % at p50 on the quickstart model. One process: the quickstart
preset trained for ``--steps`` steps (the weights do not change the timing), opened as a handle; the
same handle served by uvicorn on localhost in a thread; then ``--requests`` calls of each kind,
alternating, seeds varying. The HTTP side includes what a client gets that the in-process call does
not: JSON parsing, PNG encoding and base64 of 16 images, and the round trip, on a new connection per
request (``urllib``). One JSON line.

``breakdown_p50_ms`` says where the difference goes, each part timed in its own pass of
``--requests // 2`` rounds that alternate it with the in-process call, as the main pass does (each
part's p50 beside that pass's in-process p50, since the load on the machine moves between passes):
``sample_on_studio_thread`` (``handle.sample(16)`` on the studio's compute thread),
``png_on_studio_thread`` (coding 16 samples as PNG data URIs there), ``round_trip_no_compute``
(``GET /api/models``: the HTTP stack alone, new connection), ``http_keepalive`` (``POST /api/sample``
on one kept-alive connection, as the studio's page in a browser sends it).

``cpu_p50_ms`` and ``http_cpu_overhead_p50`` count the process's CPU time during each call (all its
threads: client, server, compute, OpenMP) instead of wall time: the work a request adds, without
the waits for the scheduler that dominate wall times on a busy machine. It still moves with the
load (caches and cores are shared), less than the wall ratio. The goal is the wall-time ratio.

``in_process_alone`` is ``handle.sample(16)`` before the studio's thread first runs torch. Torch runs
its CPU kernels in a team of OpenMP threads per calling thread; from the studio's first computation
on, this process holds two teams, and where that is more threads than cores libgomp puts idle team
threads to sleep after every parallel region, for both sides alike. On an idle 2-core machine that
made both 1.5-2x slower than ``in_process_alone``; with other processes busy on the cores, it made
them several times faster (a spinning team fights them). The ratio compares like with like either
way; ``in_process_alone`` shows which case a run was in.

    python benchmarks/serve_latency.py --requests 100
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import torch
import uvicorn

import ganforge
from bench_common import machine_facts
from ganforge.serve import create_app
from ganforge.serve.core import png_uris

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


def alternate(
    local: Callable[[int], object], other: Callable[[int], object], rounds: int
) -> tuple[list, list, list, list]:
    """``rounds`` pairs of calls (after 3 uncounted), ``local(i)`` then ``other(i)``: their wall times,
    then the process's CPU time (all its threads) during each."""
    times: list[list[float]] = [[], [], [], []]
    for i in range(rounds + 3):
        start, cpu_start = time.perf_counter(), time.process_time()
        local(i)
        mid, cpu_mid = time.perf_counter(), time.process_time()
        other(i)
        end, cpu_end = time.perf_counter(), time.process_time()
        if i >= 3:
            for kept, value in zip(
                times, (mid - start, end - mid, cpu_mid - cpu_start, cpu_end - cpu_mid), strict=True
            ):
                kept.append(value)
    return times[0], times[1], times[2], times[3]


def cpu_p50(times: list[float]) -> float:
    return round(1000 * statistics.median(times), 2)


def breakdown(url: str, app: object, handle: object, n: int, rounds: int) -> dict[str, dict[str, float]]:
    """The parts of the HTTP side, p50 in ms, each beside the in-process call it alternated with."""
    worker = app.state.studio.worker  # type: ignore[attr-defined]
    samples = handle.sample(n)  # type: ignore[attr-defined]
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))

    def kept_alive(seed: int) -> None:
        connection.request("POST", "/api/sample", body=json.dumps({"n": n, "seed": seed}), headers=JSON)
        assert len(json.loads(connection.getresponse().read())["images"]) == n

    parts = {
        "sample_on_studio_thread": lambda seed: worker.submit(handle.sample, n, seed=seed).result(),  # type: ignore[attr-defined]
        "png_on_studio_thread": lambda seed: worker.submit(png_uris, samples).result(),
        "round_trip_no_compute": lambda seed: urllib.request.urlopen(url + "/api/models").read(),
        "http_keepalive": kept_alive,
    }
    local = lambda seed: handle.sample(n, seed=seed)  # type: ignore[attr-defined]  # noqa: E731
    timed = {name: alternate(local, part, rounds)[:2] for name, part in parts.items()}
    return {name: {"part": percentiles(other)["p50_ms"], "in_process": percentiles(own)["p50_ms"]}
            for name, (own, other) in timed.items()}  # fmt: skip


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
        alone = alternate(lambda i: handle.sample(args.n, seed=i), lambda i: None, args.requests)[0]
        app = create_app({"qs": handle})
        url, server = serve_in_thread(app)

        def remote(seed: int) -> None:
            body = json.dumps({"n": args.n, "seed": seed}).encode()
            with urllib.request.urlopen(
                urllib.request.Request(url + "/api/sample", data=body, headers=JSON)
            ) as got:
                assert len(json.loads(got.read())["images"]) == args.n

        local, http, local_cpu, http_cpu = alternate(
            lambda i: handle.sample(args.n, seed=i), remote, args.requests
        )
        parts = breakdown(url, app, handle, args.n, max(args.requests // 2, 10))
        server.should_exit = True
    in_process = {**percentiles(local), "cpu_p50_ms": cpu_p50(local_cpu)}
    http_times = {**percentiles(http), "cpu_p50_ms": cpu_p50(http_cpu)}
    print(json.dumps({
        "benchmark": "serve_latency", "model": "quickstart (dcgan 1x32x32)", "n": args.n,
        "requests": args.requests,
        "in_process": in_process, "http": http_times,
        "http_overhead_p50": round(http_times["p50_ms"] / in_process["p50_ms"] - 1, 3),
        "http_cpu_overhead_p50": round(http_times["cpu_p50_ms"] / in_process["cpu_p50_ms"] - 1, 3),
        "breakdown_p50_ms": parts, "in_process_alone": percentiles(alone),
        **machine_facts(torch.get_num_threads()),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
