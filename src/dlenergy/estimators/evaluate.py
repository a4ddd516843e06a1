"""Evaluation of the estimators: the seeded 70/30 split, the online window sweep (Figure 10) and the
comparison on the held-out runs (Table 10, Figure 11).

Errors are in kJ (the paper's unit): RMSE, MAE, and MAPE (%) over the runs a method could estimate;
``n_runs`` says how many that was and ``n_missing`` how many it could not (e.g. too few stable epochs).
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from .online import OnlineEpochEnergyEstimator, OnlinePowerEstimator


def paper_numbers(prefix: str) -> dict[str, float]:
    """The paper's numbers whose key in ``paper_targets.csv`` (the one copy of them,
    :func:`dlenergy.scorecard.read_targets`) starts with ``prefix + "."``, by the rest of the key.

    Examples
    --------
    >>> paper_numbers("table10_test_rmse_kj")["mlco2"]
    159.36
    """
    from ..scorecard import read_targets

    t = read_targets()
    sel = t[t["key"].str.startswith(prefix + ".")]
    if sel.empty:
        raise KeyError(f"paper_targets.csv has no key under {prefix!r}")
    return {k[len(prefix) + 1 :]: float(v) for k, v in zip(sel["key"], sel["value"])}


#: the paper's names of the candidate models (Tables 8 and 9) -> the pipeline's
_PAPER_MODEL = {"svm": "svr"}


def paper_regressor_scores(table: str) -> dict[str, dict[str, float]]:
    """Tables 8 and 9 of the paper: ``{model: {"r2", "rmse", "mae"}}`` under key prefix ``table``
    (e.g. ``table8_power_regressors_cv``, ``table9_epoch_energy_regressors_cv.with_initial_epochs``);
    model names as the pipeline spells them (``svr`` for the paper's SVM).

    Examples
    --------
    >>> paper_regressor_scores("table8_power_regressors_cv")["kernel_ridge"]["rmse"]
    7.5
    """
    out: dict[str, dict[str, float]] = {}
    for key, v in paper_numbers(table).items():
        model, _, score = key.rpartition(".")
        out.setdefault(_PAPER_MODEL.get(model, model), {})[score] = v
    return out


def paper_table10_kj() -> dict[str, float]:
    """Table 10 of the paper: test RMSE (kJ) of each method."""
    return paper_numbers("table10_test_rmse_kj")


def paper_sweep_kj() -> dict[tuple[str, str], float]:
    """§4.3: RMSE (kJ) of the online methods with w = 5 from the stabilizing epoch (``"stabilizing"``)
    and at a random start (``"random_start"``), by (kind, method)."""
    out = {}
    for kind, key in (
        ("stabilizing", "window_5_from_epoch_10_rmse_kj"),
        ("random_start", "window_5_random_start_rmse_kj"),
    ):
        for method, v in paper_numbers(f"rq32_online.{key}").items():
            out[(kind, method)] = v
    return out


def paper_stabilizing_epoch() -> int:
    """§4.3: the paper's stabilizing epoch (10)."""
    return int(paper_numbers("rq32_online")["stabilizing_epoch"])


METHOD_LABELS = {
    "online_power_based": "Online power-based",
    "online_epoch_energy_based": "Online epoch-energy-based",
    "offline_power_based": "Offline power-based",
    "offline_epoch_energy_based": "Offline epoch-energy-based",
    "green_algorithms": "Green Algorithms",
    "mlco2": "MLCO2",
    "carbontracker": "Carbontracker (1st epoch)",
}


def split_runs(runs: pd.DataFrame, test_size: float = 0.3, seed: int = 42) -> pd.DataFrame:
    """``run_id, split`` (train/test): a seeded shuffle split of the run ids (sorted first, so the
    split does not depend on row order)."""
    ids = np.sort(runs["run_id"].astype(str).unique())
    train, test = train_test_split(ids, test_size=test_size, random_state=seed, shuffle=True)
    out = pd.DataFrame(
        {"run_id": np.concatenate([train, test]), "split": ["train"] * len(train) + ["test"] * len(test)}
    )
    return out.sort_values("run_id", kind="stable").reset_index(drop=True)


def errors_kj(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Errors of predictions in kJ over the runs where both values are finite (energies given in J).

    Returns ``n_runs`` (runs compared), ``n_missing`` (runs without a finite pair), ``rmse_kj``,
    ``mae_kj``, ``mape_pct`` (mean absolute error relative to the measured energy, in %) and ``bias_kj``
    (mean of prediction - measurement); the errors are NaN when no run can be compared.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    ok = np.isfinite(y_true) & np.isfinite(y_pred)
    n = int(ok.sum())
    if n == 0:
        return {
            "n_runs": 0,
            "n_missing": int(len(y_true)),
            "rmse_kj": np.nan,
            "mae_kj": np.nan,
            "mape_pct": np.nan,
            "bias_kj": np.nan,
        }
    d = (y_pred[ok] - y_true[ok]) / 1e3
    return {
        "n_runs": n,
        "n_missing": int(len(y_true) - n),
        "rmse_kj": float(np.sqrt(np.mean(d**2))),
        "mae_kj": float(np.mean(np.abs(d))),
        "mape_pct": float(np.mean(np.abs(d * 1e3 / y_true[ok])) * 100.0),
        "bias_kj": float(np.mean(d)),
    }


#: columns of the online window-sweep table (``tables/online_window_sweep.csv``)
SWEEP_COLUMNS = [
    "sweep",
    "method",
    "window",
    "stabilizing_epoch",
    "n_runs",
    "n_missing",
    "rmse_kj",
    "mae_kj",
    "mape_pct",
    "bias_kj",
    "rmse_sd_kj",
    "repeats",
    "paper_rmse_kj",
]


def online_sweep(
    runs: pd.DataFrame,
    epochs: pd.DataFrame,
    *,
    stabilizing_epoch: int,
    window: int = 5,
    windows=range(1, 16),
    starts=range(0, 16),
    repeats: int = 20,
    seed: int = 42,
) -> pd.DataFrame:
    """Figure 10 and §4.3's numbers: RMSE of both online methods

    * ``sweep = window``: window size ``w`` from the stabilizing epoch (top of Figure 10);
    * ``sweep = stabilizing_epoch``: ``w = window``, the stabilizing epoch (and window start) moved
      (bottom of Figure 10);
    * ``sweep = random_start``: ``w = window`` at a random start after the stabilizing epoch, repeated
      ``repeats`` times with seeds ``seed .. seed + repeats - 1`` (mean and SD of the RMSE).
    """
    if int(repeats) < 1:
        raise ValueError(f"online_sweep: repeats must be >= 1 (the random-start rows average them), got {repeats}")
    y = runs["energy_j"].to_numpy(dtype=np.float64)
    methods = {"power_based": OnlinePowerEstimator, "epoch_energy_based": OnlineEpochEnergyEstimator}
    rows = []

    def add(sweep, method, w, s0, est, extra=None):
        pred = est.fit(runs, y).predict(runs, epochs)
        rows.append(
            {
                "sweep": sweep,
                "method": method,
                "window": int(w),
                "stabilizing_epoch": s0,
                **errors_kj(y, pred),
                **(extra or {}),
            }
        )

    for method, cls in methods.items():
        for w in windows:
            add(
                "window",
                method,
                w,
                int(stabilizing_epoch),
                cls(window=int(w), stabilizing_epoch=int(stabilizing_epoch)),
            )
        for s0 in starts:
            add("stabilizing_epoch", method, window, int(s0), cls(window=int(window), start=int(s0)))
        reps = []
        for r in range(int(repeats)):
            est = cls(
                window=int(window), start="random", stabilizing_epoch=int(stabilizing_epoch), random_state=int(seed) + r
            )
            reps.append(errors_kj(y, est.fit(runs, y).predict(runs, epochs)))
        rep = pd.DataFrame(reps)
        rows.append(
            {
                "sweep": "random_start",
                "method": method,
                "window": int(window),
                "stabilizing_epoch": int(stabilizing_epoch),
                "n_runs": int(rep["n_runs"].min()),
                "n_missing": int(rep["n_missing"].max()),
                "rmse_kj": float(rep["rmse_kj"].mean()),
                "mae_kj": float(rep["mae_kj"].mean()),
                "mape_pct": float(rep["mape_pct"].mean()),
                "bias_kj": float(rep["bias_kj"].mean()),
                "rmse_sd_kj": float(rep["rmse_kj"].std(ddof=1)) if len(rep) > 1 else np.nan,
                "repeats": int(repeats),
            }
        )
    out = pd.DataFrame(rows)
    out["paper_rmse_kj"] = np.nan
    at = (out["sweep"] == "window") & (out["window"] == 5)
    for (kind, method), v in paper_sweep_kj().items():
        sel = (out["method"] == method) & (at if kind == "stabilizing" else (out["sweep"] == "random_start"))
        out.loc[sel, "paper_rmse_kj"] = v
    return out[SWEEP_COLUMNS]


def predict_energy(est, X: pd.DataFrame, epochs: pd.DataFrame | None = None) -> np.ndarray:
    """``est.predict(X)``, with the epochs table for the estimators whose ``predict`` reads one."""
    if "epochs" in inspect.signature(est.predict).parameters:
        return np.asarray(est.predict(X, epochs=epochs), dtype=np.float64)
    return np.asarray(est.predict(X), dtype=np.float64)


def compare(
    estimators: dict, X_test: pd.DataFrame, y_test, *, epochs: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 10: errors of each fitted estimator on the held-out runs; and the predictions (long).

    ``epochs``: the held-out runs' per-epoch table, for the estimators that read it (online methods,
    Carbontracker).  ``paper_rmse_kj``: the paper's Table 10 (:func:`paper_table10_kj`).
    """
    y = np.asarray(y_test, dtype=np.float64)
    paper = paper_table10_kj()
    rows, preds = [], []
    for name, est in estimators.items():
        p = predict_energy(est, X_test, epochs)
        rows.append(
            {
                "method": name,
                "label": METHOD_LABELS.get(name, name),
                **errors_kj(y, p),
                "paper_rmse_kj": paper.get(name, np.nan),
            }
        )
        preds.append(
            pd.DataFrame(
                {
                    "method": name,
                    "run_id": X_test["run_id"].astype(str).to_numpy(),
                    "true_kj": y / 1e3,
                    "predicted_kj": p / 1e3,
                }
            )
        )
    return pd.DataFrame(rows), pd.concat(preds, ignore_index=True)
