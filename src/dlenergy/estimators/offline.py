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

:meth:`_OfflineBase.save` writes ``<kind>.joblib`` (the fitted estimator) and ``<kind>.json`` (the
feature schema: feature names, order, units and training ranges, the GPUs seen, the model, its
hyper-parameters and CV scores, the residual quantiles, versions, and what it was fitted on: source,
data label, real or synthetic, number of runs).  A saved model is read back by
:meth:`_OfflineBase.load` (``OfflinePowerEstimator.load(model_dir)``), :func:`load_offline_estimator`
or, with its schema and the domain checks :mod:`dlenergy.cli` ``estimate`` uses,
:func:`load_offline_model`.
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
from ._tables import check_epochs, check_runs, column, epochs_column, n_epochs

#: model inputs, in order, with units
FEATURES = [
    "cuda_cores",
    "memory_gb",
    "tdp_w",
    "total_ram_gb",
    "gflops",
    "training_size",
    "validation_size",
    "batch_size",
    "image_size",
]
FEATURE_UNITS = {
    "cuda_cores": "count",
    "memory_gb": "GB (GPU memory)",
    "tdp_w": "W",
    "total_ram_gb": "GB",
    "gflops": "GFLOPs per forward pass",
    "training_size": "images",
    "validation_size": "images",
    "batch_size": "images",
    "image_size": "pixels (side)",
}
RUN_INPUTS = ["gpu_model", "total_ram_gb", "gflops", "training_size", "validation_size", "batch_size", "image_size"]

MODEL_NAMES = {"linear": "Linear", "ridge": "Ridge", "kernel_ridge": "Kernel Ridge", "svr": "SVM (SVR)"}
SCORING = {"r2": "r2", "rmse": "neg_root_mean_squared_error", "mae": "neg_mean_absolute_error"}


class OutOfDomainError(ValueError):
    """Inputs outside what an offline model was trained on."""


def _candidates() -> dict[str, tuple[object, dict]]:
    """The four regressors and their random-search spaces (log-uniform ranges; the paper gives none).

    Linear regression (intercept fitted); Ridge ``alpha`` in [1e-4, 1e3]; Kernel Ridge ``alpha`` in
    [1e-5, 1e1], ``gamma`` in [1e-4, 1e1], kernel ``rbf`` or ``laplacian``; SVR (``rbf``) ``C`` in
    [1e-1, 1e4], ``epsilon`` in [1e-3, 1], ``gamma`` in [1e-4, 1e1].
    """
    p = "regressor__model__"
    return {
        "linear": (LinearRegression(), {p + "fit_intercept": [True]}),
        "ridge": (Ridge(), {p + "alpha": loguniform(1e-4, 1e3)}),
        "kernel_ridge": (
            KernelRidge(),
            {
                p + "alpha": loguniform(1e-5, 1e1),
                p + "gamma": loguniform(1e-4, 1e1),
                p + "kernel": ["rbf", "laplacian"],
            },
        ),
        "svr": (
            SVR(),
            {
                p + "C": loguniform(1e-1, 1e4),
                p + "epsilon": loguniform(1e-3, 1e0),
                p + "gamma": loguniform(1e-4, 1e1),
                p + "kernel": ["rbf"],
            },
        ),
    }


