"""Published baselines (paper §2.3 and the replication package), as estimators of a run's energy.

* MLCO2 (Lacoste et al. 2019):            ``E = TDP x t``
* Green Algorithms (Lannelongue et al.):  ``E = (TDP x u + RAM_GB x 0.3725 W/GB) x t`` with ``u`` the
  mean GPU usage (0-1), PUE = PSF = 1
* Carbontracker (Anthony et al. 2020), default prediction after the first epoch:
  ``E = (energy of the first epoch) x (planned epochs)``

``t`` is the training duration (``duration_s``).  TDP comes from the GPU specification table
(:mod:`dlenergy.gpu_specs`, by ``gpu_model``); a run whose GPU is not in the table falls back to the
power limit its log reports (``max_power_w``, which is what the replication package used as TDP),
else NaN.  With ``tdp="logged"`` the logged power limit is used first.  RAM is ``total_ram_gb`` as
the runs table gives it (GB): no unit conversion happens here.

The three are formulas: they learn nothing from the training runs.  ``fit`` validates the runs
table and the target and records the table's columns (``n_features_in_``, ``feature_names_in_``);
``predict`` also works unfitted (tag ``requires_fit = False``, as scikit-learn's stateless
transformers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from ..gpu_specs import gpu_features
from ._tables import check_epochs, check_runs, column, epochs_column, n_epochs, score_with_epochs

GA_RAM_W_PER_GB = 0.3725


def tdp_of(X: pd.DataFrame, source: str = "spec") -> np.ndarray:
    """TDP (W) of each run: the GPU table's (``source="spec"``, the logged limit as fallback) or the
    logged power limit ``max_power_w`` (``source="logged"``, the table as fallback).

    Examples
    --------
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"gpu_model": ["NVIDIA GeForce RTX 3090"], "max_power_w": [300.0]})
    >>> float(tdp_of(runs, "spec")[0]), float(tdp_of(runs, "logged")[0])
    (350.0, 300.0)
    """
    spec = gpu_features(X["gpu_model"], errors="coerce")["tdp_w"].to_numpy(dtype=np.float64)
    logged = column(X, "max_power_w") if "max_power_w" in X else np.full(len(X), np.nan)
    if source == "logged":
        return np.where(np.isfinite(logged), logged, spec)
    if source != "spec":
        raise ValueError(f"tdp must be 'spec' or 'logged', not {source!r}")
    return np.where(np.isfinite(spec), spec, logged)


class _Formula(RegressorMixin, BaseEstimator):
    """A formula of the runs table: validates, learns nothing."""

    def _needs(self, X) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags

    def fit(self, X: pd.DataFrame, y):
        """Validate the runs table ``X`` and the measured energies ``y`` (J); nothing is learned."""
        check_runs(self, X, y, reset=True, needs=self._needs(X))
        return self

    def _check(self, X) -> pd.DataFrame:
        return check_runs(self, X, reset=False, needs=self._needs(X))[0]


class MLCO2Estimator(_Formula):
    """TDP x training duration."""

    def __init__(self, tdp: str = "spec"):
        self.tdp = tdp

    def _needs(self, X):
        return ["gpu_model", "duration_s"]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Energy (J) of each run: TDP (W) x ``duration_s``."""
        X = self._check(X)
        return tdp_of(X, self.tdp) * column(X, "duration_s")


class GreenAlgorithmsEstimator(_Formula):
    """(TDP x mean GPU usage + total RAM (GB) x 0.3725 W/GB) x training duration."""

    def __init__(self, tdp: str = "spec", ram_w_per_gb: float = GA_RAM_W_PER_GB):
        self.tdp = tdp
        self.ram_w_per_gb = ram_w_per_gb

    def _needs(self, X):
        return ["gpu_model", "gpu_usage_pct", "total_ram_gb", "duration_s"]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Energy (J) of each run."""
        X = self._check(X)
        usage = column(X, "gpu_usage_pct") / 100.0
        power = tdp_of(X, self.tdp) * usage + column(X, "total_ram_gb") * float(self.ram_w_per_gb)
        return power * column(X, "duration_s")


class CarbontrackerEstimator(_Formula):
    """Carbontracker's default prediction: the first ``epochs_before_pred`` epochs' mean energy x planned epochs.

    The planned number of epochs is ``X["planned_epochs"]`` when present, else ``epochs_measured``;
    the epochs come from the per-epoch table given to :meth:`predict` (``epochs=``), matched on
    ``run_id``.  A run with fewer measured epochs than ``epochs_before_pred``: NaN.
    """

    def __init__(self, epochs_before_pred: int = 1):
        self.epochs_before_pred = epochs_before_pred

    def _needs(self, X):
        return ["run_id", epochs_column(X)]

    def predict(self, X: pd.DataFrame, epochs: pd.DataFrame | None = None) -> np.ndarray:
        """Energy (J) of each run of ``X`` from its first epochs in ``epochs``
        (``run_id, epoch, energy_j``)."""
        X = self._check(X)
        epochs = check_epochs(self, epochs, ("run_id", "epoch", "energy_j"))
        k = int(self.epochs_before_pred)
        if k < 1:
            raise ValueError(f"epochs_before_pred must be >= 1, got {k}")
        first = epochs.sort_values(["run_id", "epoch"], kind="stable").groupby("run_id", sort=False).head(k)
        agg = first.groupby(first["run_id"].astype(str))["energy_j"].agg(["mean", "size"])
        mean = agg["mean"].where(agg["size"] >= k)
        e1 = X["run_id"].astype(str).map(mean).to_numpy(dtype=np.float64)
        return e1 * n_epochs(X)

    def score(self, X: pd.DataFrame, y, sample_weight=None, epochs: pd.DataFrame | None = None) -> float:
        """R² of ``predict(X, epochs)`` against the measured energies ``y``."""
        return score_with_epochs(self, X, y, sample_weight, epochs)
