"""Energy estimators of del Rey et al. (§4.3, RQ3.2-RQ3.3) behind one scikit-learn interface.

Design
------
Every method is a scikit-learn regressor (``RegressorMixin`` + ``BaseEstimator``): ``fit(X, y)`` and
``predict(X)``, where

* ``X`` is a **runs table**: one row per training run, the columns of ``clean/runs.parquet``
  (``run_id, gpu_model, total_ram_gb, gflops, training_size, validation_size, batch_size,
  image_size, duration_s, epochs_measured, gpu_usage_pct, max_power_w, ...``);
* ``y`` is the run's measured energy in joules (``energy_j``: GPU + RAM over the training window);
* ``predict`` returns the **estimated energy of each run in joules** (NaN for a run the method cannot
  estimate, e.g. fewer stable epochs than the window).

so the comparison of Table 10 is one loop over ``{name: estimator}``.  What each method needs
beyond the runs table is given at construction:

* online methods (:class:`OnlinePowerEstimator`, :class:`OnlineEpochEnergyEstimator`) and
  :class:`CarbontrackerEstimator` read the per-epoch measurements of a run: pass the epochs table
  (``run_id, epoch, duration_s, energy_j`` as in ``clean/epochs.parquet``) as ``epochs=``; runs are
  matched on ``run_id``.  They learn nothing: ``fit`` only indexes the epochs.
* offline methods (:class:`OfflinePowerEstimator`, :class:`OfflineEpochEnergyEstimator`) learn a
  regression model of average power (W) or average epoch energy (J) from the pre-training inputs
  (GPU model via :mod:`dlenergy.gpu_specs`, total RAM, GFLOPs, training/validation sizes, batch and
  input size), then scale it by the run's training duration or number of epochs.
* baselines (:class:`MLCO2Estimator`, :class:`GreenAlgorithmsEstimator`) are formulas of the runs
  table and the GPU's TDP.
"""

from .baselines import CarbontrackerEstimator, GreenAlgorithmsEstimator, MLCO2Estimator
from .offline import (
    FEATURES,
    OfflineEpochEnergyEstimator,
    OfflinePowerEstimator,
    OutOfDomainError,
    PersistedOfflineEstimator,
    load_offline_model,
    offline_features,
    write_skipped_model,
)
from .online import OnlineEpochEnergyEstimator, OnlinePowerEstimator, online_terms

__all__ = [
    "FEATURES",
    "CarbontrackerEstimator",
    "GreenAlgorithmsEstimator",
    "MLCO2Estimator",
    "OfflineEpochEnergyEstimator",
    "OfflinePowerEstimator",
    "OnlineEpochEnergyEstimator",
    "OnlinePowerEstimator",
    "OutOfDomainError",
    "PersistedOfflineEstimator",
    "load_offline_model",
    "offline_features",
    "online_terms",
    "write_skipped_model",
]
