"""FLUSS stabilizing epoch (dlenergy.fluss): synthetic traces, the simulator's ground truth, shards,
the numba cache, and the Figure 9 summaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlenergy import fluss
from dlenergy.fluss import FlussParams, cumulative_stable, epoch_for_share, stabilizing_epoch

T0 = pd.Timestamp("2024-01-01 00:00:00")


def synthetic_run(
    stab: int,
    n_epochs: int = 24,
    epoch_s: float = 40.0,
    power: float = 200.0,
    seed: int = 0,
    period: float = 1.0,
    lead: float = 5.0,
):
    """A 1 Hz power trace: idle lead, ``stab`` unstable warm-up epochs (random levels climbing towards
    the plateau, noisier), then periodic stable epochs (plateau, validation dip, short gap)."""
    rng = np.random.default_rng(seed)
    dur = epoch_s * (1 + 0.01 * rng.standard_normal(n_epochs))
    dur[0] *= 1.2
    ends = lead + np.cumsum(dur)
    starts = np.concatenate([[lead], ends[:-1]])
    t = np.arange(0.0, ends[-1] + 3.0, period) + 0.003
    y = np.full(len(t), 0.15 * power)
    w0 = rng.uniform(0.55, 0.7)
    for i, (a, b) in enumerate(zip(starts, ends)):
        d = b - a
        tr_end, val_end = a + 0.7 * d, a + 0.95 * d
        if i < stab:
            w = w0 + (0.93 - w0) * i / max(stab - 1, 1)
            cuts = np.sort(rng.uniform(a, tr_end, int(rng.integers(1, 4))))
            edges = np.concatenate([[a], cuts, [tr_end]])
            for lo, hi in zip(edges[:-1], edges[1:]):
                m = (t > lo) & (t <= hi)
                y[m] = power * w * rng.uniform(0.82, 1.12) * (1 + 0.05 * rng.standard_normal(m.sum()))
            m = (t > tr_end) & (t <= val_end)
            y[m] = 0.7 * power * w * (1 + 0.05 * rng.standard_normal(m.sum()))
        else:
            m = (t > a) & (t <= tr_end)
            y[m] = power * (1 + 0.02 * rng.standard_normal(m.sum()))
            m = (t > tr_end) & (t <= val_end)
            y[m] = 0.7 * power * (1 + 0.02 * rng.standard_normal(m.sum()))
        m = (t > val_end) & (t <= b)
        y[m] = 0.2 * power
    gpu = pd.DataFrame({"t": t, "power_w": y})
    to_ts = lambda s: T0 + pd.to_timedelta(s, unit="s")
    ep = pd.DataFrame({"epoch": np.arange(n_epochs), "start_time": to_ts(starts), "end_time": to_ts(ends)})
    gpu["t"] = (T0.value / 1e9) + gpu["t"]
    return gpu, ep


@pytest.mark.parametrize("stab", [3, 6, 10])
def test_synthetic_trace_recovered_within_one_epoch(stab):
    gpu, ep = synthetic_run(stab, seed=stab)
    res = stabilizing_epoch(gpu, ep, FlussParams())
    assert res["status"] == "ok", res
    assert abs(res["stabilizing_epoch"] - stab) <= 1, res
    assert 0 < res["cac_min"] < 1


def test_raw_series_path_maps_the_change_sample_to_its_epoch():
    # the replication package's path (raw samples, change at the subsequence start); normalize=False
    # here only to reuse the kernels compiled above (the z-normalized stump is another ~30 s compile)
    gpu, ep = synthetic_run(5, seed=1)
    p = FlussParams.from_dict({**fluss.REPLICATION, "normalize": False})
    assert (p.points_per_epoch, p.transform, p.locate) == (None, "none", "start")
    res = stabilizing_epoch(gpu, ep, p)
    assert res["status"] in ("ok", "no_change")
    t_change = ep["start_time"].iloc[0] + pd.to_timedelta(res["regime_time_s"], unit="s")
    e = ep[(ep["start_time"] < t_change) & (t_change <= ep["end_time"])]["epoch"]
    assert res["stabilizing_epoch"] == int(e.iloc[0])


def test_too_short_and_no_epochs_are_reported_not_guessed():
    gpu, ep = synthetic_run(2, n_epochs=3, epoch_s=4.0, seed=2)
    res = stabilizing_epoch(gpu, ep, FlussParams(points_per_epoch=None, transform="none"))
    assert res["status"] == "too_short" and np.isnan(res["stabilizing_epoch"]) and "needs at least" in res["reason"]
    res = stabilizing_epoch(gpu, ep.iloc[0:0], FlussParams())
    assert res["status"] == "no_epochs"


def test_params_validation():
    with pytest.raises(ValueError, match="epoch_diff"):
        FlussParams(points_per_epoch=None, transform="epoch_diff")
    with pytest.raises(ValueError, match="locate"):
        FlussParams(locate="middle")
    assert FlussParams(locate="end").offset == 10 and FlussParams(locate="start").offset == 0


def test_gpu_request_without_gpu_falls_back_to_cpu(caplog):
    gpu, ep = synthetic_run(4, seed=3)
    cpu = stabilizing_epoch(gpu, ep, FlussParams())
    if fluss.gpu_available():  # pragma: no cover - depends on the machine
        pytest.skip("a CUDA GPU is present: gpu_stump runs instead")
    with caplog.at_level("WARNING"):
        res = stabilizing_epoch(gpu, ep, FlussParams(use_gpu=True))
    assert res["stabilizing_epoch"] == cpu["stabilizing_epoch"]
    assert "no CUDA GPU" in caplog.text


def test_numba_cache_is_on_disk():
    path = fluss.enable_stumpy_cache()
    gpu, ep = synthetic_run(4, seed=4)
    stabilizing_epoch(gpu, ep, FlussParams())
    index = list(Path(path).rglob("*.nbi"))
    assert any("aamp" in p.name or "stump" in p.name for p in index), f"no stumpy kernels cached in {path}"
    assert fluss.enable_stumpy_cache() == path  # idempotent


def test_cumulative_share_and_epoch_for_share():
    stab = pd.DataFrame(
        {
            "run_id": list("abcdefghij"),
            "environment": ["x"] * 5 + ["y"] * 5,
            "first_epoch": 0,
            "stabilizing_epoch": [1, 2, 2, 3, 9, 1, 1, 4, 4, 5],
            "status": ["ok"] * 9 + ["no_change"],
        }
    )
    curve = cumulative_stable(stab)
    all_ = curve[curve["group"] == "all"].set_index("epoch")["share_stable"]
    assert all_[0] == 0 and all_[1] == pytest.approx(0.3) and all_[4] == pytest.approx(0.8) and all_[9] == 1
    s = epoch_for_share(stab, share=0.9).set_index("group")
    assert s.loc["all", "epoch_for_share"] == 5  # 9 of 10 stable by epoch 5
    assert s.loc["x", "epoch_for_share"] == 9 and s.loc["y", "epoch_for_share"] == 5
    bad = stab.assign(status=["too_short"] + ["ok"] * 9)
    assert epoch_for_share(bad).set_index("group").loc["all", "n_not_segmented"] == 1


# ----------------------------------------------------------------------------- the simulator


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    sim = pytest.importorskip("dlenergy.simulate")
    from dlenergy.ingest import ingest_dataset

    out = tmp_path_factory.mktemp("sim") / "canonical"
    gt = sim.simulate_dataset(out, seed=7, scale="sample", rates={k: 0 for k in sim.DEFAULT_RATES})
    runs, epochs, _ = ingest_dataset(out)
    runs = runs[(runs["return_code"] == 0) & (runs["epochs_measured"] > 0)]
    return out, gt.set_index("run_id"), runs, epochs


def test_stabilizing_epoch_matches_simulator_ground_truth(simulated):
    out, gt, runs, epochs = simulated
    res = fluss.stabilizing_epochs(out, runs, epochs, FlussParams())
    assert len(res) == len(runs) >= 90
    assert res["status"].isin(["ok", "no_change"]).all()
    d = res["stabilizing_epoch"].to_numpy() - res["run_id"].map(gt["stabilizing_epoch"]).to_numpy()
    within = np.mean(np.abs(d) <= 1)
    assert within >= 0.9, f"only {within:.1%} of {len(d)} runs within ±1 epoch of the ground truth"
    # ±1 epoch hides a one-epoch shift or another n_regimes: the exact hits and the bias do not
    # (measured on this sample, 112 runs: 52.7 % exact, mean error -0.47 epoch; a shift by +1 epoch
    # gives 43.8 % and +0.53, by -1 epoch 0 % and -1.47, n_regimes = 3 gives +0.76)
    exact, bias = np.mean(d == 0), np.mean(d)
    assert exact >= 0.47, f"only {exact:.1%} of {len(d)} runs exactly at the ground truth"
    assert -0.75 <= bias <= -0.2, f"mean error {bias:+.2f} epochs against the ground truth"


#: the replication package's FLUSS parameters (paper §3.8: m = L = 10, 2 regimes, exclusion factor 3)
REPLICATION_FLUSS = {"subsequence_length": 10, "n_regimes": 2, "excl_factor": 3}


def test_defaults_are_the_shipped_config_and_the_replication_package():
    """FlussParams() (what these tests measure) is what config.yaml runs, with the package's m, regimes, exclusion."""
    import yaml

    shipped = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
    shipped = shipped["estimators"]["fluss"]
    algorithm = ["subsequence_length", "n_regimes", "excl_factor", "points_per_epoch", "transform", "normalize"]
    algorithm += ["locate", "iac"]
    default, from_config = FlussParams(), FlussParams.from_dict(shipped)
    assert {k: getattr(default, k) for k in algorithm} == {k: getattr(from_config, k) for k in algorithm}
    assert {k: getattr(from_config, k) for k in REPLICATION_FLUSS} == REPLICATION_FLUSS


