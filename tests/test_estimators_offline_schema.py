"""Offline estimators: the saved schema's fields, the parameters passed on by the epoch-energy
estimator, the columns each target needs, the refusals of predict on a changed table, and the search
spaces of the candidate models.

Expected values are worked out by hand (a power / epoch energy exactly linear in the inputs, so the
linear model reproduces it) or drawn independently (scikit-learn's ParameterSampler over the documented
search space, seeded as documented: ``random_state`` + the candidate's index)."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from offline_reference import BATCH, GFLOPS, IMAGE, RAM
from scipy.stats import loguniform
from sklearn.model_selection import ParameterSampler

import dlenergy
from dlenergy.estimators import FEATURES, OfflineEpochEnergyEstimator, OfflinePowerEstimator, load_offline_model
from dlenergy.estimators.offline import stable_epoch_energy

GPU = "NVIDIA GeForce RTX 3090"


def linear_runs() -> pd.DataFrame:
    """12 runs on one GPU; average power P = 20 + 8 gflops + 0.05 image_size + 0.01 batch_size (W),
    epoch energy E = 100 + 30 gflops + 0.5 image_size (J) with 5..16 planned epochs."""
    gflops, image, batch, ram = GFLOPS, IMAGE, BATCH, RAM
    rows = []
    for i, (g, im, b, r) in enumerate(zip(gflops, image, batch, ram)):
        rows.append(
            {
                "run_id": f"r{i:02d}",
                "gpu_model": GPU,
                "total_ram_gb": r,
                "gflops": g,
                "training_size": 20000,
                "validation_size": 5000,
                "batch_size": b,
                "image_size": im,
                "duration_s": 100.0 * (i + 1),
                "power_w": 20 + 8 * g + 0.05 * im + 0.01 * b,
                "epoch_j": 100 + 30 * g + 0.5 * im,
                "planned_epochs": 5 + i,
            }
        )
    return pd.DataFrame(rows)


def power_table(t: pd.DataFrame) -> pd.DataFrame:
    out = t.drop(columns=["power_w", "epoch_j", "planned_epochs"])
    out["energy_j"] = t["power_w"] * t["duration_s"]
    return out


@pytest.fixture(scope="module")
def power_fit():
    runs = power_table(linear_runs())
    est = OfflinePowerEstimator(models=("linear",), n_iter=1, cv=3, select_by="mae", random_state=3)
    return runs, est.fit(runs, runs["energy_j"])


def test_power_schema_fields(power_fit):
    runs, est = power_fit
    s = est.schema(source="unit")
    assert s["energy"] == "predicted average power (W) x training duration (s)"
    assert s["feature_units"]["tdp_w"] == "W" and set(s["feature_units"]) == set(FEATURES)
    assert s["inputs"] == [
        "gpu_model",
        "total_ram_gb",
        "gflops",
        "training_size",
        "validation_size",
        "batch_size",
        "image_size",
    ]
    assert s["model"] == "linear" and s["model_name"] == "Linear"
    assert s["params"] == {"fit_intercept": True}
    assert s["select_by"] == "mae"
    assert s["cv"]["folds"] == 3 and s["cv"]["n_iter"] == 1
    # exact linear data: the out-of-fold errors are rounding noise
    assert 0 <= s["cv"]["mae"] < 1e-6 and 0 <= s["cv"]["rmse"] < 1e-6 and s["cv"]["r2"] == pytest.approx(1.0)
    assert s["fit_columns"] == list(runs.columns)
    assert s["sklearn_version"] == sklearn.__version__
    assert s["dlenergy_version"] == dlenergy.__version__
    assert s["source"] == "unit"


def test_predict_target_refuses_a_table_with_other_columns_and_keeps_the_fit_columns(power_fit):
    runs, est = power_fit
    est = sklearn.base.clone(est).fit(runs, runs["energy_j"])
    t = est.predict_target(runs.iloc[:2])
    want = [20 + 8 * 0.5 + 0.05 * 75 + 0.01 * 32, 20 + 8 * 1.2 + 0.05 * 128 + 0.01 * 64]
    np.testing.assert_allclose(t, want, rtol=1e-9)
    extra = runs.assign(extra=1.0)
    with pytest.raises(ValueError):
        est.predict_target(extra)
    assert est.schema()["fit_columns"] == list(runs.columns)


def test_epoch_energy_passes_its_parameters_on():
    est = OfflineEpochEnergyEstimator(cv=3, select_by="mae", n_jobs=2, include_initial_epochs=True)
    p = est.get_params()
    assert (p["cv"], p["select_by"], p["n_jobs"]) == (3, "mae", 2)


def test_epoch_energy_with_planned_epochs_and_no_run_id():
    t = linear_runs()
    runs = t.drop(columns=["power_w", "epoch_j", "run_id"])
    runs["energy_j"] = t["epoch_j"] * t["planned_epochs"]
    est = OfflineEpochEnergyEstimator(models=("linear",), n_iter=1, cv=3, select_by="mae", random_state=1)
    est.fit(runs, runs["energy_j"])
    s = est.schema()
    assert s["include_initial_epochs"] is True and "stabilizing_epoch" not in s
    assert s["cv"]["folds"] == 3 and s["select_by"] == "mae"
    new = runs.iloc[:2].copy()
    new["planned_epochs"] = [3, 7]
    np.testing.assert_allclose(
        est.predict(new), [(100 + 30 * 0.5 + 0.5 * 75) * 3, (100 + 30 * 1.2 + 0.5 * 128) * 7], rtol=1e-9
    )


def test_epoch_energy_without_initial_epochs_needs_run_id_but_not_epoch_durations():
    t = linear_runs()
    runs = t.drop(columns=["power_w", "epoch_j"])
    runs["energy_j"] = 1.0  # not read by this target
    # epochs 0-1 cost 999 J (warm-up), epochs 2.. the run's stable energy; no duration_s column
    ep = pd.DataFrame(
        [
            {"run_id": r, "epoch": e, "energy_j": 999.0 if e < 2 else float(j)}
            for r, j in zip(t["run_id"], t["epoch_j"])
            for e in range(4)
        ]
    )
    est = OfflineEpochEnergyEstimator(
        models=("linear",), n_iter=1, cv=3, random_state=1, include_initial_epochs=False, stabilizing_epoch=2
    )
    est.fit(runs, runs["energy_j"], epochs=ep)
    np.testing.assert_allclose(est.predict_target(runs.iloc[:1]), [100 + 30 * 0.5 + 0.5 * 75], rtol=1e-9)
    s = est.schema()
    assert s["include_initial_epochs"] is False and s["stabilizing_epoch"] == 2
    with pytest.raises(ValueError, match="run_id"):
        OfflineEpochEnergyEstimator(include_initial_epochs=False).fit(
            runs.drop(columns=["run_id"]), runs["energy_j"], epochs=ep
        )


def test_stable_epoch_energy_drops_non_numeric_epochs():
    ep = pd.DataFrame({"run_id": ["a"] * 4, "epoch": ["1", "2", "n/a", "3"], "energy_j": [1.0, 2.0, 50.0, 6.0]})
    assert stable_epoch_energy(ep, 2).to_dict() == {"a": 4.0}


def test_load_offline_model_refuses_another_kind(tmp_path):
    (tmp_path / "offline_epoch_energy.json").write_text(
        json.dumps({"kind": "offline_epoch_energy", "features": FEATURES})
    )
    joblib.dump(OfflinePowerEstimator(), tmp_path / "offline_epoch_energy.joblib")
    with pytest.raises(ValueError, match="holds a OfflinePowerEstimator, not a fitted OfflineEpochEnergyEstimator"):
        load_offline_model(tmp_path, "offline_epoch_energy")


# The documented search spaces (module docstring of dlenergy.estimators.offline / docs): the best
# parameters must be one of the draws of an independent sampler over them.
P = "regressor__model__"
SPACES = {
    "ridge": {P + "alpha": loguniform(1e-4, 1e3)},
    "kernel_ridge": {
        P + "alpha": loguniform(1e-5, 1e1),
        P + "gamma": loguniform(1e-4, 1e1),
        P + "kernel": ["rbf", "laplacian"],
    },
    "svr": {
        P + "C": loguniform(1e-1, 1e4),
        P + "epsilon": loguniform(1e-3, 1e0),
        P + "gamma": loguniform(1e-4, 1e1),
        P + "kernel": ["rbf"],
    },
}


@pytest.mark.parametrize("name,seed", [("ridge", 5), ("kernel_ridge", 2), ("kernel_ridge", 4), ("svr", 2)])
def test_best_params_are_draws_of_the_documented_space(name, seed):
    runs = power_table(linear_runs())
    n_iter = 6
    est = OfflinePowerEstimator(models=(name,), n_iter=n_iter, cv=3, random_state=seed).fit(runs, runs["energy_j"])
    draws = [
        {k.replace(P, ""): v for k, v in d.items()}
        for d in ParameterSampler(SPACES[name], n_iter=n_iter, random_state=seed)  # index 0: seed + 0
    ]
    best = est.schema()["params"]

    def same(d):
        return d.keys() == best.keys() and all(
            d[k] == best[k] if isinstance(d[k], str) else d[k] == pytest.approx(best[k], rel=1e-12) for k in d
        )

    assert any(same(d) for d in draws), (best, draws)
    # and it is the draw with the lowest cross-validated RMSE, recomputed with a pipeline built here
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    from dlenergy.estimators.offline import offline_features

    F, T = offline_features(runs), (runs["energy_j"] / runs["duration_s"]).to_numpy()
    kf = KFold(n_splits=3, shuffle=True, random_state=seed)
    model = {"ridge": Ridge, "kernel_ridge": KernelRidge, "svr": SVR}[name]
    rmse = [
        -cross_val_score(
            TransformedTargetRegressor(
                regressor=Pipeline([("s", StandardScaler()), ("m", model(**d))]), transformer=StandardScaler()
            ),
            F,
            T,
            cv=kf,
            scoring="neg_root_mean_squared_error",
        ).mean()
        for d in draws
    ]
    assert same(draws[int(np.argmin(rmse))]), (best, draws, rmse)
