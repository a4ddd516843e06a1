"""Effect sizes and Dunn's test of dlenergy.stats on small hand-made samples.

``eta_squared_h``, ``cliffs_delta``, ``dunn_z`` and the :class:`KruskalDunn` result of ``kruskal_dunn``
(its adjusted-p matrix, the significance at exactly ``alpha``, the default adjustment, the fields of an
insufficient result).  References: values worked out by hand (pair counts for Cliff's δ, ranks for
Kruskal-Wallis and Dunn), Dunn's z with the tie correction written through ``scipy.stats.tiecorrect``
(C·n(n+1)/12 instead of n(n+1)/12 − Σ(t³ − t)/(12(n − 1))), and scikit-posthocs' ``posthoc_dunn``.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs as sp
from scipy import stats as ss
from stats_columns import PAIRS

from dlenergy import stats as S

PAIR_COLUMNS = [c for c in PAIRS if c not in ("analysis", "subset")]


def _frame(groups: dict) -> pd.DataFrame:
    return pd.DataFrame({"g": [g for g, v in groups.items() for _ in v], "v": [x for v in groups.values() for x in v]})


# ------------------------------------------------------------------------------------------------
# η² of Kruskal-Wallis


def test_eta_squared_h_by_hand_and_undefined_without_degrees_of_freedom():
    assert S.eta_squared_h(10.0, 3, 13) == pytest.approx((10 - 3 + 1) / (13 - 3))  # 0.8
    assert S.eta_squared_h(1.0, 2, 3) == pytest.approx(0.0)
    # n = k (one run per group) and n < k: no degrees of freedom left, NaN rather than a division by 0
    assert np.isnan(S.eta_squared_h(2.0, 3, 3))
    assert np.isnan(S.eta_squared_h(2.0, 3, 2))


def test_kruskal_dunn_one_run_per_group_has_no_eta2():
    # min_n = 1, values 1, 2, 3 alone: ranks 1, 2, 3, H = 12/(3·4)·(1 + 4 + 9) − 3·4 = 2; n = k = 3
    r = S.kruskal_dunn(_frame({"a": [1.0], "b": [2.0], "c": [3.0]}), "v", "g", min_n=1)
    assert r.status == "ok" and (r.n, r.k) == (3, 3)
    assert r.H == pytest.approx(2.0)
    assert isinstance(r.eta2, float) and np.isnan(r.eta2)


# ------------------------------------------------------------------------------------------------
# Cliff's δ = (#(a > b) − #(a < b)) / (n_a n_b)


def test_cliffs_delta_counts_pairs():
    # a = 3, 4, 6 against b = 2, 5: greater 3>2, 4>2, 6>2, 6>5 (4), less 3<5, 4<5 (2): δ = 2/6
    assert S.cliffs_delta([3.0, 4.0, 6.0], [2.0, 5.0]) == pytest.approx(1 / 3)
    assert S.cliffs_delta([2.0, 5.0], [3.0, 4.0, 6.0]) == pytest.approx(-1 / 3)
    # ties count for neither: a = 1, 2, 2 against b = 2, 3: greater 0, less 1<2, 1<3, 2<3, 2<3 (4): −4/6
    assert S.cliffs_delta([1.0, 2.0, 2.0], [2.0, 3.0]) == pytest.approx(-2 / 3)


def test_cliffs_delta_with_a_single_value_on_either_side():
    # a = 5 against b = 1, 2: both greater, δ = 1; a = 1, 3, 4 against b = 2: greater 2, less 1, δ = 1/3
    assert S.cliffs_delta([5.0], [1.0, 2.0]) == pytest.approx(1.0)
    assert S.cliffs_delta([1.0, 3.0, 4.0], [2.0]) == pytest.approx(1 / 3)
    assert S.cliffs_delta([2.0], [1.0, 3.0, 4.0]) == pytest.approx(-1 / 3)
    assert S.cliffs_delta([7.0], [7.0]) == pytest.approx(0.0)


def test_cliffs_delta_of_an_empty_sample_is_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(S.cliffs_delta([], [1.0, 2.0]))
        assert np.isnan(S.cliffs_delta([1.0, 2.0], []))
        assert np.isnan(S.cliffs_delta([], []))


def test_cliffs_delta_of_object_dtype_numbers():
    # numbers held as objects (a column read with mixed types) are taken as floats on either side
    a = np.array([3, 4, 6], dtype=object)
    b = pd.Series([2.0, 5.0], dtype=object)
    assert S.cliffs_delta(a, [2.0, 5.0]) == pytest.approx(1 / 3)
    assert S.cliffs_delta([3.0, 4.0, 6.0], b) == pytest.approx(1 / 3)
    assert S.cliffs_delta(b, a) == pytest.approx(-1 / 3)


# ------------------------------------------------------------------------------------------------
# Dunn's z


def _dunn_z_reference(data: dict) -> dict:
    """Signed z of every pair, tie correction through scipy's tiecorrect: se² = C·n(n+1)/12·(1/n_i + 1/n_j)."""
    names = list(data)
    ranks = ss.rankdata(np.concatenate([data[g] for g in names]))
    n = len(ranks)
    c = ss.tiecorrect(ranks)
    out, start = {}, 0
    mean = {}
    for g in names:
        mean[g] = ranks[start : start + len(data[g])].mean()
        start += len(data[g])
    for a, b in itertools.combinations(names, 2):
        se = math.sqrt(c * n * (n + 1) / 12.0 * (1 / len(data[a]) + 1 / len(data[b])))
        out[a, b] = (mean[a] - mean[b]) / se
    return out


