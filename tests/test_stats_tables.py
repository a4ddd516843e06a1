"""The statistics-table builders of dlenergy.stats, whole tables compared on small hand-made runs tables.

``normality_table``, ``kruskal_table``, ``spearman_table`` (and ``spearman_one_sided``,
``correlation_strength``, ``shapiro``, ``ci_note``, the order helpers): every column, in order, and every
value, with the defaults left out and the boundaries (alpha exactly at p, groups at ``min_n``, constant
groups, missing columns).  Expected values are worked out by hand (Kruskal-Wallis and Dunn on fully
separated groups, Spearman's t approximation, Levene as the one-way ANOVA of the absolute deviations
from the group medians) or recomputed with scipy's Shapiro-Wilk.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss
from stats_columns import KRUSKAL, NORMALITY, PAIRS, SPEARMAN

from dlenergy import stats as S
from dlenergy.uncertainty import BootstrapConfig, Interval

NAN = np.nan
INS = "insufficient"


def _same(got: pd.DataFrame, rows: list[list], columns: list[str]):
    """``got`` is exactly the table of ``rows`` (floats to 1e-9, everything else equal, index 0..n-1)."""
    assert list(got.columns) == columns
    assert list(got.index) == list(range(len(rows)))
    assert len(got) == len(rows)
    for i, row in enumerate(rows):
        for c, want in zip(columns, row):
            have = got[c].iloc[i]
            where = (i, c, have, want)
            if want is None:
                assert have is None, where
            elif isinstance(want, bool):
                assert isinstance(have, (bool, np.bool_)) and bool(have) is want, where
            elif isinstance(want, int):  # a count (a float column where other rows are NaN)
                assert isinstance(have, (int, np.integer, float)) and not isinstance(have, bool), where
                assert have == want, where
            elif isinstance(want, float) and math.isnan(want):
                assert isinstance(have, float) and math.isnan(have), where
            elif isinstance(want, float):
                assert isinstance(have, float) and have == pytest.approx(want, rel=1e-9, abs=1e-12), where
            else:
                assert isinstance(have, str) and have == want, where


# ----------------------------------------------------------------------------------------------
# the order helpers, correlation_strength, shapiro, ci_note


def test_architecture_order_by_median_gflops_then_name():
    df = pd.DataFrame(
        {
            "architecture": ["zeta", "zeta", "alpha", "mid", "beta", None, "alpha"],
            "gflops": [1.0, 3.0, 5.0, np.nan, np.nan, 0.5, 5.0],
        }
    )
    # zeta (median 2) < alpha (5) < beta, mid (no GFLOPs: last, by name); the run without a name is dropped
    assert S.architecture_order(df) == ["zeta", "alpha", "beta", "mid"]
    assert S.architecture_order(df.drop(columns="gflops")) == ["alpha", "beta", "mid", "zeta"]
    assert S.architecture_order(df.iloc[0:0]) == []
    assert S.architecture_order(pd.DataFrame({"gflops": [1.0, 2.0]})) == []


def test_environment_order_paper_order_first_then_names():
    df = pd.DataFrame({"environment": ["zz", "cloud", "aa", "local_normal_user", None, "cloud"]})
    assert S.environment_order(df) == ["local_normal_user", "cloud", "aa", "zz"]
    assert S.environment_order(pd.DataFrame({"x": [1.0]})) == []


@pytest.mark.parametrize(
    "rho, name",
    [
        (NAN, ""),
        (np.inf, ""),
        (1.0, "very strong"),
        (0.9, "very strong"),
        (-0.9, "very strong"),
        (0.8999, "strong"),
        (0.7, "strong"),
        (-0.6999, "moderate"),
        (0.4, "moderate"),
        (0.3999, "weak"),
        (0.2, "weak"),
        (-0.2, "weak"),
        (0.1999, "very weak"),
        (0.0, "very weak"),
    ],
)
def test_correlation_strength_at_each_boundary(rho, name):
    assert S.correlation_strength(rho) == name


def test_shapiro_drops_missing_values_and_says_why_it_cannot_run():
    w, p, note = S.shapiro([1.0, None, 2.0, 4.0, 7.0, np.inf])
    want = ss.shapiro([1.0, 2.0, 4.0, 7.0])
    assert (w, p, note) == (pytest.approx(want.statistic), pytest.approx(want.pvalue), "")
    w, p, note = S.shapiro([2.0, 2.0, 2.0])
    assert math.isnan(w) and math.isnan(p) and note == "all values equal: Shapiro-Wilk undefined"
    w, p, note = S.shapiro([1.0, 2.0, None])
    assert math.isnan(w) and math.isnan(p) and note == "n=2 < 3: too few runs for Shapiro-Wilk"


def test_ci_note_joins_the_intervals_with_a_note():
    a = Interval(0.0, 1.0, "percentile", "BCa undefined")
    b = Interval(0.0, 1.0, "BCa", "")
    c = Interval(1.0, 1.0, "degenerate", "same value")
    assert S.ci_note(a=a, b=b, c=c) == "a: percentile (BCa undefined); c: degenerate (same value)"
    assert S.ci_note(b=b) == ""


# ----------------------------------------------------------------------------------------------
# spearman_one_sided and spearman_table

X5 = [1.0, 2.0, 3.0, 4.0, 5.0]
Y_UP = [2.0, 1.0, 4.0, 3.0, 5.0]  # Σd² = 4: ρ = 1 − 6·4 / (5·24) = 0.8
Y_DOWN = [4.0, 5.0, 2.0, 3.0, 1.0]  # Σd² = 36: ρ = 1 − 6·36 / 120 = −0.8


def _p_greater(rho: float, n: int) -> float:
    """One-sided p of Spearman's ρ (greater) by the t approximation t = ρ √((n − 2) / (1 − ρ²))."""
    return float(ss.t.sf(rho * math.sqrt((n - 2) / (1 - rho * rho)), n - 2))


