"""Published baselines (paper §2.3 and the replication package), as estimators of a run's energy.

* MLCO2 (Lacoste et al. 2019):            ``E = TDP x t``
* Green Algorithms (Lannelongue et al.):  ``E = (TDP x u + RAM_GB x 0.3725 W/GB) x t`` with ``u`` the
  mean GPU usage (0-1), PUE = PSF = 1
* Carbontracker (Anthony et al. 2020), default prediction after the first epoch:
  ``E = (energy of the first epoch) x (planned epochs)``

``t`` is the training duration (``duration_s``).  TDP comes from the GPU specification table
(:mod:`dlenergy.gpu_specs`, by ``gpu_model``); a run whose GPU is not in the table falls back to the
power limit its log reports (``max_power_w``, which is what the replication package used as TDP),
else NaN.  With ``tdp="logged"`` the logged power limit is used first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from ..gpu_specs import gpu_features

GA_RAM_W_PER_GB = 0.3725


def tdp_of(X: pd.DataFrame, source: str = "spec") -> np.ndarray:
    spec = gpu_features(X["gpu_model"], errors="coerce")["tdp_w"].to_numpy(dtype=np.float64)
    logged = X["max_power_w"].to_numpy(dtype=np.float64) if "max_power_w" in X else np.full(len(X), np.nan)
    if source == "logged":
        return np.where(np.isfinite(logged), logged, spec)
    if source != "spec":
        raise ValueError(f"tdp must be 'spec' or 'logged', not {source!r}")
    return np.where(np.isfinite(spec), spec, logged)


class _Formula(RegressorMixin, BaseEstimator):
    def fit(self, X: pd.DataFrame, y=None):
        self.n_features_in_ = X.shape[1]
        self.fitted_ = True
        return self


class MLCO2Estimator(_Formula):
    """TDP x training duration."""

    def __init__(self, tdp: str = "spec"):
        self.tdp = tdp

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "fitted_")
        return tdp_of(X, self.tdp) * X["duration_s"].to_numpy(dtype=np.float64)


class GreenAlgorithmsEstimator(_Formula):
    """(TDP x mean GPU usage + total RAM (GB) x 0.3725 W/GB) x training duration."""

    def __init__(self, tdp: str = "spec", ram_w_per_gb: float = GA_RAM_W_PER_GB):
        self.tdp = tdp
        self.ram_w_per_gb = ram_w_per_gb

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "fitted_")
        usage = X["gpu_usage_pct"].to_numpy(dtype=np.float64) / 100.0
        ram = X["total_ram_gb"].to_numpy(dtype=np.float64)
        power = tdp_of(X, self.tdp) * usage + ram * float(self.ram_w_per_gb)
        return power * X["duration_s"].to_numpy(dtype=np.float64)


class CarbontrackerEstimator(_Formula):
    """Carbontracker's default prediction: the first ``epochs_before_pred`` epochs' mean energy x planned epochs.

    The planned number of epochs is ``X["planned_epochs"]`` when present, else ``epochs_measured``.
    """

    def __init__(self, epochs: pd.DataFrame | None = None, epochs_before_pred: int = 1):
        self.epochs = epochs
        self.epochs_before_pred = epochs_before_pred

    def fit(self, X: pd.DataFrame, y=None):
        if self.epochs is None:
            raise ValueError("CarbontrackerEstimator needs the per-epoch measurements: pass epochs=<epochs table>")
        k = int(self.epochs_before_pred)
        first = self.epochs.sort_values(["run_id", "epoch"]).groupby("run_id", sort=False).head(k)
        agg = first.groupby("run_id")["energy_j"].agg(["mean", "size"])
        self.first_epochs_energy_ = agg["mean"].where(agg["size"] >= k).to_dict()
        return super().fit(X, y)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "first_epochs_energy_")
        col = "planned_epochs" if "planned_epochs" in X else "epochs_measured"
        n = X[col].to_numpy(dtype=np.float64)
        e1 = np.array([self.first_epochs_energy_.get(str(r), np.nan) for r in X["run_id"]], dtype=np.float64)
        return e1 * n
