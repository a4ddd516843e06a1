"""Offline estimators (paper §4.3, Tables 8 and 9): energy before training, from its settings.

Inputs (the paper's): GPU model, total RAM (GB), GFLOPs of the model, training and validation set
sizes, batch size and input size.  The GPU model name goes through the specification table
(:mod:`dlenergy.gpu_specs`) and enters the model as CUDA cores, GPU memory (GB) and TDP (W).

Two targets, each a regression model:

* **power** (:class:`OfflinePowerEstimator`): the run's average power ``energy_j / duration_s`` (W);
  energy = prediction x training duration (``duration_s``, the duration the user expects);
* **epoch energy** (:class:`OfflineEpochEnergyEstimator`): the average energy of an epoch (J), with
  the initial epochs (``energy_j / epochs``) or without them (mean of the epochs from the
  stabilizing epoch on); energy = prediction x number of epochs (``planned_epochs`` or
  ``epochs_measured``).

Candidate models: Linear, Ridge, Kernel Ridge and SVR, each ``Pipeline(StandardScaler, model)``
inside a :class:`~sklearn.compose.TransformedTargetRegressor` that standardizes the target too (so
SVR's epsilon and the kernels' regularization do not depend on the target's unit), tuned by
:class:`~sklearn.model_selection.RandomizedSearchCV` (``n_iter`` draws, ``cv``-fold shuffled K-fold
seeded by ``random_state``, scores R², RMSE, MAE; refit on ``select_by``).  The model with the best
cross-validated ``select_by`` is kept.  Its out-of-fold predictions give the ratio true/predicted whose
5 %, 50 % and 95 % quantiles are the range that :mod:`dlenergy.cli` ``estimate`` prints.

:meth:`_OfflineBase.save` writes ``<kind>.joblib`` (the fitted scikit-learn regressor) and
``<kind>.json`` (the feature schema: feature names, order, units and training ranges, the GPUs seen,
the model, its hyper-parameters and CV scores, the residual quantiles, versions and the data label);
:func:`load_offline_model` reads them back and refuses inputs outside the training domain.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from scipy.stats import loguniform
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import KFold, RandomizedSearchCV, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR
from sklearn.utils.validation import check_is_fitted

from ..gpu_specs import SPEC_COLUMNS, UnknownGPUError, gpu_features

#: model inputs, in order, with units
FEATURES = ["cuda_cores", "memory_gb", "tdp_w", "total_ram_gb", "gflops", "training_size", "validation_size",
            "batch_size", "image_size"]
FEATURE_UNITS = {"cuda_cores": "count", "memory_gb": "GB (GPU memory)", "tdp_w": "W", "total_ram_gb": "GB",
                 "gflops": "GFLOPs per forward pass", "training_size": "images", "validation_size": "images",
                 "batch_size": "images", "image_size": "pixels (side)"}
RUN_INPUTS = ["gpu_model", "total_ram_gb", "gflops", "training_size", "validation_size", "batch_size", "image_size"]

MODEL_NAMES = {"linear": "Linear", "ridge": "Ridge", "kernel_ridge": "Kernel Ridge", "svr": "SVM (SVR)"}
SCORING = {"r2": "r2", "rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error"}


class OutOfDomainError(ValueError):
    """Inputs outside what an offline model was trained on."""


def _candidates() -> dict[str, tuple[object, dict]]:
    p = "regressor__model__"
    return {
        "linear": (LinearRegression(), {p + "fit_intercept": [True]}),
        "ridge": (Ridge(), {p + "alpha": loguniform(1e-4, 1e3)}),
        "kernel_ridge": (KernelRidge(), {p + "alpha": loguniform(1e-5, 1e1), p + "gamma": loguniform(1e-4, 1e1),
                                         p + "kernel": ["rbf", "laplacian"]}),
        "svr": (SVR(), {p + "C": loguniform(1e-1, 1e4), p + "epsilon": loguniform(1e-3, 1e0),
                        p + "gamma": loguniform(1e-4, 1e1), p + "kernel": ["rbf"]}),
    }


def make_pipeline(name: str):
    model, _ = _candidates()[name]
    return TransformedTargetRegressor(regressor=Pipeline([("scale", StandardScaler()), ("model", clone(model))]),
                                      transformer=StandardScaler())


def offline_features(X: pd.DataFrame, *, errors: str = "raise") -> pd.DataFrame:
    """The model inputs of each run: GPU spec numbers (from ``gpu_model``) and the numeric settings."""
    missing = [c for c in RUN_INPUTS if c not in X]
    if missing:
        raise ValueError(f"runs table lacks input column(s) {', '.join(missing)}")
    g = gpu_features(X["gpu_model"], errors=errors)
    out = pd.DataFrame(index=X.index)
    for c in SPEC_COLUMNS:
        out[c] = g[c].to_numpy(dtype=np.float64)
    for c in RUN_INPUTS[1:]:
        out[c] = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=np.float64)
    return out[FEATURES]


def _predict_complete(regressor, X: pd.DataFrame) -> np.ndarray:
    """``regressor``'s prediction for the runs whose inputs are all known (an unknown GPU or a missing
    value: NaN)."""
    F = offline_features(X, errors="coerce")
    out = np.full(len(F), np.nan)
    ok = np.isfinite(F.to_numpy()).all(axis=1)
    if ok.any():
        out[ok] = regressor.predict(F[ok])
    return out


def _select(table: pd.DataFrame, by: str) -> str:
    if by not in ("rmse", "mae", "r2"):
        raise ValueError(f"select_by must be rmse, mae or r2, not {by!r}")
    t = table.dropna(subset=[by])
    row = t.loc[t[by].idxmax()] if by == "r2" else t.loc[t[by].idxmin()]
    return str(row["model"])


class _OfflineBase(RegressorMixin, BaseEstimator):
    kind = ""
    target = ""
    target_unit = ""

    def __init__(self, models=("linear", "ridge", "kernel_ridge", "svr"), n_iter: int = 20, cv: int = 5,
                 select_by: str = "rmse", random_state=None, n_jobs: int = 1):
        self.models = models
        self.n_iter = n_iter
        self.cv = cv
        self.select_by = select_by
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- to be defined by the two targets -----------------------------------------------------
    def _target(self, X: pd.DataFrame, y: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _scale(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- sklearn API ---------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y=None):
        if y is None:
            y = X["energy_j"]
        y = np.asarray(y, dtype=np.float64)
        F = offline_features(X)
        T = self._target(X, y)
        ok = np.isfinite(T) & np.isfinite(F.to_numpy()).all(axis=1)
        F, T = F[ok], T[ok]
        n_splits = int(self.cv)
        if len(T) < max(n_splits, 2) * 2:
            raise ValueError(f"{len(T)} usable runs: too few for {n_splits}-fold cross-validation")
        kf = KFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        rows, searches = [], {}
        for i, name in enumerate(self.models):
            est = make_pipeline(name)
            dists = _candidates()[name][1]
            finite = all(isinstance(v, list) for v in dists.values())
            n_iter = min(int(self.n_iter), math.prod(len(v) for v in dists.values())) if finite else int(self.n_iter)
            seed = None if self.random_state is None else int(self.random_state) + i
            s = RandomizedSearchCV(est, dists, n_iter=n_iter, cv=kf, scoring=SCORING, refit=self.select_by,
                                   random_state=seed, n_jobs=self.n_jobs, error_score=np.nan)
            s.fit(F, T)
            b = s.best_index_
            cvr = s.cv_results_
            params = {k.replace("regressor__model__", ""): _plain(v) for k, v in s.best_params_.items()}
            rows.append({"model": name, "r2": float(cvr["mean_test_r2"][b]), "rmse": float(-cvr["mean_test_rmse"][b]),
                         "mae": float(-cvr["mean_test_mae"][b]), "r2_sd": float(cvr["std_test_r2"][b]),
                         "rmse_sd": float(cvr["std_test_rmse"][b]), "mae_sd": float(cvr["std_test_mae"][b]),
                         "n_iter": n_iter, "best_params": json.dumps(params, sort_keys=True)})
            searches[name] = s
        self.cv_table_ = pd.DataFrame(rows)
        self.model_name_ = _select(self.cv_table_, self.select_by)
        best = searches[self.model_name_]
        self.regressor_ = best.best_estimator_
        self.best_params_ = json.loads(self.cv_table_.set_index("model").loc[self.model_name_, "best_params"])
        oof = cross_val_predict(clone(self.regressor_), F, T, cv=kf)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = T / oof
        ratio = ratio[np.isfinite(ratio)]
        self.ratio_quantiles_ = {f"q{int(q * 100):02d}": float(np.quantile(ratio, q)) for q in (0.05, 0.5, 0.95)}
        self.feature_ranges_ = {c: [float(F[c].min()), float(F[c].max())] for c in FEATURES}
        self.gpus_ = sorted(set(gpu_features(X.loc[F.index, "gpu_model"])["gpu_spec_name"]))
        self.n_train_ = int(len(T))
        self.n_features_in_ = len(FEATURES)
        return self

    def predict_target(self, X: pd.DataFrame) -> np.ndarray:
        """Average power (W) or average epoch energy (J) of each run."""
        check_is_fitted(self, "regressor_")
        return _predict_complete(self.regressor_, X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.predict_target(X) * self._scale(X)

    # -- persistence ---------------------------------------------------------------------------
    def schema(self, **extra) -> dict:
        check_is_fitted(self, "regressor_")
        import sklearn

        from .. import __version__

        cv = self.cv_table_.set_index("model").loc[self.model_name_]
        return {
            "kind": self.kind,
            "target": self.target,
            "target_unit": self.target_unit,
            "energy": self.energy_formula,
            "features": FEATURES,
            "feature_units": FEATURE_UNITS,
            "inputs": RUN_INPUTS,
            "feature_ranges": self.feature_ranges_,
            "gpus": self.gpus_,
            "model": self.model_name_,
            "model_name": MODEL_NAMES.get(self.model_name_, self.model_name_),
            "params": self.best_params_,
            "select_by": self.select_by,
            "cv": {"folds": int(self.cv), "n_iter": int(self.n_iter), "r2": float(cv["r2"]), "rmse": float(cv["rmse"]),
                   "mae": float(cv["mae"])},
            "ratio_quantiles": self.ratio_quantiles_,
            "n_train": self.n_train_,
            "random_state": self.random_state,
            "sklearn_version": sklearn.__version__,
            "dlenergy_version": __version__,
            **extra,
        }

    def save(self, model_dir: str | Path, **extra) -> tuple[Path, Path]:
        """Write ``<kind>.joblib`` and ``<kind>.json`` (atomically) under ``model_dir``."""
        from ..io import _atomic

        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        jb, js = model_dir / f"{self.kind}.joblib", model_dir / f"{self.kind}.json"
        _atomic(jb, lambda tmp: joblib.dump(self.regressor_, tmp))
        text = json.dumps(self.schema(**extra), indent=2, sort_keys=True) + "\n"
        _atomic(js, lambda tmp: Path(tmp).write_text(text))
        return jb, js


def _plain(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


class OfflinePowerEstimator(_OfflineBase):
    """Regression of the average power (W); energy = power x ``duration_s``."""

    kind = "offline_power"
    target = "average power"
    target_unit = "W"
    energy_formula = "predicted average power (W) x training duration (s)"

    def _target(self, X, y):
        return y / X["duration_s"].to_numpy(dtype=np.float64)

    def _scale(self, X):
        return X["duration_s"].to_numpy(dtype=np.float64)


def _n_epochs(X: pd.DataFrame) -> np.ndarray:
    col = "planned_epochs" if "planned_epochs" in X else "epochs_measured"
    return X[col].to_numpy(dtype=np.float64)


class OfflineEpochEnergyEstimator(_OfflineBase):
    """Regression of the average epoch energy (J); energy = epoch energy x number of epochs.

    ``include_initial_epochs=False`` learns the mean energy of the epochs from ``stabilizing_epoch``
    on (needs ``epochs``, the per-epoch table).
    """

    kind = "offline_epoch_energy"
    target = "average epoch energy"
    target_unit = "J"
    energy_formula = "predicted average epoch energy (J) x number of epochs"

    def __init__(self, models=("linear", "ridge", "kernel_ridge", "svr"), n_iter: int = 20, cv: int = 5,
                 select_by: str = "rmse", random_state=None, n_jobs: int = 1, include_initial_epochs: bool = True,
                 epochs: pd.DataFrame | None = None, stabilizing_epoch: int = 10):
        super().__init__(models=models, n_iter=n_iter, cv=cv, select_by=select_by, random_state=random_state,
                         n_jobs=n_jobs)
        self.include_initial_epochs = include_initial_epochs
        self.epochs = epochs
        self.stabilizing_epoch = stabilizing_epoch

    def _target(self, X, y):
        if self.include_initial_epochs:
            return y / _n_epochs(X)
        if self.epochs is None:
            raise ValueError("include_initial_epochs=False needs epochs=<epochs table>")
        st = self.epochs[self.epochs["epoch"] >= int(self.stabilizing_epoch)]
        mean = st.groupby("run_id")["energy_j"].mean()
        return X["run_id"].astype(str).map(mean).to_numpy(dtype=np.float64)

    def _scale(self, X):
        return _n_epochs(X)

    def schema(self, **extra) -> dict:
        out = super().schema(**extra)
        out["include_initial_epochs"] = bool(self.include_initial_epochs)
        if not self.include_initial_epochs:
            out["stabilizing_epoch"] = int(self.stabilizing_epoch)
        return out


# ----------------------------------------------------------------------------- persisted models


@dataclass
class LoadedModel:
    """An offline model read back from disk, with the domain checks of its schema."""

    regressor: object
    schema: dict
    path: Path

    def features(self, inputs: dict) -> pd.DataFrame:
        """Model inputs from user inputs (``gpu_model`` name and the numeric settings); checks the GPU."""
        X = pd.DataFrame([{k: inputs.get(k) for k in RUN_INPUTS}])
        return offline_features(X)  # raises UnknownGPUError for a GPU not in the table

    def check(self, F: pd.DataFrame, *, tolerance: float = 0.0) -> list[str]:
        """Why the inputs are outside the training domain (empty list: inside)."""
        problems = []
        for c, (lo, hi) in self.schema["feature_ranges"].items():
            v = float(F[c].iloc[0])
            span = (hi - lo) * tolerance
            if not (lo - span <= v <= hi + span):
                problems.append(f"{c} = {v:g} {FEATURE_UNITS.get(c, '')} is outside the training range [{lo:g}, {hi:g}]")
        return problems

    def predict_target(self, F: pd.DataFrame) -> float:
        return float(self.regressor.predict(F[self.schema["features"]])[0])


def load_offline_model(model_dir: str | Path, kind: str) -> LoadedModel:
    """Read ``<kind>.joblib`` + ``<kind>.json``; FileNotFoundError (with the reason) when there is no model."""
    model_dir = Path(model_dir)
    jb, js = model_dir / f"{kind}.joblib", model_dir / f"{kind}.json"
    if not jb.is_file() or not js.is_file():
        raise FileNotFoundError(f"no offline model '{kind}' in {model_dir} (need {jb.name} and {js.name})")
    schema = json.loads(js.read_text())
    if schema.get("skipped"):
        raise FileNotFoundError(f"{js}: the pipeline did not train this model: {schema.get('reason', 'skipped')}")
    if schema.get("features") != FEATURES:
        raise ValueError(f"{js}: feature schema {schema.get('features')} does not match this dlenergy ({FEATURES})")
    return LoadedModel(joblib.load(jb), schema, model_dir)


def write_skipped_model(model_dir: str | Path, kind: str, reason: str, **extra) -> None:
    """Placeholder ``<kind>.joblib`` / ``<kind>.json`` for a source the model could not be trained on."""
    from ..io import _atomic

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    _atomic(model_dir / f"{kind}.joblib", lambda tmp: joblib.dump(None, tmp))
    text = json.dumps({"kind": kind, "skipped": True, "reason": reason, **extra}, indent=2, sort_keys=True) + "\n"
    _atomic(model_dir / f"{kind}.json", lambda tmp: Path(tmp).write_text(text))


class PersistedOfflineEstimator(RegressorMixin, BaseEstimator):
    """An offline model saved by the pipeline, as an estimator of a run's energy (J).

    ``fit`` loads ``<model_dir>/<kind>.joblib``; ``predict`` scales the predicted average power by
    ``duration_s`` (``offline_power``) or the predicted average epoch energy by the number of epochs
    (``offline_epoch_energy``).
    """

    def __init__(self, model_dir: str | Path = "results/sample/models", kind: str = "offline_power"):
        self.model_dir = model_dir
        self.kind = kind

    def fit(self, X=None, y=None):
        self.model_ = load_offline_model(self.model_dir, self.kind)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "model_")
        out = _predict_complete(self.model_.regressor, X)
        scale = X["duration_s"].to_numpy(dtype=np.float64) if self.kind == "offline_power" else _n_epochs(X)
        return out * scale


__all__ = [
    "FEATURES",
    "LoadedModel",
    "OfflineEpochEnergyEstimator",
    "OfflinePowerEstimator",
    "OutOfDomainError",
    "PersistedOfflineEstimator",
    "UnknownGPUError",
    "load_offline_model",
    "write_skipped_model",
    "make_pipeline",
    "offline_features",
]