def _one(n, rho, p, status, note, alternative="greater", lo=NAN, hi=NAN, ci_note=""):
    return {
        "n": n,
        "rho": rho,
        "rho_ci_low": lo,
        "rho_ci_high": hi,
        "p_value": p,
        "alternative": alternative,
        "status": status,
        "note": note,
        "ci_note": ci_note,
    }


def _same_dict(got: dict, want: dict):
    assert list(got) == list(want)
    for k, v in want.items():
        if isinstance(v, float) and math.isnan(v):
            assert math.isnan(got[k]), k
        else:
            assert got[k] == (pytest.approx(v, rel=1e-9) if isinstance(v, float) else v), k
            assert type(got[k]) is type(v), k


def test_spearman_one_sided_default_is_greater_on_nullable_integers():
    x = pd.array([1, 2, None, 3, 4, 5], dtype="Int64")
    y = pd.array([2, 1, 7, 4, 3, 5], dtype="Int64")
    _same_dict(S.spearman_one_sided(x, y), _one(5, 0.8, _p_greater(0.8, 5), "ok", ""))
    got = S.spearman_one_sided(X5, Y_UP, "less")
    _same_dict(got, _one(5, 0.8, 1 - _p_greater(0.8, 5), "ok", "", alternative="less"))


def test_spearman_one_sided_constant_or_too_few():
    const = "a variable is constant: Spearman's ρ undefined"
    _same_dict(S.spearman_one_sided([3.0] * 5, Y_UP), _one(5, NAN, NAN, INS, const))
    _same_dict(S.spearman_one_sided(X5, [3.0] * 5), _one(5, NAN, NAN, INS, const))
    few = "n=2 < 3: too few runs for Spearman's ρ"
    _same_dict(S.spearman_one_sided([1.0, 2.0, np.nan], [1.0, 2.0, 3.0]), _one(2, NAN, NAN, INS, few))


def test_spearman_one_sided_ci_note_of_a_degenerate_bootstrap():
    # perfectly monotone pairs: every resample with two distinct x has ρ = 1
    got = S.spearman_one_sided(X5, [10.0, 20.0, 30.0, 40.0, 50.0], boot=BootstrapConfig(n_resamples=99))
    note = "rho: degenerate (every bootstrap resample gives the same value)"
    _same_dict(got, _one(5, 1.0, 0.0, "ok", "", lo=1.0, hi=1.0, ci_note=note))
    got = S.spearman_one_sided(X5, Y_UP, boot=BootstrapConfig(n_resamples=99))
    assert got["ci_note"] == "" and got["rho_ci_low"] < 0.8 <= got["rho_ci_high"] <= 1.0


