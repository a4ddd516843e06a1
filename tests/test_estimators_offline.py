"""Offline models on disk (save/load, the schema, the refusals, the skipped-model placeholder, what a model
was fitted on), the 70/30 run split, the online window sweep on a hand-made epoch table, and the
weighted score of the estimators that read the epochs table.

Expected values are worked out by hand or by an independent implementation (equations 1 and 2 written
over plain lists; numpy's RandomState for scikit-learn's shuffle split), never copied from the code."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from offline_reference import BATCH, GFLOPS, IMAGE, RAM
from online_sweep_reference import eq1, eq2, errs, random_start, sweep_tables

from dlenergy.estimators import (
    FEATURES,
    OfflineEpochEnergyEstimator,
    OfflinePowerEstimator,
    OnlineEpochEnergyEstimator,
    load_offline_estimator,
    load_offline_model,
    training_data_info,
    write_skipped_model,
)
from dlenergy.estimators.evaluate import online_sweep, split_runs
from dlenergy.estimators.offline import LoadedModel, read_model_schema
from dlenergy.scorecard import read_targets


def canonical(text: str) -> str:
    """The JSON files' canonical form: keys sorted (byte-reproducible, diffable), two-space indent,
    trailing newline (as ``dataset_info.json`` of the simulator)."""
    return json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


# ----------------------------------------------------------------------------- offline models on disk


def linear_power_runs() -> pd.DataFrame:
    """12 runs on one GPU whose average power is exactly linear in the inputs:
    P = 20 + 8 gflops + 0.05 image_size + 0.01 batch_size (W), so a linear model learns it exactly."""
    gflops, image, batch, ram = GFLOPS, IMAGE, BATCH, RAM
    rows = []
    for i, (g, im, b, r) in enumerate(zip(gflops, image, batch, ram)):
        p = 20 + 8 * g + 0.05 * im + 0.01 * b
        dur = 100.0 * (i + 1)
        rows.append(
            {
                "run_id": f"r{i:02d}",
                "gpu_model": "NVIDIA GeForce RTX 3090",
                "total_ram_gb": r,
                "gflops": g,
                "training_size": 20000,
                "validation_size": 5000,
                "batch_size": b,
                "image_size": im,
                "duration_s": dur,
                "epochs_measured": 10,
                "energy_j": p * dur,
            }
        )
    return pd.DataFrame(rows)


INPUTS = {
    "gpu_model": "NVIDIA GeForce RTX 3090",
    "total_ram_gb": 16,
    "gflops": 3.3,
    "training_size": 20000,
    "validation_size": 5000,
    "batch_size": 64,
    "image_size": 128,
}


@pytest.fixture(scope="module")
def linear_power():
    runs = linear_power_runs()
    est = OfflinePowerEstimator(models=("linear",), n_iter=1, random_state=7).fit(runs, runs["energy_j"])
    return runs, est


def test_save_load_round_trip_schema_and_prediction(tmp_path, linear_power):
    runs, est = linear_power
    model_dir = tmp_path / "models" / "nested"  # does not exist yet: save creates its parents
    jb, js = est.save(model_dir, source="sim", data_label="toy", data_kind="synthetic")
    assert (jb, js) == (model_dir / "offline_power.joblib", model_dir / "offline_power.json")
    text = js.read_text()
    assert text == canonical(text)
    schema = json.loads(text)
    assert schema["kind"] == "offline_power" and schema["target"] == "average power" and schema["target_unit"] == "W"
    assert schema["features"] == FEATURES and schema["model"] == "linear" and schema["model_name"] == "Linear"
    assert schema["n_train"] == 12 and schema["gpus"] == ["GeForce RTX 3090"] and schema["random_state"] == 7
    assert schema["feature_ranges"]["gflops"] == [0.5, 10.0]
    assert schema["feature_ranges"]["image_size"] == [75.0, 224.0]
    assert schema["feature_ranges"]["batch_size"] == [32.0, 256.0]
    assert schema["feature_ranges"]["training_size"] == [20000.0, 20000.0]
    assert schema["cv"]["folds"] == 5 and schema["cv"]["rmse"] == pytest.approx(0.0, abs=1e-9)
    assert schema["cv"]["r2"] == pytest.approx(1.0, abs=1e-12)
    # an exact fit: every out-of-fold ratio true/predicted is 1
    assert schema["ratio_quantiles"] == pytest.approx({"q05": 1.0, "q50": 1.0, "q95": 1.0}, abs=1e-9)
    assert (schema["source"], schema["data_label"], schema["data_kind"]) == ("sim", "toy", "synthetic")
    assert schema["fit_columns"] == list(runs.columns)

    loaded = load_offline_model(model_dir, "offline_power")
    assert loaded.schema == schema and loaded.path == model_dir
    F = loaded.features(INPUTS)
    assert loaded.check(F) == []
    expected = 20 + 8 * 3.3 + 0.05 * 128 + 0.01 * 64  # 53.44 W
    assert loaded.predict_target(F) == pytest.approx(expected, rel=1e-9)
    assert loaded.predict_target(F[FEATURES[::-1]]) == pytest.approx(expected, rel=1e-9)  # by name, not order
    for back in (
        loaded.estimator,
        OfflinePowerEstimator.load(model_dir),
        load_offline_estimator(model_dir, "offline_power"),
    ):
        np.testing.assert_array_equal(back.predict(runs), est.predict(runs))
        np.testing.assert_array_equal(back.predict_target(runs), est.predict_target(runs))
    np.testing.assert_allclose(est.predict(runs), runs["energy_j"], rtol=1e-9)

    # inputs just outside the training range are refused, with the feature, its unit and the range
    assert loaded.check(loaded.features({**INPUTS, "gflops": 10.5})) == [
        "gflops = 10.5 GFLOPs per forward pass is outside the training range [0.5, 10]"
    ]
    assert loaded.check(loaded.features({**INPUTS, "image_size": 74})) == [
        "image_size = 74 pixels (side) is outside the training range [75, 224]"
    ]


def test_check_tolerance_widens_the_range_by_its_share_of_the_span():
    m = LoadedModel(None, {"feature_ranges": {"gflops": [10.0, 20.0]}}, Path("."))

    def check(v, **kw):
        return m.check(pd.DataFrame({"gflops": [v]}), **kw)

    # default: no tolerance, the bounds themselves are inside
    assert check(10.0) == [] and check(20.0) == []
    assert check(20.001) == ["gflops = 20.001 GFLOPs per forward pass is outside the training range [10, 20]"]
    assert check(9.999) != []
    # tolerance 0.5 of the span (10): [5, 25]
    assert check(5.0, tolerance=0.5) == [] and check(25.0, tolerance=0.5) == []
    assert len(check(4.9, tolerance=0.5)) == 1 and len(check(25.1, tolerance=0.5)) == 1


def test_model_files_refusals_name_the_problem(tmp_path, linear_power):
    _, est = linear_power
    d = tmp_path / "m"
    d.mkdir()
    with pytest.raises(ValueError) as exc:
        load_offline_model(d, "offline_x")
    assert str(exc.value) == "kind must be one of offline_power, offline_epoch_energy, not 'offline_x'"

    need = r"no offline model 'offline_power' in .* \(need offline_power.joblib and offline_power.json\)"
    with pytest.raises(FileNotFoundError, match=need):
        read_model_schema(d, "offline_power")
    est.save(d)
    (d / "offline_power.json").unlink()  # the estimator without its schema
    with pytest.raises(FileNotFoundError, match=need):
        read_model_schema(d, "offline_power")
    est.save(d)
    (d / "offline_power.joblib").unlink()  # the schema without the estimator
    with pytest.raises(FileNotFoundError, match=need):
        read_model_schema(d, "offline_power")

    est.save(d)
    schema = json.loads((d / "offline_power.json").read_text())
    (d / "offline_power.json").write_text(json.dumps({**schema, "features": ["gflops", "batch_size"]}))
    with pytest.raises(ValueError, match=r"feature schema \['gflops', 'batch_size'\] does not match this dlenergy"):
        load_offline_model(d, "offline_power")
    (d / "offline_power.json").write_text(json.dumps({k: v for k, v in schema.items() if k != "features"}))
    with pytest.raises(ValueError, match="feature schema None does not match"):
        read_model_schema(d, "offline_power")

    # a class's load refuses an estimator of another class saved under the same kind
    class MyPower(OfflinePowerEstimator):
        pass

    est.save(d)
    with pytest.raises(ValueError) as exc:
        MyPower.load(d)
    assert str(exc.value) == f"{d}: offline_power.joblib holds a OfflinePowerEstimator, not a MyPower"

    # a skipped model without a reason (a hand-written placeholder): "skipped"
    (d / "offline_power.json").write_text(json.dumps({"kind": "offline_power", "skipped": True}))
    with pytest.raises(FileNotFoundError) as exc:
        read_model_schema(d, "offline_power")
    assert str(exc.value).endswith("offline_power.json: the pipeline did not train this model: skipped")


def test_write_skipped_model_placeholder_and_its_refusal(tmp_path):
    d = tmp_path / "models" / "real"  # parents created
    write_skipped_model(d, "offline_power", "first reason", source="zenodo")
    write_skipped_model(d, "offline_power", "only 3 runs with all inputs", source="zenodo", data_kind="real")
    write_skipped_model(d, "offline_epoch_energy", "no epochs table")  # into the existing folder
    assert sorted(p.name for p in d.iterdir()) == [
        "offline_epoch_energy.joblib",
        "offline_epoch_energy.json",
        "offline_power.joblib",
        "offline_power.json",
    ]
    text = (d / "offline_power.json").read_text()
    assert text == canonical(text)
    assert json.loads(text) == {
        "kind": "offline_power",
        "skipped": True,
        "reason": "only 3 runs with all inputs",
        "source": "zenodo",
        "data_kind": "real",
    }
    assert json.loads((d / "offline_epoch_energy.json").read_text()) == {
        "kind": "offline_epoch_energy",
        "skipped": True,
        "reason": "no epochs table",
    }
    assert joblib.load(d / "offline_power.joblib") is None
    assert joblib.load(d / "offline_epoch_energy.joblib") is None
    msg = "offline_power.json: the pipeline did not train this model: only 3 runs with all inputs"
    for load in (
        lambda: read_model_schema(d, "offline_power"),
        lambda: load_offline_model(d, "offline_power"),
        lambda: OfflinePowerEstimator.load(d),
    ):
        with pytest.raises(FileNotFoundError) as exc:
            load()
        assert (
            str(exc.value)
            == f"{d / 'offline_power.json'}: the pipeline did not train this model: only 3 runs with all inputs"
        )
        assert str(exc.value).endswith(msg)
    with pytest.raises(FileNotFoundError, match="did not train this model: no epochs table"):
        OfflineEpochEnergyEstimator.load(d)


def test_training_data_info_reads_dataset_info(tmp_path):
    syn, real, bare = tmp_path / "syn", tmp_path / "real", tmp_path / "bare"
    for p in (syn, real, bare):
        p.mkdir()
    (syn / "dataset_info.json").write_text(json.dumps({"synthetic": True, "label": "synthetic sample A"}))
    (real / "dataset_info.json").write_text(json.dumps({"synthetic": False, "label": "Zenodo 1234"}))
    assert training_data_info(syn, Path("sim")) == {
        "source": "sim",
        "data_label": "synthetic sample A",
        "data_kind": "synthetic",
    }
    assert training_data_info(str(real), "zenodo") == {
        "source": "zenodo",
        "data_label": "Zenodo 1234",
        "data_kind": "real",
    }
    assert training_data_info(bare, "local") == {"source": "local", "data_label": None, "data_kind": "real"}


# ----------------------------------------------------------------------------- split_runs


def ids_table(n: int) -> pd.DataFrame:
    return pd.DataFrame({"run_id": [f"run{i:03d}" for i in range(n)], "energy_j": 1.0})


@pytest.mark.parametrize("n, n_test", [(2, 1), (3, 1), (7, 3), (10, 3), (11, 4), (50, 15)])
def test_split_runs_sizes_and_membership(n, n_test):
    """30 % of the runs (rounded up) to test; which ones: scikit-learn's shuffle split of the sorted
    ids, i.e. the first n_test of numpy's RandomState(seed).permutation(n)."""
    runs = ids_table(n)
    s = split_runs(runs)  # the defaults: 30 % test, seed 42
    assert list(s.columns) == ["run_id", "split"] and isinstance(s.index, pd.RangeIndex)
    assert s["run_id"].tolist() == sorted(runs["run_id"])
    assert (s["split"] == "test").sum() == n_test and (s["split"] == "train").sum() == n - n_test
    ids = np.sort(runs["run_id"].to_numpy())
    for seed in (42, 7):
        perm = np.random.RandomState(seed).permutation(n)
        got = split_runs(runs, 0.3, seed=seed).set_index("run_id")["split"]
        assert sorted(got[got == "test"].index) == sorted(ids[perm[:n_test]])
        assert sorted(got[got == "train"].index) == sorted(ids[perm[n_test:]])