def make_pipeline(name: str):
    model, _ = _candidates()[name]
    return TransformedTargetRegressor(
        regressor=Pipeline([("scale", StandardScaler()), ("model", clone(model))]), transformer=StandardScaler()
    )


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
    energy_formula = ""

    def __init__(
        self,
        models=("linear", "ridge", "kernel_ridge", "svr"),
        n_iter: int = 20,
        cv: int = 5,
        select_by: str = "rmse",
        random_state=None,
        n_jobs: int = 1,
    ):
        self.models = models
        self.n_iter = n_iter
        self.cv = cv
        self.select_by = select_by
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- to be defined by the two targets -----------------------------------------------------
    def _target(self, X: pd.DataFrame, y: np.ndarray, epochs) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _scale(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _scale_column(self, X) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _needs(self, X) -> list[str]:
        return [*RUN_INPUTS, self._scale_column(X)]

    # -- sklearn API ---------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y, epochs: pd.DataFrame | None = None):
        """Tune and select the regression of the target on the pre-training inputs.

        ``X``: the runs table; ``y``: each run's measured energy (J); ``epochs``: the per-epoch
        table, needed only by the epoch-energy target without the initial epochs.
        """
        X, y = check_runs(self, X, y, reset=True, needs=self._needs(X))
        if not len(self.models):
            raise ValueError("models must name at least one candidate")
        F = offline_features(X)
        T = self._target(X, y, epochs)
        ok = np.isfinite(T) & np.isfinite(F.to_numpy()).all(axis=1)
        F, T = F[ok], T[ok]
        n_splits = int(self.cv)
        if len(T) < max(n_splits, 2) * 2:
            raise ValueError(f"{len(T)} usable runs: too few for {n_splits}-fold cross-validation")
        kf = KFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        rows, searches = zip(*(self._search(i, name, F, T, kf) for i, name in enumerate(self.models)))
        self.cv_table_ = pd.DataFrame(list(rows))
        self.model_name_ = _select(self.cv_table_, self.select_by)
        self.regressor_ = dict(zip(self.models, searches))[self.model_name_].best_estimator_
        self.best_params_ = json.loads(self.cv_table_.set_index("model").loc[self.model_name_, "best_params"])
        oof = cross_val_predict(clone(self.regressor_), F, T, cv=kf)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = T / oof
        ratio = ratio[np.isfinite(ratio)]
        self.ratio_quantiles_ = {f"q{int(q * 100):02d}": float(np.quantile(ratio, q)) for q in (0.05, 0.5, 0.95)}
        self.feature_ranges_ = {c: [float(F[c].min()), float(F[c].max())] for c in FEATURES}
        self.gpus_ = sorted(set(gpu_features(X.loc[F.index, "gpu_model"])["gpu_spec_name"]))
        self.n_train_ = int(len(T))
        return self

    def _search(self, i: int, name: str, F: pd.DataFrame, T: np.ndarray, kf) -> tuple[dict, RandomizedSearchCV]:
        """One candidate's randomized search: its CV row (scores at the best draw) and the search."""
        dists = _candidates()[name][1]
        finite = all(isinstance(v, list) for v in dists.values())
        n_iter = min(int(self.n_iter), math.prod(len(v) for v in dists.values())) if finite else int(self.n_iter)
        seed = None if self.random_state is None else int(self.random_state) + i
        s = RandomizedSearchCV(
            make_pipeline(name),
            dists,
            n_iter=n_iter,
            cv=kf,
            scoring=SCORING,
            refit=self.select_by,
            random_state=seed,
            n_jobs=self.n_jobs,
            error_score=np.nan,
        )
        s.fit(F, T)
        b, cvr = s.best_index_, s.cv_results_
        params = {k.replace("regressor__model__", ""): _plain(v) for k, v in s.best_params_.items()}
        row = {
            "model": name,
            "r2": float(cvr["mean_test_r2"][b]),
            "rmse": float(-cvr["mean_test_rmse"][b]),
            "mae": float(-cvr["mean_test_mae"][b]),
            "r2_sd": float(cvr["std_test_r2"][b]),
            "rmse_sd": float(cvr["std_test_rmse"][b]),
            "mae_sd": float(cvr["std_test_mae"][b]),
            "n_iter": n_iter,
            "best_params": json.dumps(params, sort_keys=True),
        }
        return row, s

    def predict_target(self, X: pd.DataFrame) -> np.ndarray:
        """Average power (W) or average epoch energy (J) of each run."""
        check_is_fitted(self, "regressor_")
        X = check_runs(self, X, reset=False, needs=RUN_INPUTS)[0]
        return _predict_complete(self.regressor_, X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Energy (J) of each run: the predicted target x the run's duration or number of epochs."""
        check_is_fitted(self, "regressor_")
        X = check_runs(self, X, reset=False, needs=self._needs(X))[0]
        return _predict_complete(self.regressor_, X) * self._scale(X)

    # -- persistence ---------------------------------------------------------------------------
    def schema(self, **extra) -> dict:
        """The feature schema written next to the model (``<kind>.json``); ``extra`` adds keys such as
        ``source``, ``data_label`` and ``data_kind`` (real or synthetic)."""
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
            "cv": {
                "folds": int(self.cv),
                "n_iter": int(self.n_iter),
                "r2": float(cv["r2"]),
                "rmse": float(cv["rmse"]),
                "mae": float(cv["mae"]),
            },
            "ratio_quantiles": self.ratio_quantiles_,
            "n_train": self.n_train_,
            "fit_columns": [str(c) for c in getattr(self, "feature_names_in_", [])],
            "random_state": self.random_state,
            "sklearn_version": sklearn.__version__,
            "dlenergy_version": __version__,
            **extra,
        }

    def save(self, model_dir: str | Path, **extra) -> tuple[Path, Path]:
        """Write ``<kind>.joblib`` (this fitted estimator) and ``<kind>.json`` (its schema), atomically."""
        from ..io import _atomic

        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        jb, js = model_dir / f"{self.kind}.joblib", model_dir / f"{self.kind}.json"
        text = json.dumps(self.schema(**extra), indent=2, sort_keys=True) + "\n"
        _atomic(jb, lambda tmp: joblib.dump(self, tmp))
        _atomic(js, lambda tmp: Path(tmp).write_text(text))
        return jb, js

    @classmethod
    def load(cls, model_dir: str | Path):
        """The fitted estimator saved by :meth:`save` under ``model_dir``.

        FileNotFoundError (with the reason) when there is none, or the pipeline skipped it.
        """
        est = load_offline_model(model_dir, cls.kind).estimator
        if not isinstance(est, cls):
            raise ValueError(f"{model_dir}: {cls.kind}.joblib holds a {type(est).__name__}, not a {cls.__name__}")
        return est


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

    def _target(self, X, y, epochs):
        return y / column(X, "duration_s")

    def _scale(self, X):
        return column(X, "duration_s")

    def _scale_column(self, X):
        return "duration_s"


def stable_epoch_energy(epochs: pd.DataFrame, stabilizing_epoch: int) -> pd.Series:
    """Mean energy (J) of each run's epochs from ``stabilizing_epoch`` on (``epoch >= stabilizing_epoch``),
    by ``run_id``: the target of the epoch-energy model without the initial epochs.

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"run_id": ["a"] * 4, "epoch": [0, 1, 2, 3], "energy_j": [1.0, 2.0, 4.0, 6.0]})
    >>> stable_epoch_energy(ep, 2).to_dict()
    {'a': 5.0}
    """
    st = epochs[pd.to_numeric(epochs["epoch"], errors="coerce") >= int(stabilizing_epoch)]
    return st.groupby(st["run_id"].astype(str))["energy_j"].mean()


class OfflineEpochEnergyEstimator(_OfflineBase):
    """Regression of the average epoch energy (J); energy = epoch energy x number of epochs.

    ``include_initial_epochs=False`` learns the mean energy of the epochs from ``stabilizing_epoch``
    on (:func:`stable_epoch_energy`; ``fit`` then needs ``epochs``, the per-epoch table).
    """

    kind = "offline_epoch_energy"
    target = "average epoch energy"
    target_unit = "J"
    energy_formula = "predicted average epoch energy (J) x number of epochs"

    def __init__(
        self,
        models=("linear", "ridge", "kernel_ridge", "svr"),
        n_iter: int = 20,
        cv: int = 5,
        select_by: str = "rmse",
        random_state=None,
        n_jobs: int = 1,
        include_initial_epochs: bool = True,
        stabilizing_epoch: int = 10,
    ):
        super().__init__(
            models=models, n_iter=n_iter, cv=cv, select_by=select_by, random_state=random_state, n_jobs=n_jobs
        )
        self.include_initial_epochs = include_initial_epochs
        self.stabilizing_epoch = stabilizing_epoch

    def _target(self, X, y, epochs):
        if self.include_initial_epochs:
            return y / n_epochs(X)
        epochs = check_epochs(self, epochs, ("run_id", "epoch", "energy_j"))
        mean = stable_epoch_energy(epochs, self.stabilizing_epoch)
        return X["run_id"].astype(str).map(mean).to_numpy(dtype=np.float64)

    def _scale(self, X):
        return n_epochs(X)

    def _scale_column(self, X):
        return epochs_column(X)

    def _needs(self, X):
        return [*super()._needs(X), *([] if self.include_initial_epochs else ["run_id"])]

    def schema(self, **extra) -> dict:
        out = super().schema(**extra)
        out["include_initial_epochs"] = bool(self.include_initial_epochs)
        if not self.include_initial_epochs:
            out["stabilizing_epoch"] = int(self.stabilizing_epoch)
        return out


#: model kind -> estimator class
OFFLINE_KINDS = {c.kind: c for c in (OfflinePowerEstimator, OfflineEpochEnergyEstimator)}


# ----------------------------------------------------------------------------- persisted models


@dataclass
class LoadedModel:
    """An offline model read back from disk (the fitted estimator and its schema), with the domain
    checks of its schema."""

    estimator: _OfflineBase
    schema: dict
    path: Path

    @property
    def regressor(self):
        return self.estimator.regressor_

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
                problems.append(
                    f"{c} = {v:g} {FEATURE_UNITS.get(c, '')} is outside the training range [{lo:g}, {hi:g}]"
                )
        return problems

    def predict_target(self, F: pd.DataFrame) -> float:
        return float(self.regressor.predict(F[self.schema["features"]])[0])


def read_model_schema(model_dir: str | Path, kind: str) -> dict:
    """``<kind>.json`` of ``model_dir``; FileNotFoundError (with the reason) when there is no usable
    model: the files are absent, or the pipeline skipped the model for its source."""
    model_dir = Path(model_dir)
    jb, js = model_dir / f"{kind}.joblib", model_dir / f"{kind}.json"
    if not jb.is_file() or not js.is_file():
        raise FileNotFoundError(f"no offline model '{kind}' in {model_dir} (need {jb.name} and {js.name})")
    schema = json.loads(js.read_text())
    if schema.get("skipped"):
        raise FileNotFoundError(f"{js}: the pipeline did not train this model: {schema.get('reason', 'skipped')}")
    if schema.get("features") != FEATURES:
        raise ValueError(f"{js}: feature schema {schema.get('features')} does not match this dlenergy ({FEATURES})")
    return schema


def load_offline_model(model_dir: str | Path, kind: str) -> LoadedModel:
    """Read ``<kind>.joblib`` (the fitted estimator) and ``<kind>.json`` (its schema) from ``model_dir``.

    FileNotFoundError (with the reason) when there is no model; ValueError when the files do not
    hold a model of this dlenergy.

    Examples
    --------
    >>> from dlenergy.estimators import load_offline_model
    >>> load_offline_model("no/such/dir", "offline_power")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FileNotFoundError: no offline model 'offline_power' in no/such/dir ...
    """
    if kind not in OFFLINE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(OFFLINE_KINDS)}, not {kind!r}")
    schema = read_model_schema(model_dir, kind)
    est = joblib.load(Path(model_dir) / f"{kind}.joblib")
    if not isinstance(est, OFFLINE_KINDS[kind]):
        raise ValueError(
            f"{Path(model_dir) / kind}.joblib holds a {type(est).__name__}, not a fitted "
            f"{OFFLINE_KINDS[kind].__name__}: re-run the pipeline's est_offline rule"
        )
    return LoadedModel(est, schema, Path(model_dir))


