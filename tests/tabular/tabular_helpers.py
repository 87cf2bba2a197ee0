"""Small tables shared by the tabular tests (built fresh per call: tests may mutate them)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# A tiny CTGAN for tests: narrow networks, no validation split unless a test asks for one.
TINY = {"generator_dims": (64, 64), "discriminator_dims": (64, 64), "embedding_dim": 32, "progress": False}


def mixed_table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Every column type the transformer handles, with missing values where a dtype allows them."""
    rng = np.random.default_rng(seed)
    bimodal = np.where(rng.random(n) < 0.3, rng.normal(-5, 0.5, n), rng.normal(4, 1.0, n))
    income = np.round(rng.lognormal(10, 0.5, n), 2)
    income[rng.random(n) < 0.1] = np.nan
    days = rng.integers(0, 3650, n)
    when = pd.Series(pd.Timestamp("2010-01-01") + pd.to_timedelta(days, unit="D"))
    when[rng.random(n) < 0.05] = pd.NaT
    colour = pd.Series(rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1]), dtype="str")
    colour[rng.random(n) < 0.08] = np.nan
    return pd.DataFrame(
        {
            "bimodal": bimodal,
            "income": income,
            "age": rng.integers(18, 90, n).astype("int64"),
            "visits": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 500, n)), dtype="Int64"),
            "when": when,
            "stamp": pd.Series(
                pd.Timestamp("2024-03-01 00:00:00", tz="Europe/Paris")
                + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s")
            ),
            "colour": colour,
            "grade": pd.Categorical(rng.choice(["a", "b", "c"], n), categories=["c", "b", "a", "z"]),
            "flag": rng.random(n) < 0.3,
            "rating": rng.integers(1, 6, n).astype("int64"),
        }
    )


def correlated_table(n: int = 1000, rho: float = 0.9, seed: int = 0) -> pd.DataFrame:
    """Two continuous columns with correlation ``rho`` and a discrete column that shifts both."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], n, p=[0.7, 0.3])
    shift = np.where(group == "a", 0.0, 3.0)
    x = rng.normal(size=n)
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=n)
    return pd.DataFrame({"x": x + shift, "y": y + shift, "group": pd.Series(group, dtype="str")})


def holed_table(n: int = 80, seed: int = 0, missing: float = 0.2) -> pd.DataFrame:
    """Two related numbers, an integer-coded category and a text column, ``missing`` of cells empty."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    df = pd.DataFrame(
        {
            "x": x,
            "y": 2 * x + 0.1 * rng.normal(size=n),
            "rating": rng.integers(1, 4, size=n),
            "kind": np.where(x > 0, "hi", "lo"),
        }
    )
    return df.mask(rng.random(df.shape) < missing)