def test_spearman_table_defaults_whole_table():
    df = pd.DataFrame({"u": X5, "e": Y_UP, "f": Y_DOWN})
    got = S.spearman_table(df, "u", ["e", "f", "missing"])
    p_up, p_down = _p_greater(0.8, 5), _p_greater(-0.8, 5)
    no_col = "the runs table has no column 'missing'"
    rows = [
        ["", "", "", "u", "e", 5, 0.8, NAN, NAN, p_up, "greater", False, "strong", "ok", "", ""],
        ["", "", "", "u", "f", 5, -0.8, NAN, NAN, p_down, "greater", False, "strong", "ok", "", ""],
        ["", "", "", "u", "missing", 0, NAN, NAN, NAN, NAN, "greater", None, "", INS, no_col, NAN],
    ]
    _same(got, rows, SPEARMAN)
    _same(S.spearman_table(df, "u", []), [], SPEARMAN)


def test_spearman_table_by_group_alpha_at_p_and_missing_x():
    df = pd.DataFrame({"env": ["b"] * 5 + ["a"] * 5, "u": X5 + X5, "e": Y_UP + Y_DOWN})
    p = ss.spearmanr(X5, Y_UP, alternative="greater").pvalue  # the boundary: p == alpha is not < alpha
    got = S.spearman_table(df, "u", ["e"], by="env", order=["b"], alpha=p, analysis="A", subset="S")
    rows = [
        ["A", "S", "env = b", "u", "e", 5, 0.8, NAN, NAN, _p_greater(0.8, 5), "greater", False, "strong", "ok", "", ""],
        ["A", "S", "env = a", "u", "e", 5, -0.8, NAN, NAN, _p_greater(-0.8, 5), "greater", False, "strong", "ok", "", ""],
    ]  # fmt: skip
    _same(got, rows, SPEARMAN)
    got = S.spearman_table(df, "u", ["e"], by="env", alpha=0.06)
    assert list(got["by"]) == ["env = a", "env = b"] and list(got["significant"]) == [False, True]
    got = S.spearman_table(df, "nox", ["e"], alternative="less")
    no_col = "the runs table has no column 'nox'"
    rows = [["", "", "", "nox", "e", 0, NAN, NAN, NAN, NAN, "less", None, "", INS, no_col, NAN]]
    _same(got, rows, SPEARMAN)


# ----------------------------------------------------------------------------------------------
# normality_table

A4, B5, C2 = [1.0, 2.0, 4.0, 8.0], [3.0, 3.5, 5.0, 6.0, 9.0], [10.0, 11.0]
SW_FEW = "n=2 < 3: too few runs for Shapiro-Wilk"
SW_EQUAL = "all values equal: Shapiro-Wilk undefined"
LEFT_C = "Levene: left out, n < 3: C (n=2)"
FLAT = "Levene: every run equally far from its group's median: Levene undefined"


def _levene(*groups) -> tuple[float, float]:
    """Median-centred Levene (Brown-Forsythe): one-way ANOVA of |x − median| across the groups."""
    r = ss.f_oneway(*[np.abs(np.asarray(g) - np.median(g)) for g in groups])
    return float(r.statistic), float(r.pvalue)


def _ok_row(var, g, x, lev, k, note, alpha=0.05, analysis="", subset=""):
    sw = ss.shapiro(x)
    w, p = float(sw.statistic), float(sw.pvalue)
    eq = None if math.isnan(lev[1]) else bool(lev[1] > alpha)
    return [analysis, subset, var, "g", g, len(x), w, p, bool(p > alpha), lev[0], lev[1], eq, k, "ok", note]


def _bad_row(var, g, n, lev, k, note, analysis="", subset=""):
    eq = None if math.isnan(lev[1]) else bool(lev[1] > 0.05)
    return [analysis, subset, var, "g", g, n, NAN, NAN, None, lev[0], lev[1], eq, k, INS, note]


