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

so the comparison of Table 10 is one loop over ``{name: estimator}``.  Conventions (scikit-learn's,
checked by ``parametrize_with_checks`` in ``tests/test_estimators.py``):

* ``fit`` requires ``y`` and records the runs table's columns (``n_features_in_``,
  ``feature_names_in_``); ``predict`` checks that it gets the same columns;
* the per-epoch table (``run_id, epoch, duration_s, energy_j`` as in ``clean/epochs.parquet``) is a
  side table passed to the method that reads it, never to the constructor:
  ``predict(X, epochs=...)`` for the online methods (:class:`OnlinePowerEstimator`,
  :class:`OnlineEpochEnergyEstimator`) and :class:`CarbontrackerEstimator`, which read the run's own
  epochs; ``fit(X, y, epochs=...)`` for :class:`OfflineEpochEnergyEstimator` without the initial
  epochs;
* online methods and baselines learn nothing from other runs: they are formulas (tag
  ``requires_fit = False``); ``fit`` only validates;
* offline methods (:class:`OfflinePowerEstimator`, :class:`OfflineEpochEnergyEstimator`) learn a
  regression model of average power (W) or average epoch energy (J) from the pre-training inputs
  (GPU model via :mod:`dlenergy.gpu_specs`, total RAM, GFLOPs, training/validation sizes, batch and
  input size), then scale it by the run's training duration or number of epochs.  A saved model is
  loaded by ``OfflinePowerEstimator.load(model_dir)`` or :func:`load_offline_estimator`;
* baselines (:class:`MLCO2Estimator`, :class:`GreenAlgorithmsEstimator`) are formulas of the runs
  table and the GPU's TDP.
"""

from .baselines import CarbontrackerEstimator, GreenAlgorithmsEstimator, MLCO2Estimator
from .offline import (
    FEATURES,
    OfflineEpochEnergyEstimator,
    OfflinePowerEstimator,
    OutOfDomainError,
    load_offline_estimator,
    load_offline_model,
    offline_features,
    stable_epoch_energy,
    training_data_info,
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
    "load_offline_estimator",
    "load_offline_model",
    "offline_features",
    "online_terms",
    "stable_epoch_energy",
    "training_data_info",
    "write_skipped_model",
]
