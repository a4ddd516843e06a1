"""What ``_OfflineBase.fit`` keeps and refuses: rows with a missing input or target are left out (and
only they), the cross-validation needs at least 2 x max(cv, 2) usable runs, and an empty candidate list
is refused.  The runs are the 12 exactly linear runs of ``test_estimators_offline``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_estimators_offline import linear_power_runs

from dlenergy.estimators import OfflinePowerEstimator


def _fit(runs, **kw):
    est = OfflinePowerEstimator(models=kw.pop("models", ("linear",)), n_iter=1, random_state=7, **kw)
    return est.fit(runs, runs["energy_j"])


def test_rows_with_a_missing_input_or_target_are_left_out_and_only_they():
    runs = linear_power_runs()
    runs.loc[0, "gflops"] = np.nan  # a missing input
    runs.loc[1, "duration_s"] = np.nan  # no duration: no average power to learn (the target)
    est = _fit(runs)
    assert est.n_train_ == 10  # 12 runs, 2 without a usable row
    # the 10 others still give the exact linear law: P = 20 + 8 gflops + 0.05 image + 0.01 batch
    p = est.predict(linear_power_runs().iloc[2:3])
    r = linear_power_runs().iloc[2]
    assert p[0] == pytest.approx((20 + 8 * r.gflops + 0.05 * r.image_size + 0.01 * r.batch_size) * r.duration_s)


def test_cross_validation_needs_twice_the_folds_in_usable_runs():
    runs = linear_power_runs()
    assert _fit(runs.iloc[:4], cv=2).n_train_ == 4  # 2 x 2 runs: enough
    with pytest.raises(ValueError, match=r"^3 usable runs: too few for 2-fold cross-validation$"):
        _fit(runs.iloc[:3], cv=2)
    with pytest.raises(ValueError, match=r"^5 usable runs: too few for 3-fold cross-validation$"):
        _fit(runs.iloc[:5], cv=3)  # 2 x 3 = 6 needed


def test_an_empty_candidate_list_is_refused():
    with pytest.raises(ValueError, match=r"^models must name at least one candidate$"):
        _fit(linear_power_runs(), models=())


def test_cv_row_is_the_search_at_its_best_draw_with_its_spread_and_draws():
    """The CV table's row of each candidate: mean and spread (numpy's population SD, as scikit-learn's
    ``std_test_*``) over the same folds, the number of draws (a one-point grid is drawn once, whatever
    ``n_iter`` says) and the best parameters as sorted JSON.  Linear regression has nothing to tune, so its
    row must equal ``cross_validate`` of the same pipeline on the same folds."""
    from sklearn.model_selection import KFold, cross_validate

    from dlenergy.estimators.offline import SCORING, make_pipeline, offline_features

    runs = linear_power_runs()
    runs["energy_j"] *= 1 + 0.05 * np.sin(np.arange(len(runs)))  # off the exact law: the folds differ
    est = OfflinePowerEstimator(models=("linear", "ridge"), n_iter=3, cv=3, random_state=7)
    t = est.fit(runs, runs["energy_j"]).cv_table_
    assert list(t.columns) == ["model", "r2", "rmse", "mae", "r2_sd", "rmse_sd", "mae_sd", "n_iter", "best_params"]
    assert t["model"].tolist() == ["linear", "ridge"]
    assert t["n_iter"].tolist() == [1, 3]
    ref = cross_validate(
        make_pipeline("linear"),
        offline_features(runs),
        (runs["energy_j"] / runs["duration_s"]).to_numpy(),
        cv=KFold(3, shuffle=True, random_state=7),
        scoring=SCORING,
    )
    lin = t.iloc[0]
    for m, sign in (("r2", 1), ("rmse", -1), ("mae", -1)):
        scores = sign * ref[f"test_{m}"]
        assert lin[m] == pytest.approx(scores.mean(), rel=1e-9)
        assert lin[f"{m}_sd"] == pytest.approx(np.std(scores), rel=1e-9)
        assert lin[f"{m}_sd"] > 0
    assert lin["best_params"] == '{"fit_intercept": true}'
    assert list(json.loads(t.iloc[1]["best_params"])) == ["alpha"]