def test_split_runs_is_seeded_and_row_order_free():
    runs = ids_table(40)
    a = split_runs(runs, 0.3, seed=42)
    pd.testing.assert_frame_equal(split_runs(runs), a)
    pd.testing.assert_frame_equal(split_runs(runs, 0.3, seed=42), a)
    # row order and repeated rows of a run do not matter
    shuffled = pd.concat([runs, runs.iloc[:5]]).sample(frac=1, random_state=3)
    pd.testing.assert_frame_equal(split_runs(shuffled, 0.3, seed=42), a)
    b = split_runs(runs, 0.3, seed=43)
    assert (b["split"] == "test").sum() == 12 and not b["split"].equals(a["split"])
    # not the unshuffled split (the last 30 % of the sorted ids)
    assert a["split"].tolist() != ["train"] * 28 + ["test"] * 12
    assert split_runs(runs, 0.5, seed=42)["split"].value_counts().to_dict() == {"train": 20, "test": 20}


# ----------------------------------------------------------------------------- online_sweep


def test_online_sweep_rows_on_a_hand_made_epoch_table():
    runs, ep = sweep_tables()
    # hand check of two cells: w = 1 from epoch 2
    assert eq1("a", 2, 2, 1) == 5.0 * 18 and eq1("b", 2, 2, 1) == 200.0
    assert eq2("a", 2, 2, 1) == 10 * 8 + 10 and eq2("b", 2, 2, 1) == 167.0
    t = read_targets()
    paper = {k: float(v) for k, v in zip(t["key"], t["value"]) if k.startswith("rq32_online.window_5_")}
    rows = []
    for method, eq in (("power_based", eq1), ("epoch_energy_based", eq2)):
        for w in (1, 2, 5, 9):  # 9 > 8 stable epochs: no estimate
            p = paper.get(f"rq32_online.window_5_from_epoch_10_rmse_kj.{method}") if w == 5 else math.nan
            rows.append(
                {
                    "sweep": "window",
                    "method": method,
                    "window": w,
                    "stabilizing_epoch": 2,
                    **errs({r: eq(r, 2, 2, w) for r in "ab"}),
                    "rmse_sd_kj": math.nan,
                    "repeats": math.nan,
                    "paper_rmse_kj": p,
                }
            )
        for s0 in (0, 2, 6):  # the default window of 5; from epoch 6 only 4 epochs are left
            rows.append(
                {
                    "sweep": "stabilizing_epoch",
                    "method": method,
                    "window": 5,
                    "stabilizing_epoch": s0,
                    **errs({r: eq(r, s0, s0, 5) for r in "ab"}),
                    "rmse_sd_kj": math.nan,
                    "repeats": math.nan,
                    "paper_rmse_kj": math.nan,
                }
            )
        reps = [errs({r: eq(r, 2, random_start(r, 42 + i, 2, 5), 5) for r in "ab"}) for i in range(20)]
        rows.append(
            {
                "sweep": "random_start",
                "method": method,
                "window": 5,
                "stabilizing_epoch": 2,
                "n_runs": 2,
                "n_missing": 0,
                **{k: statistics.mean(x[k] for x in reps) for k in ("rmse_kj", "mae_kj", "mape_pct", "bias_kj")},
                "rmse_sd_kj": statistics.stdev(x["rmse_kj"] for x in reps),
                "repeats": 20,
                "paper_rmse_kj": paper[f"rq32_online.window_5_random_start_rmse_kj.{method}"],
            }
        )
    expected = pd.DataFrame(rows)
    got = online_sweep(runs, ep, stabilizing_epoch=2, windows=[1, 2, 5, 9], starts=[0, 2, 6])
    assert list(got.columns) == list(expected.columns)
    # the random draws vary (else the seeds would not matter)
    assert len({random_start("a", 42 + i, 2, 5) for i in range(20)}) > 1
    assert got.loc[got["method"] == "power_based", "paper_rmse_kj"].notna().sum() == 2
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- score with epochs


def test_score_with_epochs_uses_the_sample_weights():
    runs, ep = sweep_tables()
    est = OnlineEpochEnergyEstimator(window=1, stabilizing_epoch=2)
    # predictions (eq. 2, w = 1): a 10 x 8 + 10 = 90 J (measured 146), b 20 x 8 + 7 = 167 J (measured 167)
    y = runs["energy_j"].to_numpy()
    w = np.array([3.0, 1.0])
    ybar = (3 * 146 + 167) / 4
    r2_weighted = 1 - 3 * 56**2 / (3 * (146 - ybar) ** 2 + (167 - ybar) ** 2)
    assert est.score(runs, y, sample_weight=w, epochs=ep) == pytest.approx(r2_weighted, rel=1e-12)
    assert est.score(runs, y, epochs=ep) == pytest.approx(1 - 56**2 / (2 * 10.5**2), rel=1e-12)
