"""Seeded bootstrap CIs (dlenergy.uncertainty): each interval against an independent
``scipy.stats.bootstrap`` call (non-vectorized statistics from scipy, same seed) and against
pingouin's ``compute_bootci``; reruns, seeds, degenerate data and the fast rank statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as ss

from dlenergy import stats as S
from dlenergy import uncertainty as U

BOOT = U.BootstrapConfig(n_resamples=1999, seed=42)


def scipy_ci(samples, statistic, seed=42, n=1999, paired=False, method="BCa"):
    """The reference: scipy.stats.bootstrap with a plain (non-vectorized) statistic."""
    res = ss.bootstrap(
        samples,
        statistic,
        n_resamples=n,
        vectorized=False,
        paired=paired,
        method=method,
        rng=np.random.default_rng(seed),
    )
    return res.confidence_interval.low, res.confidence_interval.high


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    a = rng.lognormal(-1.0, 0.25, 30)
    b = rng.lognormal(-1.6, 0.30, 27)
    x = rng.normal(size=60)
    y = x + rng.normal(scale=0.8, size=60)
    return a, b, x, y


def test_median_ci_equals_scipy_with_the_same_seed(data):
    a = data[0]
    ci = U.median_ci(a, BOOT)
    lo, hi = scipy_ci((a,), np.median)
    assert (ci.low, ci.high) == pytest.approx((lo, hi), rel=1e-12)
    assert ci.method == "BCa" and ci.contains(np.median(a))
    # pingouin's compute_bootci (the same scipy machinery) with the same generator
    pgi = pg.compute_bootci(a, func=np.median, method="bca", n_boot=1999, seed=np.random.default_rng(42), decimals=12)
    assert (ci.low, ci.high) == pytest.approx(tuple(pgi), abs=1e-11)


def test_reduction_ci_is_a_two_sample_bootstrap(data):
    a, b = data[0], data[1]
    ci = U.reduction_ci(a, b, BOOT)
    lo, hi = scipy_ci((a, b), lambda f, t: 1 - np.median(t) / np.median(f))
    assert (ci.low, ci.high) == pytest.approx((lo, hi), rel=1e-12)
    point = 1 - np.median(b) / np.median(a)
    assert ci.contains(point) and 0 < ci.low < point < ci.high < 1
    # not the paired bootstrap: resampling (from, to) together gives another interval
    paired = scipy_ci((a[:27], b), lambda f, t: 1 - np.median(t) / np.median(f), paired=True)
    assert (ci.low, ci.high) != pytest.approx(paired, rel=1e-6)


def test_spearman_ci_resamples_pairs(data):
    x, y = data[2], data[3]
    ci = U.spearman_ci(x, y, BOOT)
    lo, hi = scipy_ci((x, y), lambda u, v: ss.spearmanr(u, v).statistic, paired=True)
    assert (ci.low, ci.high) == pytest.approx((lo, hi), rel=1e-9)
    pgi = pg.compute_bootci(
        x, y, func="spearman", paired=True, n_boot=1999, seed=np.random.default_rng(42), decimals=12
    )
    assert (ci.low, ci.high) == pytest.approx(tuple(pgi), abs=1e-9)
    assert ci.contains(ss.spearmanr(x, y).statistic)


def test_cliffs_delta_ci_equals_scipy_with_the_brute_force_delta(data):
    a, b = np.round(data[0], 2), np.round(data[1] * 2, 2)  # rounded: ties across the groups

    def brute(u, v):
        return np.sign(u[:, None] - v[None, :]).mean()

    assert U.cliffs_delta_codes(*U.codes(a, b)[0], m=U.codes(a, b)[1]) == pytest.approx(brute(a, b), abs=1e-14)
    ci = U.cliffs_delta_ci(a, b, BOOT)
    lo, hi = scipy_ci((a, b), brute)
    assert (ci.low, ci.high) == pytest.approx((lo, hi), rel=1e-9)
    assert ci.contains(brute(a, b))


def test_rerun_identical_other_seed_different(data):
    a, b, x, y = data
    for f, args in (
        (U.median_ci, (a,)),
        (U.reduction_ci, (a, b)),
        (U.spearman_ci, (x, y)),
        (U.cliffs_delta_ci, (a, b)),
    ):
        first, again = f(*args, BOOT), f(*args, BOOT)
        other = f(*args, U.BootstrapConfig(n_resamples=1999, seed=43))
        assert (first.low, first.high) == (again.low, again.high), f.__name__
        assert (first.low, first.high) != (other.low, other.high), f.__name__


def test_confidence_and_resamples_are_applied(data):
    a = data[0]
    ci95 = U.median_ci(a, BOOT)
    ci80 = U.median_ci(a, U.BootstrapConfig(n_resamples=1999, confidence=0.8))
    assert ci80.low >= ci95.low and ci80.high <= ci95.high and (ci80.low, ci80.high) != (ci95.low, ci95.high)
    pct = U.median_ci(a, U.BootstrapConfig(n_resamples=1999, method="percentile"))
    assert (pct.low, pct.high) == pytest.approx(scipy_ci((a,), np.median, method="percentile"), rel=1e-12)
    off = U.median_ci(a, U.BootstrapConfig(n_resamples=0))
    assert off.method == "off" and np.isnan(off.low) and np.isnan(off.high)


def test_degenerate_and_small_samples():
    sep = U.cliffs_delta_ci([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], BOOT)
    assert (sep.low, sep.high, sep.method) == (-1.0, -1.0, "degenerate")
    const = U.median_ci([0.5] * 10, BOOT)
    assert (const.low, const.high, const.method) == (0.5, 0.5, "degenerate")
    one = U.median_ci([0.5], BOOT)
    assert one.method == "n/a" and np.isnan(one.low) and "n=1 < 2" in one.note
    nan = U.median_ci([np.nan, 1.0, np.nan], BOOT)
    assert nan.method == "n/a"  # one finite value left
    # a constant x: ρ undefined, no interval, no exception
    flat = U.spearman_ci(np.ones(20), np.arange(20.0), BOOT)
    assert flat.method == "n/a" and np.isnan(flat.low)
    # BCa undefined (every jackknife median is 5: the acceleration is 0/0) but the bootstrap distribution
    # is not degenerate: the percentile interval of the same resamples, and the note says so
    x = np.array([0.0] * 3 + [5.0] * 5 + [10.0] * 3)
    tied = U.median_ci(x, BOOT)
    assert tied.method == "percentile" and "BCa undefined" in tied.note
    assert (tied.low, tied.high) == pytest.approx(scipy_ci((x,), np.median, method="percentile"))


def test_bad_config_raises_with_the_key():
    with pytest.raises(ValueError, match="stats.bootstrap.method"):
        U.BootstrapConfig(method="studentized")
    with pytest.raises(ValueError, match="unknown key"):
        U.BootstrapConfig.from_dict({"resamples": 10})
    with pytest.raises(ValueError, match="confidence"):
        U.BootstrapConfig(confidence=95)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=1, max_size=15),
    st.lists(st.integers(0, 6), min_size=1, max_size=15),
    st.integers(1, 4),
)
def test_rank_statistics_by_counting_equal_scipy(xs, ys, batch):
    """Mid-ranks, Spearman's ρ and Cliff's δ by counting codes equal scipy's rankdata/spearmanr and
    the pairwise count, for tied integer data and batched (2-D) inputs."""
    a, b = np.asarray(xs, float), np.asarray(ys, float)
    (ca, cb), m = U.codes(a, b)
    assert U.midranks(ca, m) == pytest.approx(ss.rankdata(a))
    assert U.cliffs_delta_codes(ca, cb, m=m) == pytest.approx(np.sign(a[:, None] - b[None, :]).mean())
    assert U.cliffs_delta_codes(ca, cb, m=m) == pytest.approx(S.cliffs_delta(a, b))
    n = min(len(a), len(b))
    (cx,), mx = U.codes(a[:n])
    (cy,), my = U.codes(b[:n])
    got = U.spearman_codes(np.tile(cx, (batch, 1)), np.tile(cy, (batch, 1)), m=(mx, my))
    if n >= 2 and np.ptp(a[:n]) > 0 and np.ptp(b[:n]) > 0:
        assert got == pytest.approx([ss.spearmanr(a[:n], b[:n]).statistic] * batch)
    else:
        assert np.isnan(got).all()


def test_cliffs_delta_of_stats_equals_the_brute_force_count():
    """dlenergy.stats.cliffs_delta (from Mann-Whitney U) against the pairwise definition."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = rng.integers(0, 8, rng.integers(1, 25)).astype(float)
        b = rng.integers(0, 8, rng.integers(1, 25)).astype(float)
        greater = sum(x > y for x in a for y in b)
        less = sum(x < y for x in a for y in b)
        assert S.cliffs_delta(a, b) == pytest.approx((greater - less) / (len(a) * len(b)), abs=1e-12)


