"""Reference values for the online sweep tests (tests/test_estimators_offline.py, tests/test_estimators_evaluate.py):
a two-run, ten-epoch epoch table and equations 1 and 2, the errors and the random start, written over plain lists."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pandas as pd

KEYS = ["n_runs", "n_missing", "rmse_kj", "mae_kj", "mape_pct", "bias_kj"]

# two runs of 10 epochs; epochs 0-1 unstable (s0 = 2)
E = {
    "a": [5.0, 5.0, 10.0, 12.0, 14.0, 16.0, 18.0, 20.0, 22.0, 24.0],
    "b": [3.0, 4.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0],
}
D = {"a": [1.0, 1.0] + [2.0] * 8, "b": [1.0] * 10}


def sweep_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = pd.DataFrame(
        {
            "run_id": ["a", "b"],
            "duration_s": [sum(D["a"]), sum(D["b"])],  # 18, 10
            "epochs_measured": [10, 10],
            "energy_j": [sum(E["a"]), sum(E["b"])],  # 146, 167
        }
    )
    ep = pd.DataFrame(
        [{"run_id": r, "epoch": k, "duration_s": D[r][k], "energy_j": E[r][k]} for r in ("b", "a") for k in range(10)]
    )
    return runs, ep


def eq1(r: str, s0: int, a: int, w: int) -> float:
    """Equation 1: mean power of epochs a..a+w-1 x the training duration (NaN when the window does not fit)."""
    if not (a >= s0 and a + w <= 10 and 10 - s0 >= w):
        return math.nan
    return sum(E[r][a : a + w]) / sum(D[r][a : a + w]) * sum(D[r])


def eq2(r: str, s0: int, a: int, w: int) -> float:
    """Equation 2: window energy x (stable epochs) / w + energy of the epochs before s0."""
    if not (a >= s0 and a + w <= 10 and 10 - s0 >= w):
        return math.nan
    return sum(E[r][a : a + w]) * (10 - s0) / w + sum(E[r][:s0])


def errs(pred: dict) -> dict:
    d = [(pred[r] - sum(E[r])) / 1e3 for r in ("a", "b") if not math.isnan(pred[r])]
    if not d:
        return {
            "n_runs": 0,
            "n_missing": 2,
            "rmse_kj": math.nan,
            "mae_kj": math.nan,
            "mape_pct": math.nan,
            "bias_kj": math.nan,
        }
    ok = [r for r in ("a", "b") if not math.isnan(pred[r])]
    return {
        "n_runs": len(d),
        "n_missing": 2 - len(d),
        "rmse_kj": math.sqrt(sum(x * x for x in d) / len(d)),
        "mae_kj": sum(abs(x) for x in d) / len(d),
        "mape_pct": 100 * sum(abs(pred[r] - sum(E[r])) / sum(E[r]) for r in ok) / len(d),
        "bias_kj": sum(d) / len(d),
    }


def random_start(r: str, seed: int, s0: int, w: int) -> int:
    """The online module's documented draw: uniform in [s0, last - w + 1] from (seed, crc32(run_id))."""
    return int(np.random.default_rng([seed, zlib.crc32(r.encode())]).integers(s0, 9 - w + 1 + 1))
