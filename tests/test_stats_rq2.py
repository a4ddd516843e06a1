"""RQ2 tables (dlenergy.stats.rq2_tables, rq2_selection, tdp_line, _with_tdp) on small hand-made runs tables.

Every group is fully separated from the next, so the Kruskal-Wallis H, its p-value, η², Dunn's z and
Cliff's δ follow by hand (below); Shapiro-Wilk, Levene and Spearman are recomputed with scipy and
pingouin; the TDP columns are worked out by hand from the runs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import stats as ss
from stats_columns import KRUSKAL, NORMALITY, PAIRS

from dlenergy import stats as S

LN, LML, CLOUD = "local_normal_user", "local_ml_engineer", "cloud"
RQ2_SUBSET = "architecture == 'mobilenet_v2'; architecture not in ['inception_v3']"
B1_SUBSET = "architecture not in ['inception_v3']"
TABLES = {"table4_normality_rq2", "kruskal_dunn_rq2", "kruskal_dunn_rq2_dunn", "spearman_gpu_usage"}

# the tables' documented columns, spelled out
TDP = ["tdp_w", "median_power_w", "median_tdp_x_usage_w", "median_tdp_estimate_error_pct"]
SPEARMAN = [
    "analysis", "subset", "by", "x", "y", "n", "rho", "rho_ci_low", "rho_ci_high", "p_value",
    "alternative", "significant", "strength", *TDP, "status", "note", "ci_note",
]  # fmt: skip


def _rows(env, arch, usage, power, energy, tdp, **extra):
    return [
        dict(
            environment=env,
            architecture=arch,
            gpu_usage_pct=u,
            mean_gpu_power_w=p,
            energy_per_image_j=e,
            max_power_w=tdp,
            **extra,
        )
        for u, p, e in zip(usage, power, energy)
    ]


def rq2_runs() -> pd.DataFrame:
    """Three environments x (MobileNet V2, ResNet50), three runs each, plus two Inception V3 runs (block 2).

    MobileNet V2 (the RQ2 selection): energy per image 1, 2, 4 | 5, 7, 8 | 9, 10, 13 and GPU usage
    10, 20, 30 | 31, 33, 38 | 40, 42, 46 in Local N | Local ML | Cloud: both fully separated.
    TDP × usage / 100 against the measured power (block 1, both architectures), per environment:

    * Local N (TDP 60): usage 10..60, TDP line 6, 12, 18, 24, 30, 36 W, measured 5, 10, 20, 25, 28, 40 W:
      errors +20, +20, −10, −4, +50/7, −10 %, median (−4 + 50/7) / 2 = 11/7 %; medians 22.5 W, 21 W.
    * Local ML (TDP 240): TDP line 74.4, 79.2, 91.2, 168, 192, 216 W, measured 62, 99, 60.8, 168, 256,
      108 W: errors +20, −20, +50, 0, −25, +100 %, median 10 %; medians 103.5 W, 129.6 W.
    * Cloud (TDP 350): TDP line 140, 147, 161, 210, 245, 350 W, measured 100, 210, 115, 420, 175, 500 W:
      errors +40, −30, +40, −50, +40, −30 %, median 5 %; medians 192.5 W, 185.5 W.

    Local ML's energy per image in usage order is 5, 7, 8, 6, 10, 9 (ranks 1, 3, 4, 2, 6, 5):
    Σd² = 8, ρ = 1 − 6·8/210 = 27/35, one-sided p ≈ 0.036 (between α = 0.025 and 0.05).
    The Inception V3 runs (Cloud, TDP 700) would change Cloud's n, TDP and ρ if they were not left out.
    """
    return pd.DataFrame(
        _rows(CLOUD, "mobilenet_v2", [40, 42, 46], [100, 210, 115], [9, 10, 13], 350)
        + _rows(CLOUD, "resnet50", [60, 70, 100], [420, 175, 500], [12, 15, 11], 350)
        + _rows(LML, "resnet50", [70, 80, 90], [168, 256, 108], [6, 10, 9], 240)
        + _rows(LML, "mobilenet_v2", [31, 33, 38], [62, 99, 60.8], [5, 7, 8], 240)
        + _rows(LN, "mobilenet_v2", [10, 20, 30], [5, 10, 20], [1, 2, 4], 60)
        + _rows(LN, "resnet50", [40, 50, 60], [25, 28, 40], [3.5, 5, 4.5], 60)
        + _rows(CLOUD, "inception_v3", [1, 2], [900, 800], [100, 90], 700)
    )


MOB = {  # the RQ2 groups, in the paper's environment order
    "energy_per_image_j": {LN: [1, 2, 4], LML: [5, 7, 8], CLOUD: [9, 10, 13]},
    "gpu_usage_pct": {LN: [10, 20, 30], LML: [31, 33, 38], CLOUD: [40, 42, 46]},
}


def _strength(rho):  # the paper's wording (§4.2): moderate 0.40-0.69, strong 0.70-0.89, very strong >= 0.90
    names = ["very weak", "weak", "moderate", "strong", "very strong"]
    return names[int(np.searchsorted([0.2, 0.4, 0.7, 0.9], abs(rho), side="right"))]


@pytest.fixture(scope="module")
def rq2():
    cfg = S.StatsConfig(alpha=0.025, p_adjust="bonferroni", bootstrap={"n_resamples": 50})
    return S.rq2_tables(rq2_runs(), cfg)


def test_rq2_table_names(rq2):
    assert set(rq2) == TABLES and all(isinstance(t, pd.DataFrame) for t in rq2.values())


def test_rq2_normality_table4(rq2):
    """Shapiro-Wilk per environment (paper order) and median-centred Levene, MobileNet V2 only."""
    t = rq2["table4_normality_rq2"]
    assert list(t.columns) == NORMALITY
    assert list(t.variable) == ["energy_per_image_j"] * 3 + ["gpu_usage_pct"] * 3
    assert list(t.group) == [LN, LML, CLOUD] * 2
    assert (t.analysis == "table4_normality_rq2").all() and (t.subset == RQ2_SUBSET).all()
    assert (t.group_by == "environment").all() and (t.status == "ok").all() and (t.note == "").all()
    assert list(t.n) == [3] * 6 and list(t.levene_k) == [3] * 6
    for v, groups in MOB.items():
        sub = t[t.variable == v].set_index("group")
        for g, x in groups.items():
            w, p = ss.shapiro(x)
            # n = 3 (exact): W = (x3 − x1)² / 2 / SS, p = 6/π · (asin √W − asin √(3/4))
            x = np.sort(np.asarray(x, dtype=float))
            w3 = (x[2] - x[0]) ** 2 / 2 / np.sum((x - x.mean()) ** 2)
            p3 = 6 / math.pi * (math.asin(math.sqrt(w3)) - math.asin(math.sqrt(0.75)))
            assert sub.loc[g, "shapiro_w"] == pytest.approx(w) == pytest.approx(w3)
            assert sub.loc[g, "shapiro_p"] == pytest.approx(p) == pytest.approx(p3, abs=1e-6)
            assert sub.loc[g, "normal"] == bool(p > 0.025)
        lw, lp = ss.levene(*groups.values(), center="median")
        assert list(sub.levene_w) == pytest.approx([lw] * 3) and list(sub.levene_p) == pytest.approx([lp] * 3)
        assert list(sub.equal_variances) == [bool(lp > 0.025)] * 3
    # by hand: Levene of |x − median| = 1, 0, 2 | 2, 0, 1 | 1, 0, 3 is 1/13; W of 1, 2, 4 is 4.5 / (14/3)
    e = t[t.variable == "energy_per_image_j"].set_index("group")
    assert e.loc[LN, "shapiro_w"] == pytest.approx(27 / 28) and e.levene_w.iloc[0] == pytest.approx(1 / 13)
    assert e.levene_p.iloc[0] == pytest.approx(ss.f.sf(1 / 13, 2, 6))


def test_rq2_kruskal_by_hand(rq2):
    """Three fully separated groups of 3: mean ranks 2, 5, 8, H = 12/90 · 3 · (4 + 25 + 64) − 30 = 7.2,
    p = exp(−7.2 / 2) (χ² with 2 df), η² = (7.2 − 2) / 6; p = 0.0273 is above α = 0.025."""
    t = rq2["kruskal_dunn_rq2"]
    assert list(t.columns) == KRUSKAL
    assert list(t.variable) == ["energy_per_image_j", "gpu_usage_pct"]
    assert (t.analysis == "kruskal_dunn_rq2").all() and (t.subset == RQ2_SUBSET).all()
    assert (t.group_by == "environment").all() and (t.status == "ok").all() and (t.note == "").all()
    assert list(t.n) == [9, 9] and list(t.k) == [3, 3]
    assert list(t.H) == pytest.approx([7.2, 7.2], rel=1e-12)
    assert list(t.p_value) == pytest.approx([math.exp(-3.6)] * 2, rel=1e-9)
    assert list(t.eta2) == pytest.approx([5.2 / 6] * 2, rel=1e-12)
    assert list(t.significant) == [False, False]
    assert list(t.alpha) == [0.025, 0.025] and list(t.p_adjust) == ["bonferroni", "bonferroni"]
    assert list(t.groups) == [f"{LN}, {LML}, {CLOUD}"] * 2
    assert list(t.not_different) == [f"{LN} – {LML}; {LML} – {CLOUD}"] * 2


def test_rq2_dunn_pairs_by_hand(rq2):
    """Dunn: se = sqrt(9·10/12 · (1/3 + 1/3)) = √5, z = (mean rank a − mean rank b) / √5; Bonferroni
    over the three pairs (the configured adjustment, not the default Holm): 3·p; Cliff's δ = −1 (a below
    b), and every bootstrap resample of two separated groups is separated too, so its CI is [−1, −1]."""
    t = rq2["kruskal_dunn_rq2_dunn"]
    assert list(t.columns) == PAIRS
    assert list(t.variable) == ["energy_per_image_j"] * 3 + ["gpu_usage_pct"] * 3
    assert list(t.group_a) == [LN, LN, LML] * 2 and list(t.group_b) == [LML, CLOUD, CLOUD] * 2
    assert (t.analysis == "kruskal_dunn_rq2").all() and (t.subset == RQ2_SUBSET).all()
    assert (t.group_by == "environment").all() and (t.status == "ok").all() and (t.p_adjust == "bonferroni").all()
    assert list(t.n_a) == [3] * 6 and list(t.n_b) == [3] * 6
    assert list(t.median_a) == [2, 2, 7, 20, 20, 33] and list(t.median_b) == [7, 10, 10, 33, 42, 42]
    z = [-3 / math.sqrt(5), -6 / math.sqrt(5), -3 / math.sqrt(5)] * 2
    assert list(t.dunn_z) == pytest.approx(z, rel=1e-12)
    p3, p6 = 2 * ss.norm.sf(3 / math.sqrt(5)), 2 * ss.norm.sf(6 / math.sqrt(5))
    assert list(t.p_unadjusted) == pytest.approx([p3, p6, p3] * 2, rel=1e-9)
    assert list(t.p_adjusted) == pytest.approx([3 * p3, 3 * p6, 3 * p3] * 2, rel=1e-9)
    assert 3 * p6 < 0.025 < 3 * p3
    assert list(t.significant) == [False, True, False] * 2
    assert list(t.cliffs_delta) == [-1.0] * 6
    assert list(t.cliffs_delta_ci_low) == [-1.0] * 6 and list(t.cliffs_delta_ci_high) == [-1.0] * 6


def test_rq2_spearman_and_tdp_by_environment(rq2):
    """RQ2.2 on block 1 (both architectures, not Inception V3): one-sided Spearman of GPU usage with power
    and with energy per image per environment, against scipy and pingouin, and the TDP columns by hand
    (rq2_runs' docstring)."""
    t = rq2["spearman_gpu_usage"]
    assert list(t.columns) == SPEARMAN
    assert list(t.by) == [f"environment = {e}" for e in (LN, LN, LML, LML, CLOUD, CLOUD)]
    assert list(t.y) == ["mean_gpu_power_w", "energy_per_image_j"] * 3
    assert (t.x == "gpu_usage_pct").all() and (t.alternative == "greater").all()
    assert (t.analysis == "spearman_gpu_usage").all() and (t.subset == B1_SUBSET).all()
    assert (t.status == "ok").all() and (t.note == "").all()
    assert list(t.n) == [6] * 6
    b1 = rq2_runs().query("architecture != 'inception_v3'")
    for r in t.itertuples():
        d = b1[b1.environment == r.by.split(" = ")[1]]
        ref = ss.spearmanr(d.gpu_usage_pct, d[r.y], alternative="greater")
        c = pg.corr(d.gpu_usage_pct, d[r.y], method="spearman", alternative="greater")
        assert r.rho == pytest.approx(ref.statistic) == pytest.approx(float(c["r"].iloc[0]))
        assert r.p_value == pytest.approx(ref.pvalue, abs=1e-12) == pytest.approx(float(c["p_val"].iloc[0]), abs=1e-9)
        assert r.significant == bool(ref.pvalue < 0.025) and r.strength == _strength(ref.statistic)
    lml_e = t.iloc[3]
    assert lml_e.rho == pytest.approx(27 / 35) and 0.025 < lml_e.p_value < 0.05 and not lml_e.significant
    # Local N's usage and power rise together: ρ = 1, and so in every bootstrap resample: CI [1, 1]
    assert (t.rho.iloc[0], t.rho_ci_low.iloc[0], t.rho_ci_high.iloc[0]) == (1.0, 1.0, 1.0)
    assert (t.rho_ci_low <= t.rho).all() and (t.rho <= t.rho_ci_high).all()
    # TDP columns: on the power rows only, float
    power = t[t.y == "mean_gpu_power_w"]
    assert list(power.tdp_w) == [60.0, 240.0, 350.0]
    assert list(power.median_power_w) == pytest.approx([22.5, 103.5, 192.5], rel=1e-12)
    assert list(power.median_tdp_x_usage_w) == pytest.approx([21.0, 129.6, 185.5], rel=1e-12)
    assert list(power.median_tdp_estimate_error_pct) == pytest.approx([11 / 7, 10.0, 5.0], rel=1e-12)
    assert t.loc[t.y == "energy_per_image_j", TDP].isna().all().all()
    assert (t[TDP].dtypes == "float64").all()


def test_tdp_line_is_tdp_times_usage():
    """TDP (the environment's median max_power_w) × usage / 100, per run."""
    df = pd.DataFrame(
        {
            "environment": ["a", "a", "a", "b"],
            "max_power_w": [100.0, 300.0, 200.0, 50.0],
            "gpu_usage_pct": [50.0, 10.0, 100.0, 40.0],
        }
    )
    assert list(S.tdp_line(df)) == pytest.approx([100.0, 20.0, 200.0, 20.0], rel=1e-12)


def test_rq2_min_group_size_from_config():
    """stats.min_group_size = 4: the groups of 3 are left out of Levene and Kruskal-Wallis."""
    out = S.rq2_tables(rq2_runs(), S.StatsConfig(min_group_size=4, bootstrap={"n_resamples": 0}))
    left = f"left out, n < 4: {LN} (n=3), {LML} (n=3), {CLOUD} (n=3)"
    kt = out["kruskal_dunn_rq2"]
    assert list(kt.status) == ["insufficient"] * 2 and list(kt.k) == [0, 0] and list(kt.n) == [0, 0]
    assert kt.H.isna().all() and kt.p_value.isna().all() and kt.significant.isna().all()
    assert list(kt.note) == [f"{left}; 0 group(s) with n >= 4: Kruskal-Wallis needs at least 2"] * 2
    assert len(out["kruskal_dunn_rq2_dunn"]) == 0 and list(out["kruskal_dunn_rq2_dunn"].columns) == PAIRS
    t4 = out["table4_normality_rq2"]
    assert list(t4.levene_k) == [0] * 6 and t4.levene_w.isna().all()
    assert list(t4.note) == [f"Levene: {left}; 0 group(s) with n >= 4: Levene needs at least 2"] * 6


def test_rq2_selection_leaves_out_the_block1_exclude():
    """A block1_exclude on another column than the architecture drops those MobileNet V2 runs too."""
    runs = rq2_runs().assign(dataset="chesslive")
    extra = pd.DataFrame(_rows(CLOUD, "mobilenet_v2", [1, 2, 3], [1, 2, 3], [0.1, 0.2, 0.3], 350, dataset="other"))
    cfg = S.StatsConfig(block1_exclude={"dataset": "other"}, bootstrap={"n_resamples": 0})
    s = S.rq2_selection(pd.concat([runs, extra], ignore_index=True), cfg)
    assert s.reason is None and s.description == "architecture == 'mobilenet_v2'; dataset not in ['other']"
    assert len(s.frame) == 9 and (s.frame.dataset == "chesslive").all()
    assert (s.frame.architecture == "mobilenet_v2").all()


def test_rq2_without_block1_runs_is_skipped():
    """Only Inception V3 runs: no MobileNet V2 run and nothing in block 1; each table is one skipped row."""
    runs = rq2_runs().query("architecture == 'inception_v3'")
    out = S.rq2_tables(runs, S.StatsConfig(bootstrap={"n_resamples": 0}))
    assert set(out) == TABLES
    no_rq2 = f"skipped: no runs with {RQ2_SUBSET} (values present: architecture: inception_v3)"
    want = {
        "table4_normality_rq2": ("table4_normality_rq2", RQ2_SUBSET, no_rq2, NORMALITY),
        "kruskal_dunn_rq2": ("kruskal_dunn_rq2", RQ2_SUBSET, no_rq2, KRUSKAL),
        "kruskal_dunn_rq2_dunn": ("kruskal_dunn_rq2", RQ2_SUBSET, no_rq2, PAIRS),
        "spearman_gpu_usage": ("spearman_gpu_usage", B1_SUBSET, f"skipped: no runs with {B1_SUBSET}", SPEARMAN),
    }
    for name, (analysis, subset, note, columns) in want.items():
        t = out[name]
        assert list(t.columns) == columns, name  # skipped or not, the same columns in the same order
        assert len(t) == 1, name
        row = t.iloc[0]
        assert (row["analysis"], row["subset"], row["status"], row["note"]) == (analysis, subset, "skipped", note)
        assert row.drop(["analysis", "subset", "status", "note"]).isna().all(), name


def test_tdp_columns_for_an_environment_named_with_an_equals_sign():
    """The environment is what follows the first ' = ' of ``by``: 'site = lab' is one environment."""
    runs = pd.DataFrame(_rows("site = lab", "resnet50", [10, 20, 40], [12, 25, 30], [1, 2, 3], 100))
    t = S.rq2_tables(runs, S.StatsConfig(bootstrap={"n_resamples": 0}))["spearman_gpu_usage"]
    row = t[t.y == "mean_gpu_power_w"].iloc[0]
    assert row.by == "environment = site = lab"
    # TDP line 10, 20, 40 W against 12, 25, 30 W: errors −1/6, −1/5, +1/3; median −1/6 = −50/3 %
    assert (row.tdp_w, row.median_power_w, row.median_tdp_x_usage_w) == (100.0, 25.0, 20.0)
    assert row.median_tdp_estimate_error_pct == pytest.approx(-50 / 3, rel=1e-12)


def test_non_numeric_usage_or_power_is_missing_not_an_error():
    """A cell that is not a number ('n/a') in GPU usage or power is left out, as everywhere in stats."""
    runs = pd.DataFrame(
        _rows(CLOUD, "resnet50", [50, "n/a", 80, 20, 60], [40, 60, "n/a", 25, 50], [1, 2, 3, 4, 5], 100)
    )
    t = S.rq2_tables(runs, S.StatsConfig(bootstrap={"n_resamples": 0}))["spearman_gpu_usage"]
    power, energy = t.iloc[0], t.iloc[1]
    assert (power.y, power.n, power.rho) == ("mean_gpu_power_w", 3, 1.0)  # (50, 40), (20, 25), (60, 50)
    assert (energy.y, energy.n) == ("energy_per_image_j", 4)
    # TDP line 50, –, 80, 20, 60 W; measured 40, 60, –, 25, 50 W: errors +25, −20, +20 %
    assert (power.tdp_w, power.median_power_w, power.median_tdp_x_usage_w) == (100.0, 45.0, 55.0)
    assert power.median_tdp_estimate_error_pct == pytest.approx(20.0, rel=1e-12)


def test_a_tdp_cell_that_is_not_a_number_is_missing():
    """A ``max_power_w`` of 'n/a' on one run is left out of the environment's TDP median (not an error)."""
    rows = _rows(CLOUD, "resnet50", [50, 40, 80, 20, 60], [40, 60, 70, 25, 50], [1, 2, 3, 4, 5], 100)
    rows[1]["max_power_w"], rows[2]["max_power_w"] = "n/a", 300
    t = S.rq2_tables(pd.DataFrame(rows), S.StatsConfig(bootstrap={"n_resamples": 0}))["spearman_gpu_usage"]
    assert t.iloc[0].tdp_w == 100.0  # median of 100, 300, 100, 100
    assert S.tdp_line(pd.DataFrame(rows)).tolist() == [50.0, 40.0, 80.0, 20.0, 60.0]