def load_offline_estimator(model_dir: str | Path, kind: str) -> _OfflineBase:
    """The fitted offline estimator of ``kind`` (``offline_power`` or ``offline_epoch_energy``) saved
    under ``model_dir``: ``predict(runs)`` gives each run's energy (J)."""
    return load_offline_model(model_dir, kind).estimator


def write_skipped_model(model_dir: str | Path, kind: str, reason: str, **extra) -> None:
    """Placeholder ``<kind>.joblib`` / ``<kind>.json`` for a source the model could not be trained on."""
    from ..io import _atomic

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    _atomic(model_dir / f"{kind}.joblib", lambda tmp: joblib.dump(None, tmp))
    text = json.dumps({"kind": kind, "skipped": True, "reason": reason, **extra}, indent=2, sort_keys=True) + "\n"
    _atomic(model_dir / f"{kind}.json", lambda tmp: Path(tmp).write_text(text))


def training_data_info(dataset: str | Path, source: str) -> dict:
    """What a model is fitted on, for its schema: ``source``, ``data_label`` and ``data_kind``
    (``"synthetic"`` when the dataset's ``dataset_info.json`` says so, else ``"real"``)."""
    from ..io import dataset_label

    info = Path(dataset) / "dataset_info.json"
    synthetic = bool(json.loads(info.read_text()).get("synthetic")) if info.is_file() else False
    return {
        "source": str(source),
        "data_label": dataset_label(dataset),
        "data_kind": "synthetic" if synthetic else "real",
    }


__all__ = [
    "FEATURES",
    "OFFLINE_KINDS",
    "LoadedModel",
    "OfflineEpochEnergyEstimator",
    "OfflinePowerEstimator",
    "OutOfDomainError",
    "UnknownGPUError",
    "load_offline_estimator",
    "load_offline_model",
    "make_pipeline",
    "offline_features",
    "read_model_schema",
    "stable_epoch_energy",
    "training_data_info",
    "write_skipped_model",
]
