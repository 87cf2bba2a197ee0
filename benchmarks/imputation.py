"""Imputation at 20% MCAR on real embedded tables: GAIN vs mean/mode vs MICE, measured in the same run.

Prints one JSON line. For each table (complete rows only, so every hole's truth is known; penguins
loses its 11 naturally incomplete rows) and each seed, every cell is dropped independently with
probability ``--rate`` (MCAR, seeded), then filled by:

- ``mean_mode``: column mean (continuous) / most frequent category (discrete) of the observed cells;
- ``mice``: scikit-learn's ``IterativeImputer`` (chained equations with BayesianRidge, 10 rounds;
  van Buuren & Groothuis-Oudshoorn 2011). It is numeric only, so discrete columns are ordinal-encoded
  and its imputations rounded to the nearest valid code;
- ``gain``: ``ganforge.tabular.gain.Imputer`` (Yoon et al. 2018), ``--iterations`` steps, batch 128,
  hint rate 0.9, α = 100, with the table's discrete columns declared.

Scores, over the holes only: RMSE on the continuous columns after min-max normalising each column
with the complete table's min and max (the scale GAIN reports), pooled over all continuous holes;
accuracy on the discrete columns' holes. Each number is mean ± sample std over seeds, with the mean
wall time of one fit + impute.

    OMP_NUM_THREADS=1 python benchmarks/imputation.py                       # 4 tables x 3 seeds
    OMP_NUM_THREADS=1 python benchmarks/imputation.py --tables penguins --seeds 1 --iterations 500
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from bench_common import machine_facts
from ganforge.data.tables import load_table
from ganforge.tabular.gain import Imputer

TABLES = ("fair", "penguins", "wine", "breast_cancer")
METHODS = ("mean_mode", "mice", "gain")


def mcar(df: pd.DataFrame, rate: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    holes = np.random.default_rng(seed).random(df.shape) < rate
    return df.mask(holes), holes


def mean_mode(df: pd.DataFrame, discrete: list[str], seed: int) -> pd.DataFrame:
    fill = {c: (df[c].mode().iloc[0] if c in discrete else df[c].mean()) for c in df.columns}
    return df.fillna(fill)


def mice(df: pd.DataFrame, discrete: list[str], seed: int) -> pd.DataFrame:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    codes = {c: sorted(df[c].dropna().unique()) for c in discrete}
    numeric = df.copy()
    for c, cats in codes.items():
        numeric[c] = df[c].map({v: i for i, v in enumerate(cats)}).astype(float)
    with warnings.catch_warnings():  # "early stopping criterion not reached" after max_iter rounds
        warnings.simplefilter("ignore", ConvergenceWarning)
        filled = IterativeImputer(max_iter=10, random_state=seed).fit_transform(numeric.to_numpy(float))
    out = df.copy()
    for j, c in enumerate(df.columns):
        holes = df[c].isna().to_numpy()
        if not holes.any():
            continue
        values = filled[holes, j]
        if c in codes:
            idx = np.clip(np.round(values), 0, len(codes[c]) - 1).astype(int)
            values = np.array(codes[c], dtype=object)[idx]
        out.loc[holes, c] = values if c not in codes else list(values)
    return out


def gain(iterations: int) -> Callable[[pd.DataFrame, list[str], int], pd.DataFrame]:
    def run(df: pd.DataFrame, discrete: list[str], seed: int) -> pd.DataFrame:
        return Imputer(iterations=iterations, seed=seed).fit_transform(df, discrete_columns=discrete)

    return run


def scores(
    imputed: pd.DataFrame, truth: pd.DataFrame, holes: np.ndarray, discrete: list[str]
) -> dict[str, float]:
    sq, hits, n_cont, n_disc = 0.0, 0, 0, 0
    for j, c in enumerate(truth.columns):
        h = holes[:, j]
        if c in discrete:
            hits += int((imputed[c].to_numpy()[h] == truth[c].to_numpy()[h]).sum())
            n_disc += int(h.sum())
        else:
            span = (truth[c].max() - truth[c].min()) or 1.0  # min-max scaling; the shift cancels
            diff = (imputed[c].to_numpy(float)[h] - truth[c].to_numpy(float)[h]) / span
            sq += float((diff**2).sum())
            n_cont += int(h.sum())
    return {
        "rmse": float(np.sqrt(sq / n_cont)) if n_cont else float("nan"),
        "accuracy": hits / n_disc if n_disc else float("nan"),
    }


def mean_std(values: list[float]) -> list[float | None]:
    values = [v for v in values if v == v]
    if not values:
        return [None, None]
    return [
        round(statistics.fmean(values), 4),
        round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
    ]


def bench_table(name: str, seeds: list[int], rate: float, iterations: int) -> dict[str, object]:
    truth, discrete, _ = load_table(name, dropna=True)
    runners = {"mean_mode": mean_mode, "mice": mice, "gain": gain(iterations)}
    raw: dict[str, dict[str, list[float]]] = {m: {"rmse": [], "accuracy": [], "wall_s": []} for m in METHODS}
    for seed in seeds:
        holed, holes = mcar(truth, rate, seed)
        for method, run in runners.items():
            t0 = time.perf_counter()
            imputed = run(holed, discrete, seed)
            raw[method]["wall_s"].append(time.perf_counter() - t0)
            assert not imputed.isna().any().any(), (name, method)
            for key, value in scores(imputed, truth, holes, discrete).items():
                raw[method][key].append(value)
    return {
        "rows": len(truth),
        "continuous": len(truth.columns) - len(discrete),
        "discrete": len(discrete),
        "methods": {m: {k: mean_std(v) for k, v in raw[m].items()} for m in METHODS},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    seeds = list(range(args.seeds))
    tables = {name: bench_table(name, seeds, args.rate, args.iterations) for name in args.tables}
    line = {
        "benchmark": "imputation",
        "missing": f"MCAR {args.rate:g}",
        "seeds": seeds,
        "gain_iterations": args.iterations,
        "format": "[mean, std] over seeds; rmse on min-max normalised continuous holes, accuracy on discrete",
        "tables": tables,
        "total_wall_s": round(time.perf_counter() - t0, 1),
        "machine": machine_facts(args.threads),
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