def test_tables_carry_the_cis_of_their_statistics():
    """The stats tables' CI columns equal the interval functions on the same runs."""
    from test_stats import synthetic_runs

    runs = S.add_derived(synthetic_runs())
    cfg = S.StatsConfig(bootstrap={"n_resamples": 999}, seed=5)
    boot = U.BootstrapConfig(n_resamples=999, seed=5)
    tr = S.tradeoff_tables(runs, cfg)
    row = tr["tradeoff"].query("environment == 'cloud' and architecture == 'vgg16'").iloc[0]
    vgg = runs.query("environment == 'cloud' and architecture == 'vgg16'")
    ci = U.median_ci(vgg.energy_per_image_j, boot)
    assert (row.median_energy_per_image_j_ci_low, row.median_energy_per_image_j_ci_high) == (ci.low, ci.high)
    assert (
        row.median_energy_per_image_j_ci_low <= row.median_energy_per_image_j <= row.median_energy_per_image_j_ci_high
    )
    red = tr["reductions"].query("scope == 'architectures in cloud' and `from` == 'vgg16' and to == 'mobilenet_v2'")
    mob = runs.query("environment == 'cloud' and architecture == 'mobilenet_v2'")
    r = U.reduction_ci(vgg.energy_per_image_j, mob.energy_per_image_j, boot)
    f = U.reduction_ci(vgg.f1, mob.f1, boot)
    got = red.iloc[0]
    assert (got.reduction_ci_low, got.reduction_ci_high, got.f1_decrease_ci_low, got.f1_decrease_ci_high) == (
        r.low,
        r.high,
        f.low,
        f.high,
    )
    summ = tr["reductions_summary"].set_index("statistic").loc["max reduction from vgg16"]
    assert summ["to"] == "mobilenet_v2" and summ.reduction_ci_low == r.low
    t6 = S.rq1_tables(runs, cfg)
    sp = t6["table6_spearman_flops"].iloc[0]
    cloud = runs.query("environment == 'cloud' and architecture != 'inception_v3'")
    s = U.spearman_ci(cloud.gflops, cloud.energy_per_image_j, boot)
    assert (sp.rho_ci_low, sp.rho_ci_high) == (s.low, s.high) and sp.rho_ci_low <= sp.rho <= sp.rho_ci_high
    pair = t6["kruskal_dunn_rq1_dunn"].iloc[0]
    g = dict(tuple(cloud.groupby("architecture")["energy_per_image_j"]))
    d = U.cliffs_delta_ci(g[pair.group_a], g[pair.group_b], boot)
    assert (pair.cliffs_delta_ci_low, pair.cliffs_delta_ci_high) == (d.low, d.high)
    # off: the columns are there, empty
    off = S.tradeoff_tables(runs, S.StatsConfig(bootstrap={"n_resamples": 0}))["tradeoff"]
    assert off.median_f1_ci_low.isna().all() and (off.median_f1 == tr["tradeoff"].median_f1).all()


def test_existing_columns_unchanged_by_the_cis():
    """Adding CIs changes no value of the columns the tables had before."""
    from test_stats import synthetic_runs

    runs = synthetic_runs()
    on = S.StatsConfig(bootstrap={"n_resamples": 499})
    off = S.StatsConfig(bootstrap={"n_resamples": 0})
    for f in (S.rq1_tables, S.rq2_tables, S.tradeoff_tables, S.ram_tables):
        a, b = f(runs, on), f(runs, off)
        for name in a:
            cols = [c for c in a[name].columns if "_ci_" not in c and c != "ci_note"]
            pd.testing.assert_frame_equal(a[name][cols], b[name][cols], obj=name)
