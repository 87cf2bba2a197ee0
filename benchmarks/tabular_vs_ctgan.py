"""TabularGAN vs the reference ``ctgan`` package, both at their defaults, in one run: one JSON line.

Why: ``TabularGAN`` is CTGAN (Xu et al. 2019) on ganforge's Trainer, with early stopping and weight
averaging on by default. The claim to check (issue): at least 3x faster fit than the ``ctgan`` package
at equal or better quality. Both are measured in the same run, on the same machine, with the same
thread count, so the ratio means something even on a busy machine (the load is recorded too).

Per table (``--tables``; default ``fair`` and ``penguins``) and seed:

1. a seeded 80/20 split of the table into train and holdout (rows with missing cells dropped first:
   only ``penguins`` has some, 11 rows; ``ctgan`` rejects NaN in continuous columns);
2. ``ctgan`` fits in a *separate* Python (``--ctgan-python``; the package is never a ganforge
   dependency) through a small driver this script writes to a temporary file: it reads the train CSV,
   fits ``CTGAN()`` at its defaults (300 epochs, batch 500, ...; ``--ctgan-epochs`` overrides for quick
   checks), samples as many rows as train has, writes them as CSV and prints its fit/sample seconds;
3. ``TabularGAN()`` fits in this process at its defaults (300 epochs at most, early stopping on a 10%
   validation split of the train rows; ``--ganforge-epochs`` overrides) and samples as many rows;
4. both synthetic tables are scored by ``evaluate_tabular(train, synthetic, discrete, holdout=holdout,
   target=...)``: quality (SDMetrics-style column shapes and pair trends), ML efficacy (train on
   synthetic, test on the holdout, vs train on real) and DCR (privacy).

Times are the ``fit`` and ``sample`` calls alone, in steady state: before each timed fit, each side
runs an untimed 1-epoch fit of the same table in the same process (``--no-warmup`` skips it). Without
that, one-time costs (torch imports ``torch._dynamo`` at the first optimiser, ~2 s here) land in the
timed fit: in every seed for ctgan (a fresh subprocess each time) but only the first for ganforge (one
process), which would flatter ganforge on small tables. ``process_s`` is the ctgan child's whole life
(interpreter start, imports, CSV I/O, warm-up). ``fit_speedup`` = ctgan fit_s / ganforge fit_s
(means over seeds); ``quality_delta`` = ganforge quality - ctgan quality; ``meets_goal`` = speedup >= 3
and delta >= -``--quality-tolerance`` (default 0: "equal or better"). Numbers are ``[mean, std]`` over
seeds. The default is ONE seed because a ctgan fit of ``fair`` takes minutes on 2 cores; one seed
cannot separate a quality difference of ~0.01 from seed noise, so use ``--seeds 3`` before claiming one.

    python benchmarks/tabular_vs_ctgan.py --ctgan-python /tmp/ctgan_venv/bin/python
    python benchmarks/tabular_vs_ctgan.py --setup-ctgan-venv ~/.cache/ganforge-ctgan-venv   # create, then run
    python benchmarks/tabular_vs_ctgan.py --ctgan-python ... --quick          # a < 2 min plumbing check
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench_common import machine_facts
from ganforge.data.tables import TABLE_NAMES, load_table
from ganforge.metrics.tabular import evaluate_tabular
from ganforge.tabular import TabularGAN

TABLES = ("fair", "penguins")
HOLDOUT_FRACTION = 0.2
GOAL_SPEEDUP = 3.0
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
QUICK_EPOCHS = 2

# The ctgan side, run by the other interpreter. Only the standard library, pandas, torch and ctgan:
# it must not import ganforge (not installed there) and must time exactly fit() and sample().
DRIVER = '''\
"""ctgan driver written by ganforge's benchmarks/tabular_vs_ctgan.py: fit, sample, time, report JSON."""
import argparse, json, time

import pandas as pd
import torch

p = argparse.ArgumentParser()
p.add_argument("--train", required=True)
p.add_argument("--out", required=True)
p.add_argument("--discrete", required=True, help="JSON list of discrete column names")
p.add_argument("--n", type=int, required=True)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--epochs", type=int, default=None, help="None: ctgan's default")
p.add_argument("--threads", type=int, required=True)
p.add_argument("--device", default="cpu")
p.add_argument("--warmup", action="store_true", help="an untimed 1-epoch fit first")
a = p.parse_args()
torch.set_num_threads(a.threads)
try:  # BLAS threads of scikit-learn's mixture models, which ctgan's transformer fits
    from threadpoolctl import threadpool_limits
    threadpool_limits(a.threads)