TIED = {
    "A": np.array([1.0, 1.0, 2.0, 2.0]),
    "B": np.array([2.0, 3.0, 3.0]),
    "C": np.array([3.0, 4.0, 4.0, 4.0, 5.0]),
}


def test_dunn_z_with_ties_against_tiecorrect_and_scikit_posthocs():
    got = S.dunn_z(TIED)
    assert list(got.columns) == ["group_a", "group_b", "dunn_z"]
    assert list(zip(got.group_a, got.group_b)) == [("A", "B"), ("A", "C"), ("B", "C")]
    want = _dunn_z_reference(TIED)
    assert list(got.dunn_z) == pytest.approx([want[k] for k in want], rel=1e-12)
    # the tie correction matters here: ties of 2, 3, 3, 3 among n = 12, C = 1 − (6 + 3·24)/(12³ − 12);
    # each |z| is 1/sqrt(C) times the uncorrected one
    c = ss.tiecorrect(ss.rankdata(np.concatenate(list(TIED.values()))))
    assert c == pytest.approx(1 - 78 / 1716)
    # a ranked below b gives a negative z; two-sided p of |z| is scikit-posthocs' unadjusted p
    assert (got.dunn_z < 0).all()
    ref = sp.posthoc_dunn(_frame(TIED), val_col="v", group_col="g", p_adjust=None)
    for r in got.itertuples():
        assert 2 * ss.norm.sf(abs(r.dunn_z)) == pytest.approx(ref.loc[r.group_a, r.group_b], rel=1e-12)


def test_dunn_z_hand_worked_with_one_tie():
    # a = 1, 2, b = 2, 3: ranks 1, 2.5 | 2.5, 4; n = 4, one tie of 2: Σ(t³ − t) = 6, /(12·3) = 1/6
    # se² = (4·5/12 − 1/6)·(1/2 + 1/2) = 3/2; z = (1.75 − 3.25)/sqrt(3/2)
    got = S.dunn_z({"a": np.array([1.0, 2.0]), "b": np.array([2.0, 3.0])})
    assert list(got.dunn_z) == pytest.approx([-1.5 / math.sqrt(1.5)], rel=1e-12)


def test_dunn_z_of_one_group_is_an_empty_table_with_its_columns():
    got = S.dunn_z({"a": np.array([1.0, 2.0, 3.0])})
    assert len(got) == 0 and list(got.columns) == ["group_a", "group_b", "dunn_z"]


# ------------------------------------------------------------------------------------------------
# kruskal_dunn: the result object