def _normality_runs() -> pd.DataFrame:
    nan5 = [NAN] * 5
    cols = {
        "v": A4 + B5 + C2,
        "const": [1.0] * 4 + [2.0] * 5 + [5.0, 6.0],
        "one": A4 + nan5 + C2,
        "flat": [1.0, 1.0, 3.0, 3.0] + [5.0, 5.0, 7.0, 7.0, NAN] + [NAN, NAN],
        "nanv": [NAN] * 11,
    }
    return pd.DataFrame({"g": ["A"] * 4 + ["B"] * 5 + ["C"] * 2, **cols})


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_normality_table_defaults_whole_table():
    got = S.normality_table(_normality_runs(), ["nanv", "v", "const", "one", "flat", "absent"], "g")
    lev = _levene(A4, B5)
    nolev = (NAN, NAN)
    const = f"{LEFT_C}; every group constant: Levene undefined"
    one = f"{LEFT_C}; 1 group(s) with n >= 3: Levene needs at least 2"
    rows = [
        ["", "", "nanv", "g", NAN, 0, NAN, NAN, NAN, NAN, NAN, NAN, NAN, INS, "no finite values of nanv"],
        _ok_row("v", "A", A4, lev, 2, LEFT_C),
        _ok_row("v", "B", B5, lev, 2, LEFT_C),
        _bad_row("v", "C", 2, lev, 2, f"{SW_FEW}; {LEFT_C}"),
        _bad_row("const", "A", 4, nolev, 2, f"{SW_EQUAL}; {const}"),
        _bad_row("const", "B", 5, nolev, 2, f"{SW_EQUAL}; {const}"),
        _bad_row("const", "C", 2, nolev, 2, f"{SW_FEW}; {const}"),
        _ok_row("one", "A", A4, nolev, 1, one),
        _bad_row("one", "C", 2, nolev, 1, f"{SW_FEW}; {one}"),
        # |x − median| is 1 everywhere: Levene's 0/0 is NaN, and the note says why
        _ok_row("flat", "A", [1.0, 1.0, 3.0, 3.0], nolev, 2, FLAT),
        _ok_row("flat", "B", [5.0, 5.0, 7.0, 7.0], nolev, 2, FLAT),
        ["", "", "absent", "g", NAN, 0, NAN, NAN, NAN, NAN, NAN, NAN, NAN, INS, "the runs table has no column 'absent'"],
    ]  # fmt: skip
    assert any(r[8] is True for r in rows) and any(r[11] is True for r in rows)  # alpha 0.05 matters
    _same(got, rows, NORMALITY)


def test_normality_table_alpha_at_p_order_min_n_analysis_subset():
    p_a = float(ss.shapiro(A4).pvalue)
    got = S.normality_table(
        _normality_runs(), ["v"], "g", alpha=p_a, min_n=2, order=["C", "B"], analysis="T", subset="S"
    )
    lev = _levene(C2, B5, A4)
    kw = dict(alpha=p_a, analysis="T", subset="S")
    rows = [
        _bad_row("v", "C", 2, lev, 3, SW_FEW, analysis="T", subset="S"),
        _ok_row("v", "B", B5, lev, 3, "", **kw),
        _ok_row("v", "A", A4, lev, 3, "", **kw),
    ]
    rows[0][11] = bool(lev[1] > p_a)
    assert rows[2][8] is False  # p == alpha is not normal
    _same(got, rows, NORMALITY)


# ----------------------------------------------------------------------------------------------
# kruskal_table

KW = {"A": [1.0, 2.0, 3.0], "B": [4.0, 5.0, 6.0], "C": [7.0, 8.0, 9.0]}
# fully separated: mean ranks 2, 5, 8 of N = 9; H = 12 / (9·10) · 3 · (2² + 5² + 8²) − 3·10 = 7.2,
# p = exp(−7.2 / 2) (χ² with 2 df), η² = (7.2 − 3 + 1) / (9 − 3)
H, P_KW, ETA2 = 7.2, math.exp(-3.6), 5.2 / 6


