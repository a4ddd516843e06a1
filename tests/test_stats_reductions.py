"""`stats.pareto_front`, `reduction_pairs`, `reduction_cis`, `reduction_summary`, `tradeoff_tables`,
`rq1_tables` and the CIs of `tradeoff_table` (`_with_median_cis`) on small hand-made tables.

Every expected table is written out: medians, reductions (1 - E_to / E_from) and F1 decreases
((F1_from - F1_to) / F1_from) are worked out by hand in the comments; the bootstrap CIs are
`scipy.stats.bootstrap` called as `dlenergy.uncertainty` documents (a fresh `default_rng(seed)` per
interval, vectorized, BCa, 95 %), and the Pareto fronts are read off by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bootstrap_reference import scipy_ci
from scipy import stats as ss
from stats_columns import KRUSKAL, NORMALITY, PAIRS, SPEARMAN

from dlenergy import stats as S
from dlenergy.uncertainty import BootstrapConfig

REDUCTION = [
    "analysis", "scope", "from", "to", "n_from", "n_to", "energy_from", "energy_to", "reduction",
    "reduction_ci_low", "reduction_ci_high", "f1_from", "f1_to", "f1_decrease", "f1_decrease_ci_low",
    "f1_decrease_ci_high", "status", "note", "ci_note",
]  # fmt: skip
SUMMARY = [
    "analysis", "scope", "statistic", "from", "to", "reduction", "reduction_ci_low", "reduction_ci_high",
    "f1_decrease", "f1_decrease_ci_low", "f1_decrease_ci_high", "status", "note", "ci_note",
]  # fmt: skip
METRICS = [
    "energy_per_image_j", "gpu_usage_pct", "time_per_image_ms", "f1", "f1_per_kwh", "mean_gpu_power_w", "energy_kj",
]  # fmt: skip
TRADEOFF = (
    ["analysis", "subset", "environment", "architecture", "n", "gflops"]
    + [c for m in METRICS for c in (f"median_{m}", f"median_{m}_ci_low", f"median_{m}_ci_high")]
    + ["pareto_all", "pareto_in_environment", "status", "note", "ci_note"]
)
NA = float("nan")
FEW1 = "n=1 < 2: too few values for a bootstrap CI"


def frame_equal(got: pd.DataFrame, want: pd.DataFrame):
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False, rtol=1e-12
    )


def one_row(columns, **values) -> pd.DataFrame:
    row = dict.fromkeys(columns, NA)
    row.update(values)
    return pd.DataFrame([row], columns=columns)


# ----------------------------------------------------------------------------- pareto_front


def test_pareto_front_ties_dominate_and_missing_values_are_off_the_front():
    # (cost, benefit): A (1, .5) is dominated by B (1, .9): the same cost, more benefit; C (2, .9) by B:
    # the same benefit, cheaper; G (4, .95) by D (3, .95); B and D nobody dominates; E and F lack a value
    df = pd.DataFrame(
        {
            "cost": [1.0, 1.0, 2.0, 3.0, 0.5, NA, 4.0],
            "benefit": [0.5, 0.9, 0.9, 0.95, NA, 0.99, 0.95],
        },
        index=list("ABCDEFG"),
    )
    want = pd.Series([False, True, False, True, False, False, False], index=list("ABCDEFG"))
    pd.testing.assert_series_equal(S.pareto_front(df, "cost", "benefit"), want)


@pytest.mark.parametrize("column", ["cost", "benefit"])
def test_pareto_front_a_cell_that_is_not_a_number_is_missing(column):
    # (1, .5) (2, .9) and a third row whose cost or benefit is text: missing, so off the front
    df = pd.DataFrame({"cost": [1.0, 2.0, 0.1], "benefit": [0.5, 0.9, 0.99]}, dtype=object)
    df.loc[2, column] = "n/a"
    assert S.pareto_front(df, "cost", "benefit").tolist() == [True, True, False]


# ----------------------------------------------------------------------------- tradeoff_table's CIs


def _median(x, axis):
    return np.median(x, axis=axis)


def _reduction(x_from, x_to, axis):
    return 1.0 - np.median(x_to, axis=axis) / np.median(x_from, axis=axis)


def test_median_cis_for_a_group_without_architecture_and_after_a_metric_without_values():
    # cloud/a: F1 missing on every run (median NaN: no interval, no note); cloud/<no architecture>:
    # a group of its own with its own intervals; both groups have 4 runs of distinct values
    x = {"a": [1.0, 2.0, 4.0, 3.5], None: [5.0, 7.0, 6.5, 9.0]}
    rows = [("cloud", k, v) for k in x for v in x[k]]
    df = pd.DataFrame(rows, columns=["environment", "architecture", "v"])
    df["gflops"] = 1.0
    for k, m in enumerate(METRICS):
        df[m] = df["v"] * (k + 1)
    df.loc[df["architecture"] == "a", "f1"] = NA
    got = S.tradeoff_table(df.drop(columns="v"), boot=BootstrapConfig(n_resamples=199, seed=5))
    assert got["architecture"].iloc[0] == "a" and pd.isna(got["architecture"].iloc[1])
    for i, arch in enumerate(x):
        for k, m in enumerate(METRICS):
            if arch == "a" and m == "f1":
                lo = hi = NA
            else:
                lo, hi = scipy_ci(np.array(x[arch]) * (k + 1), statistic=_median, seed=5)
            assert got.loc[i, f"median_{m}_ci_low"] == pytest.approx(lo, rel=1e-12, nan_ok=True)
            assert got.loc[i, f"median_{m}_ci_high"] == pytest.approx(hi, rel=1e-12, nan_ok=True)
    assert got["ci_note"].tolist() == ["", ""]


# ----------------------------------------------------------------------------- reduction_pairs


def _groups() -> pd.DataFrame:
    """A trade-off table by hand: median energy per image and F1 of five groups in cloud."""
    return pd.DataFrame(
        {
            "environment": "cloud",
            "architecture": ["vgg", "alex", "res", "mob", "dead", "eff"],
            "n": [3, 4, 3, 2, 3, 3],
            # res costs what alex costs (no pair either way); eff's energy is text: left out
            "median_energy_per_image_j": pd.Series([4.0, 2.0, 2.0, 1.0, 8.0, "n/a"], dtype=object),
            "median_f1": [0.8, 0.6, 0.9, NA, 0.0, 0.7],
        }
    )


def _pair(frm, to, n, e, f1, red, dec, status="ok", note="", analysis="reductions", scope="s"):
    return dict(
        zip(
            REDUCTION,
            [analysis, scope, f"cloud / {frm}", f"cloud / {to}", *n, *e, red, NA, NA, *f1, dec, NA, NA]
            + [status, note, ""],
        )
    )


def test_reduction_pairs_every_cheaper_pair_by_hand():
    got = S.reduction_pairs(_groups(), ["environment", "architecture"], scope="s")
    few = "median of n < 3 runs"
    want = pd.DataFrame(
        [  # in the order of the pairs (from, to) of the table's rows: only those where `to` is cheaper
            _pair("vgg", "alex", (3, 4), (4.0, 2.0), (0.8, 0.6), 0.5, 0.25),
            _pair("vgg", "res", (3, 3), (4.0, 2.0), (0.8, 0.9), 0.5, -0.125),  # F1 rises: negative
            _pair("vgg", "mob", (3, 2), (4.0, 1.0), (0.8, NA), 0.75, NA, "insufficient", few),
            _pair("alex", "mob", (4, 2), (2.0, 1.0), (0.6, NA), 0.5, NA, "insufficient", few),
            _pair("res", "mob", (3, 2), (2.0, 1.0), (0.9, NA), 0.5, NA, "insufficient", few),
            # from an F1 of 0: no relative decrease
            _pair("dead", "vgg", (3, 3), (8.0, 4.0), (0.0, 0.8), 0.5, NA),
            _pair("dead", "alex", (3, 4), (8.0, 2.0), (0.0, 0.6), 0.75, NA),
            _pair("dead", "res", (3, 3), (8.0, 2.0), (0.0, 0.9), 0.75, NA),
            _pair("dead", "mob", (3, 2), (8.0, 1.0), (0.0, NA), 0.875, NA, "insufficient", few),
        ],
        columns=REDUCTION,
    )
    frame_equal(got, want)
    assert got["n_from"].dtype == got["n_to"].dtype == np.int64


def test_reduction_pairs_min_n_boundary_and_arguments():
    # min_n = 4: only alex (n = 4) is enough; n == min_n is enough
    g = _groups().iloc[:3]
    g["median_energy_per_image_j"] = [4.0, 2.0, 3.0]
    got = S.reduction_pairs(
        g, ["architecture"], scope="x", min_n=4, energy="median_energy_per_image_j", f1="median_f1", analysis="a"
    )
    few = "median of n < 4 runs"
    want = pd.DataFrame(
        [
            _pair("vgg", "alex", (3, 4), (4.0, 2.0), (0.8, 0.6), 0.5, 0.25, "insufficient", few, "a", "x"),
            _pair("vgg", "res", (3, 3), (4.0, 3.0), (0.8, 0.9), 0.25, -0.125, "insufficient", few, "a", "x"),
            _pair("res", "alex", (3, 4), (3.0, 2.0), (0.9, 0.6), 1 / 3, 1 / 3, "insufficient", few, "a", "x"),
        ],
        columns=REDUCTION,
    )
    want["from"] = want["from"].str.removeprefix("cloud / ")
    want["to"] = want["to"].str.removeprefix("cloud / ")
    frame_equal(got, want)
    got = S.reduction_pairs(g.iloc[[1, 2]], ["architecture"], scope="x", min_n=3)  # n = 4 and 3 = min_n
    assert got[["from", "to", "status", "note"]].values.tolist() == [["res", "alex", "ok", ""]]


# ----------------------------------------------------------------------------- reduction_cis


def _runs() -> pd.DataFrame:
    # big: 5 runs, small: 5 runs, one: a single run; a text cell ("n/a") is missing and left out
    e = {"big": [4.0, 5.0, 6.0, "n/a", 4.5], "small": [2.0, 2.6, "n/a", 3.1, 2.2], "one": [1.0]}
    f1 = {"big": [0.8, 0.9, 0.85, 0.7, 0.75], "small": [0.6, 0.65, 0.7, 0.62, 0.68], "one": [0.5]}
    rows = [(k, v, f) for k in e for v, f in zip(e[k], f1[k])]
    return pd.DataFrame(rows, columns=["architecture", "energy_per_image_j", "f1"], dtype=object)


def _cis_pairs() -> pd.DataFrame:
    rows = [  # from, to, reduction, f1_decrease (values as reduction_pairs would give them; any finite will do)
        ("big", "ghost", 0.5, 0.1),  # no runs of "ghost": no interval
        ("big", "small", 0.5, 0.2),
        ("big", "one", 0.8, 0.4),  # one run: no interval, a note for each
        ("small", "one", 0.6, NA),  # no F1 decrease: no note for it
    ]
    p = pd.DataFrame([dict(zip(["from", "to", "reduction", "f1_decrease"], r)) for r in rows], columns=REDUCTION)
    p["analysis"], p["scope"], p["status"], p["note"], p["ci_note"] = "reductions", "s", "ok", "", ""
    return p


def test_reduction_cis_are_scipys_two_sample_bca_intervals_with_notes():
    pairs = _cis_pairs()
    got = S.reduction_cis(pairs, _runs(), ["architecture"], BootstrapConfig(n_resamples=199, seed=3))
    want = pairs.copy()
    big_e, small_e = [4.0, 5.0, 6.0, 4.5], [2.0, 2.6, 3.1, 2.2]
    big_f, small_f = [0.8, 0.9, 0.85, 0.7, 0.75], [0.6, 0.65, 0.7, 0.62, 0.68]
    lo, hi = scipy_ci(big_e, small_e, statistic=_reduction, seed=3)
    want.loc[1, ["reduction_ci_low", "reduction_ci_high"]] = lo, hi
    lo, hi = scipy_ci(big_f, small_f, statistic=_reduction, seed=3)
    want.loc[1, ["f1_decrease_ci_low", "f1_decrease_ci_high"]] = lo, hi
    want.loc[2, "ci_note"] = f"reduction: n/a ({FEW1}); f1_decrease: n/a ({FEW1})"
    want.loc[3, "ci_note"] = f"reduction: n/a ({FEW1})"
    frame_equal(got, want)
    # the input is not changed; without a bootstrap the pairs come back as they are
    frame_equal(pairs, _cis_pairs())
    frame_equal(S.reduction_cis(pairs, _runs(), ["architecture"], None), _cis_pairs())


def test_reduction_cis_cache_reuses_the_intervals_of_the_same_runs():
    pairs, runs = _cis_pairs().iloc[[1]], _runs()
    cache: dict = {}
    first = S.reduction_cis(pairs, runs, ["architecture"], BootstrapConfig(n_resamples=199, seed=3), cache=cache)
    # another seed with the same cache: the same runs' intervals are taken from the cache
    again = S.reduction_cis(pairs, runs, ["architecture"], BootstrapConfig(n_resamples=199, seed=4), cache=cache)
    frame_equal(again, first)
    fresh = S.reduction_cis(pairs, runs, ["architecture"], BootstrapConfig(n_resamples=199, seed=4))
    lo, hi = scipy_ci([4.0, 5.0, 6.0, 4.5], [2.0, 2.6, 3.1, 2.2], statistic=_reduction, seed=4)
    assert fresh.loc[1, ["reduction_ci_low", "reduction_ci_high"]].tolist() == pytest.approx([lo, hi], rel=1e-12)
    assert fresh.loc[1, "reduction_ci_low"] != first.loc[1, "reduction_ci_low"]
    # no pairs: nothing to do
    empty = _cis_pairs().iloc[0:0]
    frame_equal(S.reduction_cis(empty, runs, ["architecture"], BootstrapConfig(n_resamples=199)), empty)


# ----------------------------------------------------------------------------- reduction_summary


def _summary_pairs() -> pd.DataFrame:
    cols = ["scope", "from", "to", "reduction", "reduction_ci_low", "reduction_ci_high"]
    cols += ["f1_decrease", "f1_decrease_ci_low", "f1_decrease_ci_high", "status", "ci_note"]
    rows = [
        ("s", "vgg", "alex", 0.5, 0.4, 0.6, 0.25, 0.1, 0.3, "ok", ""),
        ("s", "vgg", "res", 0.6, 0.5, 0.7, -0.1, -0.2, 0.0, "ok", "f1_decrease: percentile (why)"),
        ("s", "vgg", "mob", 0.75, 0.7, 0.8, 0.3, 0.2, 0.4, "insufficient", ""),  # too few runs: left out
        ("s", "alex", "res", 0.2, 0.1, 0.3, NA, NA, NA, "ok", "c4"),
        ("other", "vgg", "alex", 0.9, 0.8, 0.95, 0.5, 0.4, 0.6, "ok", ""),  # another scope: left out
    ]
    p = pd.DataFrame(rows, columns=cols)
    p["analysis"], p["n_from"], p["n_to"], p["note"] = "reductions", 3, 3, ""
    return p.reindex(columns=REDUCTION)


def _stat(statistic, pair_row, analysis="reductions", scope="s"):
    p = _summary_pairs().iloc[pair_row]
    return {"analysis": analysis, "scope": scope, "statistic": statistic, "status": "ok", "note": ""} | {
        c: p[c] for c in SUMMARY if c not in ("analysis", "scope", "statistic", "status", "note")
    }


def test_reduction_summary_from_the_reference_and_pairwise():
    got = S.reduction_summary(_summary_pairs(), "s", "vgg")
    want = [
        _stat("min reduction from vgg", 0),  # vgg -> alex 0.5 (vgg -> mob 0.75 has too few runs)
        _stat("max reduction from vgg", 1),  # vgg -> res 0.6
        _stat("min F1 decrease from vgg", 1),  # -0.1
        _stat("max F1 decrease from vgg", 0),  # 0.25
        _stat("min pairwise reduction", 3),  # alex -> res 0.2: not from vgg, so the pairwise rows too
        _stat("max pairwise reduction (best combination)", 1),
    ]
    frame_equal(got, pd.DataFrame(want, columns=SUMMARY))
    # no reference: only the pairwise rows; the analysis as given
    got = S.reduction_summary(_summary_pairs(), "s", analysis="a")
    want = [_stat("min pairwise reduction", 3, "a"), _stat("max pairwise reduction (best combination)", 1, "a")]
    frame_equal(got, pd.DataFrame(want, columns=SUMMARY))
    # a reference no pair starts from: the pairwise rows only
    want = pd.DataFrame(want, columns=SUMMARY).assign(analysis="reductions")
    frame_equal(S.reduction_summary(_summary_pairs(), "s", "mob"), want)


def test_reduction_summary_every_pair_from_the_reference_needs_no_pairwise_rows():
    p = _summary_pairs().drop(index=3)  # every ok pair of scope s starts at vgg
    got = S.reduction_summary(p, "s", "vgg")
    want = [
        _stat("min reduction from vgg", 0),
        _stat("max reduction from vgg", 1),
        _stat("min F1 decrease from vgg", 1),
        _stat("max F1 decrease from vgg", 0),
    ]
    frame_equal(got, pd.DataFrame(want, columns=SUMMARY))
    # a reference whose pairs have no F1 decrease: the reduction rows only
    p = _summary_pairs().iloc[[3]]
    want = [_stat("min reduction from alex", 3), _stat("max reduction from alex", 3)]
    frame_equal(S.reduction_summary(p, "s", "alex"), pd.DataFrame(want, columns=SUMMARY))


def test_reduction_summary_without_enough_pairs_is_one_insufficient_row():
    note = "fewer than 2 groups with n >= 3 runs: no reduction to report"
    for p, scope in [(_summary_pairs().iloc[[2, 4]], "s"), (_summary_pairs(), "none")]:
        got = S.reduction_summary(p, scope, "vgg")
        want = one_row(SUMMARY, analysis="reductions", scope=scope, statistic="", status="insufficient", note=note)
        frame_equal(got, want)
    got = S.reduction_summary(_summary_pairs().iloc[0:0], "s", analysis="a")
    want = one_row(SUMMARY, analysis="a", scope="s", statistic="", status="insufficient", note=note)
    frame_equal(got, want)
    # the note names the group size the pairs were built with (config: stats.min_group_size)
    got = S.reduction_summary(_summary_pairs().iloc[0:0], "s", analysis="a", min_n=5)
    note5 = "fewer than 2 groups with n >= 5 runs: no reduction to report"
    frame_equal(got, one_row(SUMMARY, analysis="a", scope="s", statistic="", status="insufficient", note=note5))


# ----------------------------------------------------------------------------- tradeoff_tables

LN = "local_normal_user"
B1 = "architecture not in ['inception_v3']"
CFG = dict(min_group_size=2, bootstrap={"n_resamples": 0})


def _tradeoff_runs() -> pd.DataFrame:
    """Two runs a group (energy per image E - 1 and E + 1, F1 f twice), one run of cloud/alexnet, one
    Inception V3 run (block 2, left out).  GFLOPs: mobilenet_v2 0.3 < alexnet 0.7 < vgg16 15.5, so the
    architecture order is not the alphabetical one; local_normal_user comes before cloud (paper order)."""
    groups = [  # environment, architecture, GFLOPs, median energy per image E, F1, runs
        (LN, "mobilenet_v2", 0.3, 1.0, 0.6, 2),
        ("cloud", "mobilenet_v2", 0.3, 2.0, 0.7, 2),
        ("cloud", "vgg16", 15.5, 5.0, 0.9, 2),
        ("cloud", "alexnet", 0.7, 8.0, 0.8, 1),  # the greediest in cloud, but too few runs
        ("cloud", "inception_v3", 5.7, 100.0, 0.1, 1),
    ]
    rows = []
    for env, arch, gf, e, f1, n in groups:
        for d in [-1.0, 1.0] if n == 2 else [0.0]:
            rows.append(dict(environment=env, architecture=arch, gflops=gf, energy_per_image_j=e + d, f1=f1))
    return pd.DataFrame(rows)


def _red(scope, frm, to, n, e, f1, red, dec):
    status, note = ("ok", "") if min(n) >= 2 else ("insufficient", "median of n < 2 runs")
    return dict(zip(REDUCTION, ["reductions", scope, frm, to, *n, *e, red, NA, NA, *f1, dec, NA, NA, status, note, ""]))


def test_tradeoff_tables_groups_pairs_and_summaries_by_hand():
    got = S.tradeoff_tables(_tradeoff_runs(), S.StatsConfig(**CFG))
    assert list(got) == ["tradeoff", "reductions", "reductions_summary"]
    t = got["tradeoff"]
    assert list(t.columns) == TRADEOFF
    # local_normal_user first, then cloud; architectures by GFLOPs; min_group_size 2
    assert t[["subset", "environment", "architecture", "n", "status"]].values.tolist() == [
        [B1, LN, "mobilenet_v2", 2, "ok"],
        [B1, "cloud", "mobilenet_v2", 2, "ok"],
        [B1, "cloud", "alexnet", 1, "insufficient"],
        [B1, "cloud", "vgg16", 2, "ok"],
    ]
    assert t["median_energy_per_image_j"].tolist() == [1.0, 2.0, 8.0, 5.0]
    s1, s2, s3 = "architectures in cloud", "environments for mobilenet_v2", "all environment x architecture"
    c = "cloud / "
    want = [
        _red(s1, "alexnet", "mobilenet_v2", (1, 2), (8.0, 2.0), (0.8, 0.7), 0.75, 0.125),
        _red(s1, "alexnet", "vgg16", (1, 2), (8.0, 5.0), (0.8, 0.9), 0.375, -0.125),
        _red(s1, "vgg16", "mobilenet_v2", (2, 2), (5.0, 2.0), (0.9, 0.7), 0.6, 2 / 9),
        _red(s2, "cloud", LN, (2, 2), (2.0, 1.0), (0.7, 0.6), 0.5, 1 / 7),
        _red(s3, c + "mobilenet_v2", f"{LN} / mobilenet_v2", (2, 2), (2.0, 1.0), (0.7, 0.6), 0.5, 1 / 7),
        _red(s3, c + "alexnet", f"{LN} / mobilenet_v2", (1, 2), (8.0, 1.0), (0.8, 0.6), 0.875, 0.25),
        _red(s3, c + "alexnet", c + "mobilenet_v2", (1, 2), (8.0, 2.0), (0.8, 0.7), 0.75, 0.125),
        _red(s3, c + "alexnet", c + "vgg16", (1, 2), (8.0, 5.0), (0.8, 0.9), 0.375, -0.125),
        _red(s3, c + "vgg16", f"{LN} / mobilenet_v2", (2, 2), (5.0, 1.0), (0.9, 0.6), 0.8, 1 / 3),
        _red(s3, c + "vgg16", c + "mobilenet_v2", (2, 2), (5.0, 2.0), (0.9, 0.7), 0.6, 2 / 9),
    ]
    frame_equal(got["reductions"], pd.DataFrame(want, columns=REDUCTION))

    def stat(statistic, i):
        return {"statistic": statistic, **{k: v for k, v in want[i].items() if k in SUMMARY and k != "note"}}

    summary = [  # the reference of cloud: vgg16, the greediest with enough runs (alexnet has one run)
        stat("min reduction from vgg16", 2),
        stat("max reduction from vgg16", 2),
        stat("min F1 decrease from vgg16", 2),
        stat("max F1 decrease from vgg16", 2),
        stat("min reduction from cloud", 3),
        stat("max reduction from cloud", 3),
        stat("min F1 decrease from cloud", 3),
        stat("max F1 decrease from cloud", 3),
        stat("min pairwise reduction", 4),
        stat("max pairwise reduction (best combination)", 8),
    ]
    frame_equal(got["reductions_summary"], pd.DataFrame(summary, columns=SUMMARY).assign(note=""))


def test_tradeoff_tables_without_block1_runs_are_skipped_tables():
    runs = _tradeoff_runs()
    runs = runs[runs["architecture"] == "inception_v3"]
    got = S.tradeoff_tables(runs, S.StatsConfig(**CFG))
    note = f"skipped: no runs with {B1}"
    want = {
        "tradeoff": one_row(TRADEOFF, analysis="tradeoff", subset=B1, status="skipped", note=note),
        "reductions": one_row(REDUCTION, analysis="reductions", status="skipped", note=note),
        "reductions_summary": one_row(SUMMARY, analysis="reductions", status="skipped", note=note),
    }
    assert list(got) == list(want)
    for k in want:
        frame_equal(got[k], want[k])


# ----------------------------------------------------------------------------- rq1_tables

RQ1 = "environment == 'cloud'; architecture not in ['inception_v3']"


def _rq1_runs() -> pd.DataFrame:
    # cloud: mobilenet_v2 (0.3 GFLOPs) and alexnet (0.7) 4 runs each, vgg16 (15.5) 3 runs; one local run
    g = {  # GFLOPs, energy per image, mean GPU power
        "vgg16": (15.5, [9.0, 11.0, 10.0], [6.0, 4.0, 5.0]),
        "alexnet": (0.7, [3.0, 1.0, 2.0, 4.0], [3.0, 6.0, 2.0, 5.0]),
        "mobilenet_v2": (0.3, [5.0, 6.0, 8.0, 7.0], [1.0, 4.0, 2.0, 3.0]),
    }
    rows = [
        dict(
            environment="cloud", architecture=a, gflops=gf, energy_per_image_j=v, gpu_usage_pct=10 + v, f1=0.5 + v / 100
        )
        | dict(mean_gpu_power_w=w)
        for a, (gf, e, pw) in g.items()
        for v, w in zip(e, pw)
    ]
    rows.append(dict(environment=LN, architecture="vgg16", gflops=15.5, energy_per_image_j=1.0, f1=0.1))
    return pd.DataFrame(rows)


def test_rq1_tables_use_the_config_the_order_and_the_names():
    cfg = S.StatsConfig(min_group_size=4, alpha=0.01, bootstrap={"n_resamples": 0})
    got = S.rq1_tables(_rq1_runs(), cfg)
    assert list(got) == ["table3_normality_rq1", "kruskal_dunn_rq1", "kruskal_dunn_rq1_dunn", "table6_spearman_flops"]
    names = ["table3_normality_rq1", "kruskal_dunn_rq1", "kruskal_dunn_rq1", "table6_spearman_flops"]
    for (key, t), cols, name in zip(got.items(), [NORMALITY, KRUSKAL, PAIRS, SPEARMAN], names):
        assert list(t.columns) == cols, key
        assert set(t["analysis"]) == {name} and set(t["subset"]) == {RQ1}, key
    t3, kt, pairs, t6 = got.values()
    # architectures by GFLOPs (not by name); vgg16's 3 runs are below min_group_size 4: out of Levene
    assert t3["group"].tolist() == ["mobilenet_v2", "alexnet", "vgg16"] * 3
    assert t3["levene_k"].tolist() == [2] * 9
    assert kt["variable"].tolist() == ["energy_per_image_j", "gpu_usage_pct", "time_per_image_ms", "f1"]
    assert kt["k"].tolist() == [2, 2, 0, 2] and kt["n"].tolist() == [8, 8, 0, 8]
    assert kt["alpha"].tolist() == [0.01] * 4
    assert pairs[["group_a", "group_b"]].values.tolist() == [["mobilenet_v2", "alexnet"]] * 3
    # Spearman one-sided on the 11 cloud runs: the power's p is between 0.01 (the configured alpha) and 0.05
    x = _rq1_runs().iloc[:11]
    for i, y in enumerate(["energy_per_image_j", "gpu_usage_pct", "mean_gpu_power_w"]):
        p = ss.spearmanr(x["gflops"], x[y], alternative="greater").pvalue
        assert t6.loc[i, "p_value"] == pytest.approx(p, rel=1e-9)
        assert t6.loc[i, "significant"] == bool(p < 0.01)
    assert 0.01 < t6.loc[2, "p_value"] < 0.05


def test_rq1_tables_without_runs_of_the_environment_are_skipped_tables():
    runs = _rq1_runs()
    got = S.rq1_tables(runs[runs["environment"] == LN], S.StatsConfig(bootstrap={"n_resamples": 0}))
    note = f"skipped: no runs with {RQ1} (values present: environment: {LN})"
    want = {
        "table3_normality_rq1": one_row(NORMALITY, analysis="table3_normality_rq1", subset=RQ1),
        "kruskal_dunn_rq1": one_row(KRUSKAL, analysis="kruskal_dunn_rq1", subset=RQ1),
        "kruskal_dunn_rq1_dunn": one_row(PAIRS, analysis="kruskal_dunn_rq1", subset=RQ1),
        "table6_spearman_flops": one_row(SPEARMAN, analysis="table6_spearman_flops", subset=RQ1),
    }
    assert list(got) == list(want)
    for k, w in want.items():
        frame_equal(got[k], w.assign(status="skipped", note=note))


def test_reduction_summary_of_pairs_with_only_the_reductions():
    # a pairs table without F1 columns and CI notes: those cells are missing (NaN) and the notes empty
    p = pd.DataFrame({"scope": "s", "from": ["a", "b"], "to": ["b", "c"], "reduction": [0.5, 0.25], "status": "ok"})
    got = S.reduction_summary(p, "s")
    assert list(got.columns) == SUMMARY
    assert got[["statistic", "from", "to", "reduction", "ci_note"]].values.tolist() == [
        ["min pairwise reduction", "b", "c", 0.25, ""],
        ["max pairwise reduction (best combination)", "a", "b", 0.5, ""],
    ]
    rest = got[[c for c in SUMMARY[6:] if c not in ("status", "note", "ci_note")]]
    assert rest.dtypes.tolist() == [np.float64] * 5 and rest.isna().all().all()