def test_kruskal_dunn_matrix_keeps_numeric_group_labels_in_group_order():
    # groups like the allocated RAM sizes (floats): the adjusted-p matrix is indexed by the floats themselves
    groups = {8.0: [5.0, 6.0, 7.5, 9.0], 16.0: [4.0, 4.5, 6.5], 32.0: [1.0, 2.0, 3.0, 3.5]}
    df = pd.DataFrame({"ram": [g for g, v in groups.items() for _ in v], "e": [x for v in groups.values() for x in v]})
    r = S.kruskal_dunn(df, "e", "ram", "holm")
    assert r.groups == [8.0, 16.0, 32.0]
    assert list(r.dunn.index) == [8.0, 16.0, 32.0] and list(r.dunn.columns) == [8.0, 16.0, 32.0]
    assert all(isinstance(x, float) for x in list(r.dunn.index) + list(r.dunn.columns))
    ref = sp.posthoc_dunn(df, val_col="e", group_col="ram", p_adjust="holm").loc[r.groups, r.groups]
    np.testing.assert_allclose(r.dunn.to_numpy(), ref.to_numpy(), rtol=1e-12)
    for p in r.pairs.itertuples():
        assert r.dunn.loc[p.group_a, p.group_b] == pytest.approx(p.p_adjusted, rel=1e-12)


def test_kruskal_dunn_pair_with_p_exactly_alpha_is_not_significant():
    # values = ranks 1..9: a = 1, 5, 6 and b = 2, 3, 7 have the same mean rank 4 (c = 4, 8, 9: 7), so z = 0
    # and p = 2·sf(0) = 1 exactly; at alpha = 1 that pair is not significant (p < alpha), the two others are
    df = _frame({"a": [1.0, 5.0, 6.0], "b": [2.0, 3.0, 7.0], "c": [4.0, 8.0, 9.0]})
    r = S.kruskal_dunn(df, "v", "g", None, alpha=1.0)
    p = r.pairs.set_index(["group_a", "group_b"])
    assert p.loc[("a", "b"), "dunn_z"] == 0.0 and p.loc[("a", "b"), "p_adjusted"] == 1.0
    assert list(r.pairs.significant) == [False, True, True]
    assert r.not_different == [("a", "b")]


def test_kruskal_dunn_default_adjustment_is_holm():
    df = _frame({"a": [1.0, 2.0, 4.0], "b": [3.0, 5.0, 6.0], "c": [7.0, 8.0, 9.0]})
    r = S.kruskal_dunn(df, "v", "g")
    assert r.p_adjust == "holm" and list(r.pairs.p_adjust) == ["holm"] * 3
    # Holm by hand from the unadjusted p: sorted ascending, times 3, 2, 1, kept monotone, at most 1
    raw = list(r.pairs.p_unadjusted)
    order = np.argsort(raw, kind="stable")
    adj, run = [0.0] * 3, 0.0
    for m, i in zip((3, 2, 1), order):
        run = max(run, min(1.0, m * raw[i]))
        adj[i] = run
    assert list(r.pairs.p_adjusted) == pytest.approx(adj, rel=1e-12)
    ref = sp.posthoc_dunn(df, val_col="v", group_col="g", p_adjust="holm")
    assert [ref.loc[a, b] for a, b in zip(r.pairs.group_a, r.pairs.group_b)] == pytest.approx(adj, rel=1e-12)


def test_kruskal_dunn_insufficient_result_fields():
    df = _frame({"A": [2.0, 2.0, 2.0], "B": [2.0, 2.0, 2.0]})
    r = S.kruskal_dunn(df, "v", "g", "bonferroni", alpha=0.01)
    assert (r.value, r.group, r.n, r.k, r.groups) == ("v", "g", 6, 2, ["A", "B"])
    for x in (r.H, r.p, r.eta2):
        assert isinstance(x, float) and np.isnan(x)
    assert isinstance(r.dunn, pd.DataFrame) and r.dunn.empty
    assert list(r.pairs.columns) == PAIR_COLUMNS and len(r.pairs) == 0
    assert r.not_different == []
    assert (r.p_adjust, r.alpha) == ("bonferroni", 0.01)
    assert r.status == "insufficient" and r.note == "all values equal: Kruskal-Wallis undefined"
    none = S.kruskal_dunn(df, "v", "g", None)
    assert none.p_adjust == "none"