def _kw_runs() -> pd.DataFrame:
    g = [k for k, v in KW.items() for _ in v]
    v = [x for xs in KW.values() for x in xs]
    return pd.DataFrame({"g": g, "v": v, "w": [10 * x for x in v]})


def _dunn_rows(var, scale, analysis="", subset="", alpha=0.05):
    se = math.sqrt(9 * 10 / 12 * (1 / 3 + 1 / 3))  # no ties
    z = {("A", "B"): -3 / se, ("A", "C"): -6 / se, ("B", "C"): -3 / se}
    raw = {k: 2 * float(ss.norm.sf(abs(v))) for k, v in z.items()}
    # Holm: the smallest (A–C) times 3, the two equal ones times 2 (monotone: at least the one before)
    adj = {("A", "C"): 3 * raw["A", "C"]}
    adj["A", "B"] = adj["B", "C"] = max(adj["A", "C"], 2 * raw["A", "B"])
    med = {k: float(np.median(v)) * scale for k, v in KW.items()}
    return [
        [analysis, subset, var, "g", a, b, 3, 3, med[a], med[b], z[a, b], raw[a, b], adj[a, b], "holm",
         bool(adj[a, b] < alpha), -1.0, NAN, NAN, "ok", "", ""]
        for a, b in z
    ]  # fmt: skip


def test_kruskal_table_defaults_whole_tables():
    summary, pairs, results = S.kruskal_table(_kw_runs(), ["v", "w"], "g")
    nd = "A – B; B – C"
    rows = [["", "", var, "g", 9, 3, H, P_KW, ETA2, True, "holm", 0.05, "A, B, C", nd, "ok", ""] for var in ("v", "w")]
    _same(summary, rows, KRUSKAL)
    _same(pairs, _dunn_rows("v", 1) + _dunn_rows("w", 10), PAIRS)
    assert list(results) == ["v", "w"]
    r = results["w"]
    assert (r.value, r.group, r.n, r.k, r.groups, r.p_adjust, r.alpha) == (
        "w",
        "g",
        9,
        3,
        ["A", "B", "C"],
        "holm",
        0.05,
    )
    assert (r.H, r.p, r.eta2) == (pytest.approx(H), pytest.approx(P_KW), pytest.approx(ETA2))


def test_kruskal_table_alpha_exactly_at_p_and_no_variables():
    p = float(ss.kruskal(*KW.values()).pvalue)
    summary, pairs, _ = S.kruskal_table(_kw_runs(), ["v"], "g", alpha=p, analysis="T", subset="S")
    nd = "A – B; A – C; B – C" if 3 * 2 * float(ss.norm.sf(6 / math.sqrt(5))) >= p else "A – B; B – C"
    _same(summary, [["T", "S", "v", "g", 9, 3, H, P_KW, ETA2, False, "holm", p, "A, B, C", nd, "ok", ""]], KRUSKAL)
    _same(pairs, _dunn_rows("v", 1, "T", "S", alpha=p), PAIRS)
    summary, pairs, results = S.kruskal_table(_kw_runs(), [], "g")
    _same(summary, [], KRUSKAL)
    _same(pairs, [], PAIRS)
    assert results == {}


def test_spearman_one_sided_of_a_boolean_variable():
    # x as 1/0: ranks 4, 1.5, 4, 1.5, 4 (mean 3) against 1..5: Σ dx·dy = −2 + 1.5 + 0 − 1.5 + 2 = 0, so ρ = 0
    # and the one-sided p of t = 0 is 1/2
    flag = [True, False, True, False, True]
    _same_dict(S.spearman_one_sided(flag, X5), _one(5, 0.0, 0.5, "ok", ""))
    _same_dict(S.spearman_one_sided(X5, flag), _one(5, 0.0, 0.5, "ok", ""))


def test_normality_table_of_a_variable_without_values_alone():
    got = S.normality_table(_normality_runs(), ["nanv"], "g", analysis="T", subset="S")
    rows = [["T", "S", "nanv", "g", None, 0, NAN, NAN, NAN, NAN, NAN, NAN, NAN, INS, "no finite values of nanv"]]
    _same(got, rows, NORMALITY)