except ImportError:
    pass
import ctgan
from ctgan import CTGAN

train = pd.read_csv(a.train)
discrete = json.loads(a.discrete)
kwargs = {} if a.epochs is None else {"epochs": a.epochs}
if a.warmup:  # one-time costs (lazy imports at the first optimiser, ...) out of the timed fit
    CTGAN(epochs=1, enable_gpu=a.device != "cpu").fit(train, discrete_columns=discrete)
model = CTGAN(enable_gpu=a.device != "cpu", **kwargs)
model.set_random_state(a.seed)
t0 = time.perf_counter()
model.fit(train, discrete_columns=discrete)
fit_s = time.perf_counter() - t0
t0 = time.perf_counter()
synthetic = model.sample(a.n)
sample_s = time.perf_counter() - t0
synthetic.to_csv(a.out, index=False)
print(json.dumps({"fit_s": fit_s, "sample_s": sample_s, "epochs": model._epochs,
                  "ctgan": ctgan.__version__, "torch": torch.__version__}))
'''


# ---------------------------------------------------------------------------- environments
def thread_env(threads: int) -> dict[str, str]:
    """The child's environment with every BLAS/OpenMP pool capped at ``threads``."""
    return {**os.environ, **dict.fromkeys(THREAD_ENV, str(threads))}


def check_ctgan_python(python: str) -> str:
    """``ctgan``'s version under ``python``, or exit with a one-line hint."""
    probe = [python, "-c", "import ctgan; print(ctgan.__version__)"]
    try:
        out = subprocess.run(probe, capture_output=True, text=True, timeout=300, check=True)
    except (OSError, subprocess.SubprocessError) as err:
        sys.exit(
            f"error: cannot import ctgan with '{python}' ({err}); create an environment with"
            " --setup-ctgan-venv DIR"
        )
    return out.stdout.strip()


def setup_ctgan_venv(directory: Path, pip_args: list[str]) -> str:
    """A fresh venv at ``directory`` holding ctgan and this process's torch version; its python.

    ctgan is installed there, never into ganforge's environment: it is a yardstick, not a dependency.
    The same torch version on both sides keeps kernel differences out of the timing (pass index
    options, e.g. a CPU-only torch index, through ``--ctgan-pip-args``).
    """
    python = directory / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(directory)
    torch_pin = f"torch=={torch.__version__.split('+')[0]}"
    subprocess.run([str(python), "-m", "pip", "install", "-q", *pip_args, torch_pin, "ctgan"], check=True)
    return str(python)


# ---------------------------------------------------------------------------- one fit each
def split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded 80/20 train/holdout split (index renumbered: both sides get identical frames)."""
    perm = np.random.default_rng(seed).permutation(len(frame))
    n_hold = round(HOLDOUT_FRACTION * len(frame))
    train = frame.iloc[perm[n_hold:]].reset_index(drop=True)
    return train, frame.iloc[perm[:n_hold]].reset_index(drop=True)


def fit_ganforge(
    train: pd.DataFrame, discrete: list[str], seed: int, device: str, epochs: int | None, warmup: bool
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit and sample TabularGAN in-process at its defaults (``epochs`` only when overridden)."""
    kwargs: dict[str, Any] = {} if epochs is None else {"epochs": epochs}
    if warmup:  # the same untimed 1-epoch fit the ctgan driver does
        TabularGAN(epochs=1, seed=seed, device=device, progress=False).fit(train, discrete)
    t0 = time.perf_counter()
    model = TabularGAN(seed=seed, device=device, progress=False, **kwargs).fit(train, discrete)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    synthetic = model.sample(len(train), seed=seed)
    sample_s = time.perf_counter() - t0
    t = model.training
    facts = {
        "fit_s": fit_s,
        "sample_s": sample_s,
        "epochs_run": t["epochs_run"],
        "best_epoch": t["best_epoch"],
        "stopped": t["stopped_early"],
    }
    return synthetic, facts


def fit_ctgan(
    python: str,
    train: pd.DataFrame,
    discrete: list[str],
    seed: int,
    threads: int,
    device: str,
    epochs: int | None,
    warmup: bool,
    workdir: Path,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit and sample ``ctgan.CTGAN`` in the other interpreter: its synthetic rows, its timings (and
    ``process_s``, the child's whole life: interpreter start, imports, CSV I/O) and its versions."""
    driver, train_csv, out_csv = workdir / "ctgan_driver.py", workdir / "train.csv", workdir / "synthetic.csv"
    driver.write_text(DRIVER)
    train.to_csv(train_csv, index=False)
    cmd = [python, str(driver), "--train", str(train_csv), "--out", str(out_csv)]
    cmd += ["--discrete", json.dumps(discrete), "--n", str(len(train)), "--seed", str(seed)]
    cmd += ["--threads", str(threads), "--device", device]
    if epochs is not None:
        cmd += ["--epochs", str(epochs)]
    if warmup:
        cmd += ["--warmup"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=thread_env(threads))
    process_s = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"the ctgan driver failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    versions = {"ctgan": report.pop("ctgan"), "torch": report.pop("torch")}
    synthetic = pd.read_csv(out_csv)
    for col in train.columns:  # CSV has no types: give ints back their dtype where every value fits
        if synthetic[col].dtype != train[col].dtype and pd.api.types.is_numeric_dtype(train[col]):
            with contextlib.suppress(TypeError, ValueError):
                synthetic[col] = synthetic[col].astype(train[col].dtype)
    return synthetic[list(train.columns)], {**report, "process_s": process_s, "versions": versions}


# ---------------------------------------------------------------------------- scoring
def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of an ``evaluate_tabular`` result (per-column detail dropped)."""
    eff, dcr = result["ml_efficacy"], result["dcr"]
    metric = eff["metric"]
    return {
        "quality": result["quality"],
        "column_shapes": result["column_shapes"]["score"],
        "column_pair_trends": result["column_pair_trends"]["score"],
        "ml_efficacy_metric": metric,
        "ml_efficacy_real": (eff["real"] or {}).get(metric),
        "ml_efficacy_synthetic": (eff["synthetic"] or {}).get(metric),
        "ml_efficacy_ratio": eff["ratio"],
        "dcr_median_synthetic": dcr["synthetic_to_train"]["median"],
        "dcr_median_holdout": dcr["holdout_to_train"]["median"],
        "dcr_share_closer": dcr["share_closer"],
        "dcr_holdout_share": dcr["holdout_share"],
        "dcr_flagged_share": float(dcr["flagged"]),  # over seeds: the share of seeds flagged
    }


def mean_std(values: list[Any]) -> list[float | None]:
    """``[mean, sample std]`` of the non-None values (std 0 for one value); rounded for the line."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return [None, None]
    return [round(statistics.fmean(xs), 4), round(statistics.stdev(xs), 4) if len(xs) > 1 else 0.0]


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per key over seeds: ``[mean, std]`` of numbers, else the value when every seed agrees, else
    the per-seed values."""
    out: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        if any(v is not None for v in values) and all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values
        ):
            out[key] = mean_std(values)
        else:
            out[key] = values[0] if all(v == values[0] for v in values) else values
    return out


def bench_table(name: str, seeds: list[int], args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    frame, discrete, target = load_table(name, dropna=True)
    runs: dict[str, list[dict[str, Any]]] = {"ganforge": [], "ctgan": []}
    versions: dict[str, str] = {}
    for seed in seeds:
        train, holdout = split(frame, seed)
        warm = not args.no_warmup
        syn_c, facts_c = fit_ctgan(
            args.ctgan_python,
            train,
            discrete,
            seed,
            args.threads,
            args.device,
            args.ctgan_epochs,
            warm,
            workdir,
        )
        versions = facts_c.pop("versions")
        syn_g, facts_g = fit_ganforge(train, discrete, seed, args.device, args.ganforge_epochs, warm)
        for model, syn, facts in (("ganforge", syn_g, facts_g), ("ctgan", syn_c, facts_c)):
            scores = evaluate_tabular(train, syn, discrete, holdout=holdout, target=target, seed=seed)
            runs[model].append({**facts, **summary(scores)})
    ganforge, ctgan = aggregate(runs["ganforge"]), aggregate(runs["ctgan"])
    speedup = ctgan["fit_s"][0] / ganforge["fit_s"][0]  # ratio of the means over seeds
    delta = ganforge["quality"][0] - ctgan["quality"][0]
    return {
        "rows": len(frame),
        "train_rows": len(frame) - round(HOLDOUT_FRACTION * len(frame)),
        "holdout_rows": round(HOLDOUT_FRACTION * len(frame)),
        "discrete": discrete,
        "target": target,
        "ganforge": ganforge,
        "ctgan": ctgan,
        "ctgan_env": versions,
        "fit_speedup": round(speedup, 2),
        "sample_speedup": round(ctgan["sample_s"][0] / max(ganforge["sample_s"][0], 1e-9), 2),
        "quality_delta": round(delta, 4),
        "meets_goal": bool(speedup >= GOAL_SPEEDUP and delta >= -args.quality_tolerance),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", choices=TABLE_NAMES, help=f"default: {' '.join(TABLES)}")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per table (default 1: ctgan is slow)")
    parser.add_argument("--threads", type=int, default=2, help="torch/BLAS threads, both sides")
    parser.add_argument("--device", default="cpu", help="both sides; 'cuda' for a GPU comparison")
    parser.add_argument(
        "--ctgan-python",
        default=os.environ.get("GANFORGE_CTGAN_PYTHON"),
        help="a python that can import ctgan (default: $GANFORGE_CTGAN_PYTHON)",
    )
    parser.add_argument(
        "--setup-ctgan-venv",
        type=Path,
        metavar="DIR",
        help="create (or update) a venv with ctgan at DIR and use it",
    )
    parser.add_argument("--ctgan-pip-args", default="", help="extra pip options for --setup-ctgan-venv")
    parser.add_argument("--ctgan-epochs", type=int, help="override ctgan's 300 epochs (quick checks only)")
    parser.add_argument("--ganforge-epochs", type=int, help="override TabularGAN's 300 (quick checks only)")
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="time cold fits: one-time costs (torch's lazy imports, ~2 s) then land in the timed fit",
    )
    parser.add_argument("--quality-tolerance", type=float, default=0.0, help="'equal' quality margin")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_EPOCHS} epochs each, penguins only: checks the plumbing, not the claim",
    )
    args = parser.parse_args(argv)
    if args.setup_ctgan_venv:
        args.ctgan_python = setup_ctgan_venv(args.setup_ctgan_venv.expanduser(), args.ctgan_pip_args.split())
    if not args.ctgan_python:
        parser.error("give --ctgan-python PATH (a python with ctgan) or --setup-ctgan-venv DIR")
    if args.quick:
        args.ctgan_epochs = args.ctgan_epochs or QUICK_EPOCHS
        args.ganforge_epochs = args.ganforge_epochs or QUICK_EPOCHS
        args.tables = args.tables or ["penguins"]
    args.tables = args.tables or list(TABLES)
    check_ctgan_python(args.ctgan_python)
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency: caps BLAS like the child

    t0 = time.perf_counter()
    seeds = list(range(args.seeds))
    with threadpool_limits(args.threads), tempfile.TemporaryDirectory(prefix="tabular-vs-ctgan-") as tmp:
        tables = {name: bench_table(name, seeds, args, Path(tmp)) for name in args.tables}
    line = {
        "benchmark": "tabular_vs_ctgan",
        "goal": f"fit_speedup >= {GOAL_SPEEDUP:g} and quality_delta >= -{args.quality_tolerance:g}",
        "meets_goal": all(t["meets_goal"] for t in tables.values()),
        "seeds": seeds,
        "holdout_fraction": HOLDOUT_FRACTION,
        "epochs": {
            "ctgan": args.ctgan_epochs or "default (300)",
            "ganforge": args.ganforge_epochs or "default (300, early stopping)",
        },
        "warmup": not args.no_warmup,
        "quick": args.quick,
        "device": args.device,
        "format": "[mean, std] over seeds; times in seconds of the fit()/sample() calls alone",
        "tables": tables,
        "total_wall_s": round(time.perf_counter() - t0, 1),
        "machine": machine_facts(args.threads),
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
