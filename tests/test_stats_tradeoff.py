"""`stats.tradeoff_table` (Figure 2's medians per environment x architecture, F1 per kWh, the Pareto
fronts and the bootstrap CIs of the medians) on small hand-made runs tables.

Every expected value is worked out by hand in the comments next to it; the CIs are checked against
`scipy.stats.bootstrap` called as `dlenergy.uncertainty` documents (a fresh `default_rng(seed)` per
interval, vectorized, BCa, 95 %)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bootstrap_reference import scipy_ci

from dlenergy import stats as S
from dlenergy.uncertainty import BootstrapConfig

METRICS = [
    "energy_per_image_j",
    "gpu_usage_pct",
    "time_per_image_ms",
    "f1",
    "f1_per_kwh",
    "mean_gpu_power_w",
    "energy_kj",
]
BY = ["environment", "architecture"]

# one run a row: environment, architecture, GFLOPs, energy (J), duration (s), F1, GPU usage (%), mean GPU
# power (W); 1000 images each, so energy per image = energy / 1000 J and time per image = duration ms
RUNS = [
    ("cloud", "alex", 0.7, 3.6e5, 100, 0.7, 50, 200),  # 0.1 kWh: F1 per kWh 7
    ("cloud", "alex", 0.7, 7.2e5, 300, 0.8, 70, 240),  # 0.2 kWh: 4
    ("cloud", "alex", 0.7, 5.4e5, 200, 0.6, 60, 220),  # 0.15 kWh: 4
    ("cloud", "vgg", 15.5, 1.8e6, 1000, 0.9, 90, 300),  # 0.5 kWh: 1.8
    ("cloud", "vgg", 15.5, 2.16e6, 1200, 0.85, 95, 320),  # 0.6 kWh: 1.41667
    ("cloud", "vgg", 15.5, 1.44e6, 900, 0.95, 85, 280),  # 0.4 kWh: 2.375
    ("local", "alex", 0.7, 7.2e5, 400, 0.6, 40, 100),  # 0.2 kWh: 3
    ("local", "alex", 0.7, 1.08e6, 600, 0.7, 60, 140),  # 0.3 kWh: 2.33333
    ("local", "vgg", 15.5, 3.6e6, 2000, 0.92, 80, 150),  # 1 kWh: 0.92
    ("local", "vgg", 15.5, 2.88e6, 1800, 0.96, 75, 140),  # 0.8 kWh: 1.2
    ("local", "vgg", 15.5, 4.32e6, 2400, 0.9, 85, 160),  # 1.2 kWh: 0.75
    ("local", None, 3.0, 3.6e5, 50, 0.5, 30, 90),  # architecture unknown; 0.1 kWh: 5
]

# medians per group: n, GFLOPs, then METRICS (energy per image, GPU %, time per image, F1, F1 per kWh,
# power, energy kJ).  Two runs: the mean of both (local/alex F1 per kWh (3 + 7/3) / 2 = 8/3).
MEDIANS = {
    ("cloud", "alex"): (3, 0.7, 540.0, 60.0, 200.0, 0.7, 4.0, 220.0, 540.0),
    ("cloud", "vgg"): (3, 15.5, 1800.0, 90.0, 1000.0, 0.9, 1.8, 300.0, 1800.0),
    ("local", "alex"): (2, 0.7, 900.0, 50.0, 500.0, 0.65, 8 / 3, 120.0, 900.0),
    ("local", "vgg"): (3, 15.5, 3600.0, 80.0, 2000.0, 0.92, 0.92, 150.0, 3600.0),
    ("local", None): (1, 3.0, 360.0, 30.0, 50.0, 0.5, 5.0, 90.0, 360.0),
}
# Pareto fronts of (median energy per image: lower is better, median F1: higher is better):
# all groups: (540, .7) (1800, .9) (900, .65) (3600, .92) (360, .5); local/alex is dominated by
# cloud/alex (cheaper and better); within "local" (900, .65) (3600, .92) (360, .5) nobody dominates
PARETO = {
    ("cloud", "alex"): (True, True),
    ("cloud", "vgg"): (True, True),
    ("local", "alex"): (False, True),
    ("local", "vgg"): (True, True),
    ("local", None): (True, True),
}
FEW = "n < 3: median of too few runs to compare"


def runs_table() -> pd.DataFrame:
    cols = [
        "environment",
        "architecture",
        "gflops",
        "energy_j",
        "duration_s",
        "f1",
        "gpu_usage_pct",
        "mean_gpu_power_w",
    ]
    df = pd.DataFrame(RUNS, columns=cols)
    df["images_seen"] = 1000
    df["energy_per_image_j"] = df["energy_j"] / 1000.0
    return S.add_derived(df)  # time per image (ms), energy (kJ), F1 per kWh


def expected(keys, *, analysis="tradeoff", subset="") -> pd.DataFrame:
    """The table for the groups ``keys`` in this order, without CIs (NaN) and CI notes."""
    rows = []
    for env, arch in keys:
        n, gflops, *med = MEDIANS[(env, arch)]
        row = {"analysis": analysis, "subset": subset, "environment": env, "architecture": arch, "n": n}
        row["gflops"] = gflops
        for m, v in zip(METRICS, med):
            row[f"median_{m}"] = v
            row[f"median_{m}_ci_low"] = row[f"median_{m}_ci_high"] = np.nan
        row["pareto_all"], row["pareto_in_environment"] = PARETO[(env, arch)]
        row["status"] = "ok" if n >= 3 else "insufficient"
        row["note"] = "" if n >= 3 else FEW
        row["ci_note"] = ""
        rows.append(row)
    return pd.DataFrame(rows)


def check(got: pd.DataFrame, want: pd.DataFrame, keys):
    assert list(got.columns) == ["analysis", "subset"] + BY + S.TRADEOFF_COLUMNS[2:]
    # the unknown architecture is a group of its own (NaN in the table)
    assert [(e, None if pd.isna(a) else a) for e, a in zip(got["environment"], got["architecture"])] == keys
    rest = [c for c in got.columns if c not in BY]
    pd.testing.assert_frame_equal(got[rest], want[rest], check_dtype=False, rtol=1e-12)
    assert got["pareto_all"].dtype == bool and got["pareto_in_environment"].dtype == bool


def test_medians_fronts_and_status_per_group_in_the_given_orders():
    # environments in the given order (local before cloud), architectures too (vgg before alex); the
    # unknown architecture has no place in the order and comes last in its environment
    got = S.tradeoff_table(runs_table(), env_order=["local", "cloud"], arch_order=["vgg", "alex"], subset="s")
    keys = [("local", "vgg"), ("local", "alex"), ("local", None), ("cloud", "vgg"), ("cloud", "alex")]
    check(got, expected(keys, subset="s"), keys)


def test_without_orders_the_groups_are_sorted_by_name():
    got = S.tradeoff_table(runs_table(), analysis="fig2")
    keys = [("cloud", "alex"), ("cloud", "vgg"), ("local", "alex"), ("local", "vgg"), ("local", None)]
    check(got, expected(keys, analysis="fig2"), keys)


def test_one_order_given_the_other_falls_back_to_names():
    runs = runs_table()
    got = S.tradeoff_table(runs, env_order=["local", "cloud"])
    keys = [("local", "alex"), ("local", "vgg"), ("local", None), ("cloud", "alex"), ("cloud", "vgg")]
    check(got, expected(keys), keys)
    # the architecture order leads, then the environment name; the unknown architecture last
    got = S.tradeoff_table(runs, arch_order=["vgg", "alex"])
    keys = [("cloud", "vgg"), ("local", "vgg"), ("cloud", "alex"), ("local", "alex"), ("local", None)]
    check(got, expected(keys), keys)


def test_by_architecture_alone_ignores_the_environment_order():
    runs = runs_table().dropna(subset=["architecture"])
    got = S.tradeoff_table(runs, by=("architecture",), env_order=["local", "cloud"], arch_order=["vgg", "alex"])
    assert list(got.columns) == ["analysis", "subset", "architecture"] + S.TRADEOFF_COLUMNS[2:]
    assert got["architecture"].tolist() == ["vgg", "alex"]
    # vgg: 6 runs, energy per image 1440 1800 2160 2880 3600 4320 -> (2160 + 2880) / 2 = 2520;
    # F1 .85 .9 .9 .92 .95 .96 -> .91; alex: 5 runs, 360 540 720 720 1080 -> 720; F1 .6 .6 .7 .7 .8 -> .7
    assert got["n"].tolist() == [6, 5]
    assert got["median_energy_per_image_j"].tolist() == [2520.0, 720.0]
    assert got["median_f1"].tolist() == pytest.approx([0.91, 0.7], rel=1e-12)
    # no environment column: the front within the environment is the front across all
    assert got["pareto_all"].tolist() == got["pareto_in_environment"].tolist() == [True, True]


def test_no_runs_or_no_grouping_column_is_one_skipped_row():
    empty = runs_table().iloc[0:0]
    for df, by, reason in [
        (empty, BY, "no runs"),
        (runs_table().drop(columns=BY), [], "no grouping column among ['environment', 'architecture']"),
    ]:
        cols = ["analysis", "subset"] + by + S.TRADEOFF_COLUMNS[2:]  # the grouping columns there are
        got = S.tradeoff_table(df, analysis="fig2", subset="environment == cloud")
        want = {c: np.nan for c in cols}
        want.update(analysis="fig2", subset="environment == cloud", status="skipped", note=f"skipped: {reason}")
        pd.testing.assert_frame_equal(got, pd.DataFrame([want], columns=cols))
    # only the grouping columns present make the table's columns; no subset: an empty one
    got = S.tradeoff_table(empty, by=("architecture", "batch_size"))
    assert list(got.columns) == ["analysis", "subset", "architecture"] + S.TRADEOFF_COLUMNS[2:]
    assert got[["analysis", "subset", "status", "note"]].iloc[0].tolist() == [
        "tradeoff",
        "",
        "skipped",
        "skipped: no runs",
    ]


def _scipy_median_ci(x, seed: int, n_resamples: int) -> tuple[float, float]:
    return scipy_ci(x, statistic=lambda a, axis: np.quantile(a, 0.5, axis=axis), seed=seed, n_resamples=n_resamples)


def test_median_cis_are_scipys_bca_intervals_and_too_few_runs_say_so():
    # cloud/vgg: 9 runs of distinct values (a BCa interval exists); local/vgg: one run (no interval)
    x = np.array([3.1, 2.2, 5.3, 4.4, 1.5, 6.6, 2.7, 3.8, 4.9])
    df = pd.DataFrame({"environment": ["cloud"] * 9 + ["local"], "architecture": "vgg", "gflops": 15.5})
    for k, m in enumerate(METRICS):
        df[m] = np.append(x * (k + 1), 7.0)
    boot = BootstrapConfig(n_resamples=999, seed=11)
    got = S.tradeoff_table(df, boot=boot).set_index("environment")
    assert got.loc["cloud", "median_energy_per_image_j"] == 3.8
    for k, m in enumerate(METRICS):
        lo, hi = _scipy_median_ci(x * (k + 1), seed=11, n_resamples=999)  # a fresh generator per interval
        assert (got.loc["cloud", f"median_{m}_ci_low"], got.loc["cloud", f"median_{m}_ci_high"]) == pytest.approx(
            (lo, hi), rel=1e-12
        )
        assert np.isnan(got.loc["local", f"median_{m}_ci_low"]) and np.isnan(got.loc["local", f"median_{m}_ci_high"])
    assert got.loc["cloud", "ci_note"] == ""
    assert got.loc["local", "ci_note"] == "; ".join(
        f"{m}: n/a (n=1 < 2: too few values for a bootstrap CI)" for m in METRICS
    )
    # without a bootstrap configuration: no intervals and no notes
    off = S.tradeoff_table(df)
    assert off[[c for c in off.columns if c.endswith(("_ci_low", "_ci_high"))]].isna().all().all()
    assert off["ci_note"].tolist() == ["", ""]


# ----------------------------------------------------------------------------- skipped rows, min_n, NaN environment


def _small_table() -> pd.DataFrame:
    # cloud/a: two runs (energy per image 10, 20 J; F1 .8, .9); cloud/b: one run (5 J, F1 .5)
    df = pd.DataFrame({"environment": "cloud", "architecture": ["a", "a", "b"], "gflops": 1.0})
    for m in METRICS:
        df[m] = [1.0, 2.0, 7.0]
    df["energy_per_image_j"] = [10.0, 20.0, 5.0]
    df["f1"] = [0.8, 0.9, 0.5]
    return df


def test_status_and_note_at_the_min_n_boundary_with_analysis_and_subset():
    got = S.tradeoff_table(_small_table(), min_n=2, analysis="fig2", subset="dataset == x")
    assert list(got.columns) == ["analysis", "subset"] + BY + S.TRADEOFF_COLUMNS[2:]
    assert got["architecture"].tolist() == ["a", "b"]
    assert got["n"].tolist() == [2, 1]
    # medians: a (10 + 20) / 2 = 15 J, (.8 + .9) / 2 = .85; b 5 J, .5; neither dominates the other
    assert got["median_energy_per_image_j"].tolist() == [15.0, 5.0]
    assert got["pareto_all"].tolist() == [True, True]
    assert got["pareto_in_environment"].tolist() == [True, True]
    # n = 2 = min_n is enough (>=); n = 1 is not, and the note names min_n
    assert got["status"].tolist() == ["ok", "insufficient"]
    assert got["note"].tolist() == ["", "n < 2: median of too few runs to compare"]
    assert got["analysis"].tolist() == ["fig2", "fig2"]
    assert got["subset"].tolist() == ["dataset == x", "dataset == x"]
    # one run less in a: both groups too small, the same note on both
    got = S.tradeoff_table(_small_table().iloc[1:], min_n=2)
    assert got["status"].tolist() == ["insufficient", "insufficient"]
    assert got["note"].tolist() == ["n < 2: median of too few runs to compare"] * 2
    assert got["analysis"].tolist() == ["tradeoff"] * 2 and got["subset"].tolist() == ["", ""]


def test_no_runs_is_one_skipped_row_with_the_analysis_and_subset():
    cols = ["analysis", "subset"] + BY + S.TRADEOFF_COLUMNS[2:]
    got = S.tradeoff_table(_small_table().iloc[0:0], analysis="fig2", subset="environment == cloud")
    want = {c: np.nan for c in cols}
    want.update(analysis="fig2", subset="environment == cloud", status="skipped", note="skipped: no runs")
    pd.testing.assert_frame_equal(got, pd.DataFrame([want], columns=cols))


def test_runs_without_a_grouping_column_are_one_skipped_row():
    got = S.tradeoff_table(_small_table().drop(columns=BY), analysis="fig2", subset="s")
    assert list(got.columns) == ["analysis", "subset"] + S.TRADEOFF_COLUMNS[2:]
    assert len(got) == 1
    row = got.iloc[0]
    assert (row["analysis"], row["subset"], row["status"]) == ("fig2", "s", "skipped")
    assert row["note"].startswith("skipped: no grouping column among ")
    assert np.isnan(row["n"]) and np.isnan(row["median_energy_per_image_j"])


def test_a_group_without_environment_is_on_its_own_environment_front():
    """Runs whose environment is missing form one group (as a missing architecture does), on its own front."""
    df = pd.DataFrame(
        {
            "environment": ["cloud", "cloud", np.nan, np.nan],
            "architecture": ["a", "b", "a", "a"],
            "gflops": [1.0, 2.0, 1.0, 1.0],
            "energy_per_image_j": [1.0, 2.0, 3.0, 3.5],
            "f1": [0.5, 0.9, 0.7, 0.8],
            "time_per_image_ms": [1.0, 1.0, 1.0, 1.0],
        }
    )
    t = S.tradeoff_table(S.add_derived(df), min_n=1)
    assert t["pareto_in_environment"].tolist() == [True, True, True]
    assert t["pareto_all"].tolist() == [True, True, False]  # (3.25 J, 0.75) is dominated by (2 J, 0.9)
