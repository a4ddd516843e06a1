"""RQ3.1 sub-experiments of :mod:`dlenergy.stats` on small hand-made runs tables: the batch/input-size
table (:func:`batch_input_table`, :func:`batch_input_selection`, :func:`batch_input_tables`) and the
allocated-RAM tables (:func:`ram_selection`, :func:`ram_tables`).

Every expected value is worked out by hand (means and medians of a few numbers) or recomputed with
scipy / scikit-posthocs on the groups picked out here with plain pandas masks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs as sp
from scipy import stats as ss

from dlenergy import stats as S
from dlenergy.uncertainty import BootstrapConfig, cliffs_delta_ci

BATCH_COLUMNS = [
    "analysis",
    "subset",
    "environment",
    "dataset",
    "batch_size",
    "image_size",
    "n",
    "mean_energy_kj",
    "median_energy_kj",
    "mean_mean_gpu_power_w",
    "median_mean_gpu_power_w",
    "mean_duration_min",
    "median_duration_min",
    "status",
    "note",
]
BATCH_DESC = "architecture == 'inception_v3'"
RAM_DESC = (
    "environment == 'cloud'; architecture == 'inception_v3'; dataset == 'stanford_dogs'; "
    "batch_size == 256; image_size == 128"
)


# ------------------------------------------------------------------------------------------------
# batch_input_table


def _batch_frame() -> pd.DataFrame:
    """Four groups of 1, 2, 3 and 4 runs, rows deliberately not in key order."""
    rows = [
        # env, dataset, batch, image, energy_kj, power_w, duration_min
        ("local_ml_engineer", "stanford_dogs", 32, 75, 1.0, 50.0, 1.0),
        ("cloud", "stanford_dogs", 256, 128, 3.0, 100.0, 10.0),
        ("cloud", "stanford_dogs", 32, 128, 2.0, 30.0, 5.0),
        ("local_ml_engineer", "stanford_dogs", 32, 75, 2.0, 60.0, 1.0),
        ("cloud", "stanford_dogs", 256, 128, 1.0, 200.0, 20.0),
        ("cloud", "caltech101", 256, 75, 7.0, 90.0, 3.0),
        ("local_ml_engineer", "stanford_dogs", 32, 75, 3.0, 70.0, 1.0),
        ("cloud", "stanford_dogs", 32, 128, 4.0, 50.0, 7.0),
        ("cloud", "stanford_dogs", 256, 128, 8.0, 600.0, 60.0),
        ("local_ml_engineer", "stanford_dogs", 32, 75, 10.0, 220.0, 5.0),
    ]
    cols = ["environment", "dataset", "batch_size", "image_size", "energy_kj", "mean_gpu_power_w", "duration_min"]
    return pd.DataFrame(rows, columns=cols).assign(other=1.0)


# the four groups in key order, worked out by hand from _batch_frame
#   (env, dataset, batch, image, n, mean/median energy, mean/median power, mean/median duration)
BATCH_EXPECTED = [
    ("cloud", "caltech101", 256, 75, 1, 7.0, 7.0, 90.0, 90.0, 3.0, 3.0),
    ("cloud", "stanford_dogs", 32, 128, 2, 3.0, 3.0, 40.0, 40.0, 6.0, 6.0),
    ("cloud", "stanford_dogs", 256, 128, 3, 4.0, 3.0, 300.0, 200.0, 30.0, 20.0),
    ("local_ml_engineer", "stanford_dogs", 32, 75, 4, 4.0, 2.5, 100.0, 65.0, 2.0, 1.0),
]


def _expected_batch(status_note: list[tuple[str, str]], subset: str, analysis: str = "batch_input") -> pd.DataFrame:
    rows = [(analysis, subset, *r, st, note) for r, (st, note) in zip(BATCH_EXPECTED, status_note)]
    return pd.DataFrame(rows, columns=BATCH_COLUMNS)


def test_batch_input_table_means_medians_status_by_hand():
    t = S.batch_input_table(_batch_frame())  # defaults: min_n=3, subset "", analysis "batch_input"
    want = _expected_batch([("insufficient", "n < 3"), ("insufficient", "n < 3"), ("ok", ""), ("ok", "")], subset="")
    assert list(t.columns) == BATCH_COLUMNS
    pd.testing.assert_frame_equal(t.reset_index(drop=True), want, check_dtype=False)
    # min_n, subset and analysis as given; n == min_n is enough
    t4 = S.batch_input_table(_batch_frame(), min_n=4, subset="sel", analysis="x")
    want4 = _expected_batch([("insufficient", "n < 4")] * 3 + [("ok", "")], subset="sel", analysis="x")
    pd.testing.assert_frame_equal(t4.reset_index(drop=True), want4, check_dtype=False)


def test_batch_input_table_key_columns_present_only():
    # without dataset and image_size the groups are environment x batch size: cloud/256 merges two groups
    df = _batch_frame().drop(columns=["dataset", "image_size"])
    t = S.batch_input_table(df, min_n=1)
    assert list(t.columns) == [c for c in BATCH_COLUMNS if c not in ("dataset", "image_size")]
    # cloud/256: caltech (7) + dogs (3, 1, 8) -> 4 runs, energy mean 19/4, median (3 + 7)/2
    assert t[["environment", "batch_size", "n"]].values.tolist() == [
        ["cloud", 32, 2],
        ["cloud", 256, 4],
        ["local_ml_engineer", 32, 4],
    ]
    assert t["mean_energy_kj"].tolist() == [3.0, 19.0 / 4, 4.0]
    assert t["median_energy_kj"].tolist() == [3.0, 5.0, 2.5]


def test_batch_input_table_without_runs_is_one_skipped_row():
    t = S.batch_input_table(_batch_frame().iloc[0:0], subset="sel")
    assert list(t.columns) == BATCH_COLUMNS and len(t) == 1
    r = t.iloc[0]
    assert (r["analysis"], r["subset"], r["status"]) == ("batch_input", "sel", "skipped")
    assert r["note"] == "skipped: no runs of the batch/input-size sub-experiment"
    assert t.drop(columns=["analysis", "subset", "status", "note"]).isna().all(axis=None)


# ------------------------------------------------------------------------------------------------
# batch_input_selection / batch_input_tables


def _inception_runs() -> pd.DataFrame:
    """Block 2: Inception V3 in two environments; the cloud also ran the RAM experiment (8 GB twice)
    beside its usual 16 GB; one ResNet50 run that is not part of the sub-experiment."""
    rows = [
        # run_id, env, arch, batch, image, ram, energy_j, duration_s, power
        ("c1", "cloud", "inception_v3", 32, 128, 16.0, 3000.0, 600.0, 100.0),
        ("c2", "cloud", "inception_v3", 32, 128, 16.0, 5000.0, 1200.0, 300.0),
        ("c3", "cloud", "inception_v3", 256, 128, 16.0, 1000.0, 60.0, 200.0),
        ("c4", "cloud", "inception_v3", 256, 128, 16.0, 2000.0, 180.0, 400.0),
        ("c5", "cloud", "inception_v3", 256, 128, 16.0, 6000.0, 300.0, 600.0),
        ("r1", "cloud", "inception_v3", 256, 128, 8.0, 9000.0, 900.0, 900.0),
        ("r2", "cloud", "inception_v3", 256, 128, 8.0, 9500.0, 950.0, 950.0),
        ("l1", "local_ml_engineer", "inception_v3", 32, 128, 32.0, 4000.0, 240.0, 150.0),
        ("l2", "local_ml_engineer", "inception_v3", 32, 128, 32.0, 8000.0, 480.0, 250.0),
        ("x1", "cloud", "resnet50", 32, 128, 16.0, 100.0, 60.0, 50.0),
    ]
    cols = ["run_id", "environment", "architecture", "batch_size", "image_size", "total_ram_gb"]
    cols += ["energy_j", "duration_s", "mean_gpu_power_w"]
    return pd.DataFrame(rows, columns=cols).assign(dataset="stanford_dogs")


def test_batch_input_selection_keeps_each_environments_usual_ram():
    cfg = S.StatsConfig()
    s = S.batch_input_selection(_inception_runs(), cfg)
    assert s.reason is None
    assert list(s.frame.run_id) == ["c1", "c2", "c3", "c4", "c5", "l1", "l2"]
    assert s.description == BATCH_DESC + "; total_ram_gb == the environment's most common value"


def test_batch_input_selection_description_unchanged_when_nothing_dropped():
    cfg = S.StatsConfig()
    runs = _inception_runs()
    s = S.batch_input_selection(runs[~runs.run_id.isin(["r1", "r2"])], cfg)
    assert s.reason is None and s.description == BATCH_DESC
    assert list(s.frame.run_id) == ["c1", "c2", "c3", "c4", "c5", "l1", "l2"]
    # no RAM column at all: no RAM filter, the 8 GB runs stay
    s = S.batch_input_selection(runs.drop(columns=["total_ram_gb"]), cfg)
    assert s.reason is None and s.description == BATCH_DESC
    assert list(s.frame.run_id) == ["c1", "c2", "c3", "c4", "c5", "r1", "r2", "l1", "l2"]


@pytest.mark.parametrize("varying", ["batch_size", "image_size"])
def test_batch_input_selection_one_varying_size_is_enough(varying):
    runs = _inception_runs()
    fixed = "image_size" if varying == "batch_size" else "batch_size"
    runs = runs.assign(**{fixed: 128})
    if varying == "image_size":  # image sizes 75 and 128 in place of the batch sizes 32 and 256
        runs["image_size"] = runs["image_size"].where(_inception_runs()["batch_size"] == 256, 75)
    assert runs[fixed].nunique() == 1 and runs[varying].nunique() == 2
    s = S.batch_input_selection(runs, S.StatsConfig())
    assert s.reason is None
    assert list(s.frame.run_id) == ["c1", "c2", "c3", "c4", "c5", "l1", "l2"]


def test_batch_input_selection_single_sizes_is_no_experiment():
    runs = _inception_runs().assign(batch_size=64, image_size=128)
    s = S.batch_input_selection(runs, S.StatsConfig())
    desc = BATCH_DESC + "; total_ram_gb == the environment's most common value"
    assert s.description == desc
    assert s.reason == (
        f"the runs with {desc} have a single batch size and a single input size: "
        "no batch/input-size experiment in this source"
    )
    assert list(s.frame.run_id) == ["c1", "c2", "c3", "c4", "c5", "l1", "l2"]


def test_batch_input_tables_on_the_selection():
    cfg = S.StatsConfig(min_group_size=2)
    out = S.batch_input_tables(_inception_runs(), cfg)
    assert list(out) == ["batch_input"]
    t = out["batch_input"]
    assert list(t.columns) == BATCH_COLUMNS
    desc = BATCH_DESC + "; total_ram_gb == the environment's most common value"
    # by hand: kJ = J / 1000, min = s / 60; the 8 GB runs r1, r2 and the ResNet50 run left out
    want = pd.DataFrame(
        [
            ("batch_input", desc, "cloud", "stanford_dogs", 32, 128, 2, 4.0, 4.0, 200.0, 200.0, 15.0, 15.0, "ok", ""),
            ("batch_input", desc, "cloud", "stanford_dogs", 256, 128, 3, 3.0, 2.0, 400.0, 400.0, 3.0, 3.0, "ok", ""),
            ("batch_input", desc, "local_ml_engineer", "stanford_dogs", 32, 128, 2, 6.0, 6.0, 200.0, 200.0, 6.0, 6.0)
            + ("ok", ""),
        ],
        columns=BATCH_COLUMNS,
    )
    pd.testing.assert_frame_equal(t.reset_index(drop=True), want, check_dtype=False)


def test_batch_input_tables_skipped_row_names_the_selection():
    runs = _inception_runs().assign(batch_size=64)
    runs = runs[~runs.run_id.isin(["r1", "r2"])]
    out = S.batch_input_tables(runs, S.StatsConfig())
    assert list(out) == ["batch_input"]
    t = out["batch_input"]
    assert list(t.columns) == BATCH_COLUMNS and len(t) == 1
    r = t.iloc[0]
    assert (r["analysis"], r["subset"], r["status"]) == ("batch_input", BATCH_DESC, "skipped")
    assert r["note"] == (
        f"skipped: the runs with {BATCH_DESC} have a single batch size and a single input size: "
        "no batch/input-size experiment in this source"
    )


# ------------------------------------------------------------------------------------------------
# ram_selection / ram_tables

RAM_RUNS = {
    # allocated RAM (GB): (energy_j, duration_s, mean_ram_used_mb) per run
    8.0: ([5100, 5300, 4900, 5600], [600, 640, 610, 700], [6100, 6300, 6000, 6500]),
    16.0: ([4800, 5000, 5200, 4700], [580, 590, 620, 560], [7100, 7300, 7000, 7250]),
    24.0: ([4500, 4600, 4400], [550, 560, 540], [8000, 8100, 7900]),
    32.0: ([4300, 4650, 4200, 4950], [530, 585, 520, 600], [8600, 8800, 8500, 8900]),
}


def _ram_runs() -> pd.DataFrame:
    rows = []
    for ram, (e, d, m) in RAM_RUNS.items():
        for i in range(len(e)):
            rows.append(
                dict(
                    run_id=f"r{int(ram)}-{i}",
                    total_ram_gb=ram,
                    energy_j=e[i],
                    duration_s=d[i],
                    mean_ram_used_mb=m[i],
                    dataset="stanford_dogs",
                    batch_size=256,
                )
            )
    # outside the RAM setting: another dataset, another batch size
    rows.append(
        dict(
            run_id="o1",
            total_ram_gb=64.0,
            energy_j=9e4,
            duration_s=9e3,
            mean_ram_used_mb=1e4,
            dataset="caltech101",
            batch_size=256,
        )
    )
    rows.append(
        dict(
            run_id="o2",
            total_ram_gb=8.0,
            energy_j=1.0,
            duration_s=1.0,
            mean_ram_used_mb=1.0,
            dataset="stanford_dogs",
            batch_size=32,
        )
    )
    return pd.DataFrame(rows).assign(environment="cloud", architecture="inception_v3", image_size=128)


def test_ram_selection_two_levels_is_an_experiment():
    runs = _ram_runs()
    two = runs[runs.total_ram_gb.isin([8.0, 16.0]) | runs.run_id.isin(["o1", "o2"])]
    s = S.ram_selection(two, S.StatsConfig())
    assert s.reason is None and s.description == RAM_DESC
    assert list(s.frame.run_id) == [f"r8-{i}" for i in range(4)] + [f"r16-{i}" for i in range(4)]


def test_ram_selection_single_level_and_missing_column():
    runs = _ram_runs()
    one = runs[(runs.total_ram_gb == 16.0) | runs.run_id.isin(["o1", "o2"])]
    s = S.ram_selection(one, S.StatsConfig())
    assert s.description == RAM_DESC
    assert s.reason == (
        f"the runs with {RAM_DESC} have 1 allocated-RAM level(s) (16.0): no allocated-RAM experiment in this source"
    )
    assert list(s.frame.run_id) == [f"r16-{i}" for i in range(4)]
    s = S.ram_selection(runs.drop(columns=["total_ram_gb"]), S.StatsConfig())
    assert s.description == RAM_DESC and s.reason == "the runs table has no column 'total_ram_gb'"
    assert s.frame.empty and "run_id" in s.frame


def test_ram_tables_skipped_tables_say_why():
    runs = _ram_runs()
    out = S.ram_tables(runs[runs.total_ram_gb == 16.0], S.StatsConfig(bootstrap={"n_resamples": 0}))
    assert list(out) == ["table5_normality_ram", "table7_kruskal_ram", "table7_kruskal_ram_dunn"]
    reason = (
        f"the runs with {RAM_DESC} have 1 allocated-RAM level(s) (16.0): no allocated-RAM experiment in this source"
    )
    analyses = ["table5_normality_ram", "table7_kruskal_ram", "table7_kruskal_ram"]
    for (name, t), analysis in zip(out.items(), analyses):
        assert len(t) == 1 and list(t.columns[:2]) == ["analysis", "subset"], name
        r = t.iloc[0]
        assert (r["analysis"], r["subset"], r["status"], r["note"]) == (
            analysis,
            RAM_DESC,
            "skipped",
            f"skipped: {reason}",
        )
    assert list(out["table7_kruskal_ram_dunn"].columns[2:]) == S.PAIR_COLUMNS


@pytest.fixture(scope="module")
def ram_out():
    cfg = S.StatsConfig(p_adjust="bonferroni", alpha=0.2, min_group_size=4, bootstrap={"n_resamples": 99}, seed=7)
    return cfg, S.ram_tables(_ram_runs(), cfg)


def _ram_groups(var: str) -> dict[float, np.ndarray]:
    """The runs of each RAM level, derived by hand: kJ = J / 1000, min = s / 60, GB = MiB / 1024."""
    idx = {"energy_kj": (0, 1000.0), "duration_min": (1, 60.0), "ram_used_gb": (2, 1024.0)}[var]
    return {ram: np.asarray(v[idx[0]], dtype=float) / idx[1] for ram, v in RAM_RUNS.items()}


VARIABLES = ["energy_kj", "duration_min", "ram_used_gb"]


def test_ram_tables_kruskal_with_configured_p_adjust_alpha_min_n(ram_out):
    cfg, out = ram_out
    assert list(out) == ["table5_normality_ram", "table7_kruskal_ram", "table7_kruskal_ram_dunn"]
    kt = out["table7_kruskal_ram"]
    assert list(kt.variable) == VARIABLES
    assert (kt.analysis == "table7_kruskal_ram").all() and (kt.subset == RAM_DESC).all()
    assert (kt.p_adjust == "bonferroni").all() and (kt.alpha == 0.2).all() and (kt.status == "ok").all()
    # min_group_size 4: the 24 GB group (3 runs) is left out
    assert (kt.groups == "8, 16, 32").all() and (kt.n == 12).all() and (kt.k == 3).all()
    for v, r in zip(VARIABLES, kt.itertuples()):
        g = _ram_groups(v)
        H, p = ss.kruskal(g[8.0], g[16.0], g[32.0])
        assert r.H == pytest.approx(H, rel=1e-12) and r.p_value == pytest.approx(p, rel=1e-9)
        assert r.eta2 == pytest.approx((H - 3 + 1) / (12 - 3), rel=1e-12)
        assert r.significant == (p < 0.2)
    d = out["table7_kruskal_ram_dunn"]
    assert list(d.columns[:2]) == ["analysis", "subset"] and list(d.columns[2:]) == S.PAIR_COLUMNS
    assert (d.analysis == "table7_kruskal_ram").all() and (d.subset == RAM_DESC).all()
    assert len(d) == 3 * 3 and (d.p_adjust == "bonferroni").all()
    boot = BootstrapConfig(n_resamples=99, seed=7)
    for v in VARIABLES:
        g = _ram_groups(v)
        long = pd.DataFrame([(x, ram) for ram in (8.0, 16.0, 32.0) for x in g[ram]], columns=["v", "ram"])
        ref = sp.posthoc_dunn(long, val_col="v", group_col="ram", p_adjust="bonferroni")
        dv = d[d.variable == v]
        assert list(zip(dv.group_a, dv.group_b)) == [(8.0, 16.0), (8.0, 32.0), (16.0, 32.0)]
        for r in dv.itertuples():
            assert r.p_adjusted == pytest.approx(ref.loc[r.group_a, r.group_b], rel=1e-9)
            assert r.significant == (ref.loc[r.group_a, r.group_b] < 0.2)
            ci = cliffs_delta_ci(g[r.group_a], g[r.group_b], boot)
            assert np.isfinite(ci.low) and np.isfinite(ci.high)
            assert (r.cliffs_delta_ci_low, r.cliffs_delta_ci_high) == (ci.low, ci.high)


def test_ram_tables_normality_by_allocated_ram(ram_out):
    cfg, out = ram_out
    t5 = out["table5_normality_ram"]
    assert list(t5.columns) == S.NORMALITY_COLUMNS
    assert (t5.analysis == "table5_normality_ram").all() and (t5.subset == RAM_DESC).all()
    assert list(t5.variable) == [v for v in VARIABLES for _ in range(4)]
    assert list(t5.group) == [8.0, 16.0, 24.0, 32.0] * 3
    assert list(t5.n) == [4, 4, 3, 4] * 3
    assert (t5.levene_k == 3).all()  # min_group_size 4: Levene across 8, 16 and 32 GB only
    for v in VARIABLES:
        g = _ram_groups(v)
        sub = t5[t5.variable == v].set_index("group")
        lw, lp = ss.levene(g[8.0], g[16.0], g[32.0], center="median")
        assert sub.levene_w.to_numpy() == pytest.approx([lw] * 4, rel=1e-12)
        assert sub.levene_p.to_numpy() == pytest.approx([lp] * 4, rel=1e-9)
        for ram, x in g.items():
            w, p = ss.shapiro(x)
            assert sub.loc[ram, "shapiro_w"] == pytest.approx(w, rel=1e-12)
            assert sub.loc[ram, "shapiro_p"] == pytest.approx(p, rel=1e-9)
            assert sub.loc[ram, "normal"] == (p > 0.2)