def test_exclusion_zone_sets_the_shortest_series():
    """FLUSS pins the arc curve to 1 within excl_factor x m points of both ends: with m = 10 and factor 3 a
    series needs (2 x 3 + 1) x 10 = 70 points (69 are refused)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(1.0, 0.05, 35), rng.normal(5.0, 0.05, 35)])
    seg = fluss.segment(x, FlussParams(**REPLICATION_FLUSS))
    # 61 matrix-profile indices, 30 pinned at each end: index 30 is the one place a change can be
    assert seg.regime_locs.tolist() == [30] and seg.cac_min < 1
    with pytest.raises(ValueError, match="needs at least 70"):
        fluss.segment(x[:69], FlussParams(**REPLICATION_FLUSS))


def test_shards_partition_the_runs(simulated):
    out, gt, runs, epochs = simulated
    few = runs.sort_values("run_id").head(12)
    whole = fluss.stabilizing_epochs(out, few, epochs, FlussParams(iac="parabola"))
    parts = (
        pd.concat(
            [
                fluss.stabilizing_epochs(out, few, epochs, FlussParams(iac="parabola"), shard=i, n_shards=4)
                for i in range(4)
            ]
        )
        .sort_values("run_id")
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(whole, parts)


def test_gpu_stump_gives_the_same_stabilizing_epochs_as_cpu(tmp_path):
    """Issue 8: stumpy.gpu_stump (use_gpu) and the parallel CPU stump agree on the simulated sample."""
    from dlenergy.fluss import gpu_available, stabilizing_epochs
    from dlenergy.ingest import ingest_dataset
    from dlenergy.simulate import simulate_dataset

    if not gpu_available():
        pytest.skip("no CUDA GPU visible to numba: the gpu_stump path needs one (run on a lent GPU)")
    ds = tmp_path / "sample"
    simulate_dataset(ds, seed=3, scale="sample")
    runs, epochs, _ = ingest_dataset(ds)
    runs = runs[runs["has_epoch_markers"]]
    cpu = stabilizing_epochs(ds, runs, epochs, FlussParams(use_gpu=False))
    gpu = stabilizing_epochs(ds, runs, epochs, FlussParams(use_gpu=True))
    pd.testing.assert_series_equal(cpu["stabilizing_epoch"], gpu["stabilizing_epoch"])
