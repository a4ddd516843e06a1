"""Statistics of RQ1, RQ2, RQ3.1 (dlenergy.stats): each statistic recomputed with independent calls
(scipy.stats and pingouin), small and missing groups, skipped analyses, and the real SEAA 2023 data."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import scikit_posthocs as sp
from scipy import stats as ss

from dlenergy import figures as F
from dlenergy import stats as S

ROOT = Path(__file__).resolve().parents[1]

ARCHS = {"mobilenet_v2": 0.06, "nasnet_mobile": 0.37, "resnet50": 2.5, "xception": 3.0, "vgg16": 10.0}
ENVS = {"local_normal_user": (60.0, 32), "local_ml_engineer": (240.0, 32), "cloud": (350.0, 16)}


def synthetic_runs(seed: int = 1, n: int = 12) -> pd.DataFrame:
    """A cleaned-runs-like table with Block 1 (3 environments x 5 architectures, Local N only the two
    small ones), Block 2 (inception_v3 batch x input) and the RAM experiment."""
    rng = np.random.default_rng(seed)
    rows = []

    def add(env, arch, ds, batch, img, ram, k, base_e, usage, f1):
        tdp, _ = ENVS[env]
        for _ in range(k):
            images = 23807 * rng.integers(20, 40)
            epi = base_e * rng.lognormal(0, 0.08)
            u = float(np.clip(usage + rng.normal(0, 3), 1, 100))
            dur = images * (0.5 + 0.1 * ARCHS.get(arch, 1.5)) / 1000 * rng.lognormal(0, 0.05)
            rows.append(
                dict(
                    run_id=f"{env}-{arch}-{ds}-{batch}-{img}-{ram}-{len(rows):04d}",
                    environment=env,
                    architecture=arch,
                    dataset=ds,
                    batch_size=batch,
                    image_size=img,
                    total_ram_gb=ram,
                    gflops=ARCHS.get(arch, 1.5) * (img / 128) ** 2,
                    return_code=0,
                    f1=float(np.clip(f1 + rng.normal(0, 0.005), 0, 1)),
                    images_seen=float(images),
                    energy_j=epi * images,
                    energy_per_image_j=epi,
                    duration_s=dur,
                    mean_gpu_power_w=epi * images / dur,
                    gpu_usage_pct=u,
                    max_power_w=tdp,
                    mean_ram_used_mb=6000 + 150 * ram + rng.normal(0, 200),
                )
            )

    for env, (_tdp, ram) in ENVS.items():
        for i, (arch, gf) in enumerate(ARCHS.items()):
            if env == "local_normal_user" and i > 1:
                continue
            scale = {"local_normal_user": 0.7, "local_ml_engineer": 0.55, "cloud": 1.0}[env]
            add(
                env,
                arch,
                "chesslive",
                32,
                128,
                ram,
                n,
                scale * (0.14 + 0.03 * i + 0.02 * gf),
                20 + 15 * i,
                0.96 + 0.005 * i,
            )
    for env in ("local_ml_engineer", "cloud"):
        ram = ENVS[env][1]
        for ds, b, img in itertools.product(["caltech101", "stanford_dogs"], [32, 256], [75, 128]):
            add(env, "inception_v3", ds, b, img, ram, 3, 0.2 * (img / 128) ** 2 * (1.3 if b == 32 else 1), 70, 0.8)
    for ram in (8, 16, 24, 32):
        add("cloud", "inception_v3", "stanford_dogs", 256, 128, ram, 10, 0.2 * (1.1 - ram / 200), 70, 0.8)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def runs():
    return S.add_derived(synthetic_runs())


@pytest.fixture(scope="module")
def cfg():
    # few resamples: these tests check the statistics; the CIs themselves are tested in test_uncertainty.py
    return S.StatsConfig(bootstrap={"n_resamples": 199})


def _groups(df, value, group):
    return {g: d[value].to_numpy() for g, d in df.groupby(group, sort=True)}


# ------------------------------------------------------------------------------------------------
# each statistic against independent calls


def test_kruskal_dunn_matches_scipy_pingouin_scikit_posthocs(runs, cfg):
    df = runs[(runs.environment == "cloud") & (runs.architecture != "inception_v3")]
    for value in ("energy_per_image_j", "gpu_usage_pct", "time_per_image_ms", "f1"):
        r = S.kruskal_dunn(df, value, "architecture", "holm")
        g = _groups(df, value, "architecture")
        H, p = ss.kruskal(*g.values())
        pk = pg.kruskal(data=df, dv=value, between="architecture")
        assert r.H == pytest.approx(H, rel=1e-12) == pytest.approx(float(pk["H"].iloc[0]), rel=1e-12)
        assert r.p == pytest.approx(p, rel=1e-9) and r.p == pytest.approx(float(pk["p_unc"].iloc[0]), rel=1e-9)
        n, k = len(df), df.architecture.nunique()
        assert (r.n, r.k) == (n, k)
        assert r.eta2 == pytest.approx((H - k + 1) / (n - k))
        # Dunn: scikit-posthocs with the same adjustment, and raw p = 2 sf(|z|) of our signed z
        ref = sp.posthoc_dunn(df, val_col=value, group_col="architecture", p_adjust="holm")
        for row in r.pairs.itertuples():
            assert row.p_adjusted == pytest.approx(ref.loc[row.group_a, row.group_b], rel=1e-9, abs=1e-300)
            assert row.p_unadjusted == pytest.approx(2 * ss.norm.sf(abs(row.dunn_z)), rel=1e-9, abs=1e-300)
            a, b = g[row.group_a], g[row.group_b]
            u = ss.mannwhitneyu(a, b).statistic
            assert row.cliffs_delta == pytest.approx(2 * u / (len(a) * len(b)) - 1)
        assert len(r.pairs) == k * (k - 1) // 2
        want_nd = {(a, b) for a, b in itertools.combinations(r.groups, 2) if ref.loc[a, b] >= 0.05}
        assert set(r.not_different) == want_nd


def test_p_adjust_is_applied(runs):
    df = runs[(runs.environment == "cloud") & (runs.architecture != "inception_v3")]
    raw = S.kruskal_dunn(df, "f1", "architecture", None)
    bonf = S.kruskal_dunn(df, "f1", "architecture", "bonferroni")
    m = len(raw.pairs)
    assert raw.p_adjust == "none" and bonf.p_adjust == "bonferroni"
    np.testing.assert_allclose(bonf.pairs.p_adjusted, np.minimum(raw.pairs.p_unadjusted * m, 1.0), rtol=1e-9)


def test_normality_table_matches_scipy_and_pingouin(runs, cfg):
    t = S.rq1_tables(runs, cfg)["table3_normality_rq1"]
    df = runs[(runs.environment == "cloud") & (runs.architecture != "inception_v3")]
    assert set(t.variable) == {"energy_per_image_j", "gpu_usage_pct", "f1"}
    assert len(t) == 3 * 5 and (t.status == "ok").all()
    for v in ("energy_per_image_j", "gpu_usage_pct", "f1"):
        sub = t[t.variable == v].set_index("group")
        norm = pg.normality(df, dv=v, group="architecture")
        for arch, x in _groups(df, v, "architecture").items():
            w, p = ss.shapiro(x)
            assert sub.loc[arch, "shapiro_w"] == pytest.approx(w) == pytest.approx(norm.loc[arch, "W"])
            assert sub.loc[arch, "shapiro_p"] == pytest.approx(p) == pytest.approx(norm.loc[arch, "pval"])
            assert sub.loc[arch, "n"] == len(x)
            assert sub.loc[arch, "normal"] == (p > 0.05)
        lw, lp = ss.levene(*_groups(df, v, "architecture").values(), center="median")
        h = pg.homoscedasticity(df, dv=v, group="architecture")
        assert sub.levene_w.nunique() == 1
        assert sub.levene_w.iloc[0] == pytest.approx(lw) == pytest.approx(float(h["W"].iloc[0]))
        assert sub.levene_p.iloc[0] == pytest.approx(lp) == pytest.approx(float(h["pval"].iloc[0]))


def test_spearman_one_sided_matches_scipy_and_pingouin(runs, cfg):
    t = S.rq1_tables(runs, cfg)["table6_spearman_flops"]
    df = runs[(runs.environment == "cloud") & (runs.architecture != "inception_v3")]
    assert list(t.y) == ["energy_per_image_j", "gpu_usage_pct", "mean_gpu_power_w"]
    for y in t.y:
        row = t[t.y == y].iloc[0]
        r = ss.spearmanr(df.gflops, df[y], alternative="greater")
        c = pg.corr(df.gflops, df[y], method="spearman", alternative="greater")
        assert row.rho == pytest.approx(r.statistic) == pytest.approx(float(c["r"].iloc[0]))
        assert row.p_value == pytest.approx(r.pvalue, rel=1e-9) == pytest.approx(float(c["p_val"].iloc[0]), rel=1e-6)
        assert row.n == len(df) and row.alternative == "greater"
    t2 = S.rq2_tables(runs, cfg)["spearman_gpu_usage"]
    assert set(t2.by) == {f"environment = {e}" for e in ENVS}
    loc = runs[(runs.environment == "local_ml_engineer") & (runs.architecture != "inception_v3")]
    row = t2[(t2.by == "environment = local_ml_engineer") & (t2.y == "mean_gpu_power_w")].iloc[0]
    assert row.rho == pytest.approx(ss.spearmanr(loc.gpu_usage_pct, loc.mean_gpu_power_w).statistic)
    assert row.tdp_w == 240.0


def test_ram_tables(runs, cfg):
    t = S.ram_tables(runs, cfg)
    t7 = t["table7_kruskal_ram"].set_index("variable")
    sel = runs[
        (runs.environment == "cloud")
        & (runs.architecture == "inception_v3")
        & (runs.dataset == "stanford_dogs")
        & (runs.batch_size == 256)
        & (runs.image_size == 128)
    ]
    for v in S.RAM_VALUES:
        H, p = ss.kruskal(*_groups(sel, v, "total_ram_gb").values())
        assert t7.loc[v, "H"] == pytest.approx(H) and t7.loc[v, "p_value"] == pytest.approx(p)
        assert t7.loc[v, "k"] == 4 and t7.loc[v, "n"] == len(sel)
    t5 = t["table5_normality_ram"]
    assert list(t5[t5.variable == "energy_kj"].group) == [8, 16, 24, 32]


def test_tradeoff_reductions_pareto():
    tr = pd.DataFrame(
        {
            "environment": ["e"] * 4,
            "architecture": list("abcd"),
            "n": [5, 5, 5, 5],
            "median_energy_per_image_j": [0.4, 0.3, 0.1, 0.35],
            "median_f1": [0.99, 0.98, 0.97, 0.95],
        }
    )
    front = S.pareto_front(tr, "median_energy_per_image_j", "median_f1")
    assert list(front) == [True, True, True, False]  # d: costlier than b and worse F1
    pairs = S.reduction_pairs(tr, ["architecture"], scope="s")
    ab = pairs[(pairs["from"] == "a") & (pairs["to"] == "c")].iloc[0]
    assert ab.reduction == pytest.approx(0.75) and ab.f1_decrease == pytest.approx((0.99 - 0.97) / 0.99)
    summ = S.reduction_summary(pairs, "s", "a").set_index("statistic")
    assert summ.loc["min reduction from a", "to"] == "d" and summ.loc["max reduction from a", "to"] == "c"
    assert summ.loc["max pairwise reduction (best combination)", "reduction"] == pytest.approx(0.75)


def test_tradeoff_tables(runs, cfg):
    t = S.tradeoff_tables(runs, cfg)
    tr = t["tradeoff"]
    assert "inception_v3" not in set(tr.architecture)
    assert len(tr) == 2 + 5 + 5
    m = runs[(runs.environment == "cloud") & (runs.architecture == "vgg16")]
    row = tr[(tr.environment == "cloud") & (tr.architecture == "vgg16")].iloc[0]
    assert row.median_energy_per_image_j == pytest.approx(m.energy_per_image_j.median())
    assert row.median_f1_per_kwh == pytest.approx((m.f1 / (m.energy_j / 3.6e6)).median())
    assert row.median_time_per_image_ms == pytest.approx((m.duration_s / m.images_seen * 1000).median())
    s = t["reductions_summary"]
    assert set(s.scope) == {"architectures in cloud", "environments for mobilenet_v2", "all environment x architecture"}


# ------------------------------------------------------------------------------------------------
# small groups and sources that cannot support an analysis


def test_small_group_rows_say_why(runs, cfg):
    df = runs[(runs.environment == "cloud") & (runs.architecture != "inception_v3")]
    small = pd.concat([df[df.architecture != "vgg16"], df[df.architecture == "vgg16"].head(2)])
    t = S.normality_table(small, ["energy_per_image_j"], "architecture")
    v = t[t.group == "vgg16"].iloc[0]
    assert v.n == 2 and np.isnan(v.shapiro_w) and v.status == "insufficient" and "n=2 < 3" in v.note
    assert t[t.group != "vgg16"].levene_k.eq(4).all() and "vgg16 (n=2)" in t.note.iloc[0]
    r = S.kruskal_dunn(small, "energy_per_image_j", "architecture")
    assert r.k == 4 and "vgg16 (n=2)" in r.note and r.status == "ok"
    one = S.kruskal_dunn(df[df.architecture == "vgg16"], "energy_per_image_j", "architecture")
    assert one.status == "insufficient" and np.isnan(one.H) and "at least 2" in one.note
    sp_ = S.spearman_one_sided([1, 2], [3, 4])
    assert sp_["status"] == "insufficient" and "n=2" in sp_["note"]
    const = S.kruskal_dunn(df.assign(f1=0.9), "f1", "architecture")
    assert const.status == "insufficient" and "all values equal" in const.note


def test_sources_without_the_experiment_get_skipped_rows(cfg):
    two = synthetic_runs(n=1)
    two = two[two.architecture.isin(["resnet50"]) & (two.environment == "cloud")].assign(environment="H100 server")
    out = {
        **S.rq1_tables(two, cfg),
        **S.rq2_tables(two, cfg),
        **S.tradeoff_tables(two, cfg),
        **S.ram_tables(two, cfg),
        **S.batch_input_tables(two, cfg),
    }
    for name in (
        "table3_normality_rq1",
        "kruskal_dunn_rq1",
        "table6_spearman_flops",
        "table4_normality_rq2",
        "kruskal_dunn_rq2",
        "table5_normality_ram",
        "table7_kruskal_ram",
        "batch_input",
    ):
        t = out[name]
        assert len(t) == 1 and t.status.iloc[0] == "skipped" and t.note.iloc[0].startswith("skipped: "), name
    assert "H100 server" in out["table3_normality_rq1"].note.iloc[0]
    assert (out["spearman_gpu_usage"].status == "insufficient").all()
    assert out["tradeoff"].status.iloc[0] == "insufficient"
    # a RAM experiment with a single RAM level is not an experiment
    one_level = synthetic_runs()
    one_level = one_level[one_level.total_ram_gb == 16]
    r = S.ram_tables(one_level, cfg)["table7_kruskal_ram"]
    assert r.status.iloc[0] == "skipped" and "1 allocated-RAM level" in r.note.iloc[0]


def _markdown_column(md: str, name: str) -> list[str]:
    """The cells of column ``name`` of the (first) Markdown table in ``md``."""
    rows = [line for line in md.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
    j = cells[0].index(name)
    return [c[j] for c in cells[2:]]  # header, separator, then the rows


@pytest.mark.parametrize("p_adjust", ["bonferroni", "holm"])
def test_markdown_carries_label_and_p_adjust(runs, p_adjust):
    """The table itself names the adjustment the configuration asked for (no note passed in)."""
    cfg = S.StatsConfig(p_adjust=p_adjust, bootstrap={"n_resamples": 0})
    t = S.rq1_tables(runs, cfg)["kruskal_dunn_rq1"]
    md = S.markdown_document("T", [("", t)], label="synthetic sample (x)", source="sample")
    assert "> **Data label:** synthetic sample (x)" in md and "Source: `sample`" in md
    assert _markdown_column(md, "p_adjust") == [p_adjust] * len(t) and len(t) == 4
    assert "Data label" not in S.markdown_document("T", [("", t)], label=None, source="real")


def test_ram_used_gb_is_mib_over_1024():
    """mean_ram_used_mb is MiB (2**20 bytes, dlenergy.parsing); ram_used_gb is GiB (2**30 bytes)."""
    d = S.add_derived(pd.DataFrame({"mean_ram_used_mb": [6144.0, 16384.0], "energy_j": [3.6e6, 7.2e6]}))
    assert d["ram_used_gb"].tolist() == [6144 * 2**20 / 2**30, 16.0]
    assert d["energy_kj"].tolist() == [3600.0, 7200.0]


def test_figures_are_deterministic(tmp_path, runs):
    F.setup()
    out = []
    for i in range(2):
        fig = F.box_grid(runs[runs.environment == "cloud"], ["energy_per_image_j"], "architecture")
        F.save(fig, tmp_path / f"b{i}.pdf", tmp_path / f"b{i}.png", source="t", label="synthetic")
        out.append(((tmp_path / f"b{i}.pdf").read_bytes(), (tmp_path / f"b{i}.png").read_bytes()))
    assert out[0] == out[1]
    F.save(F.placeholder("x", "no RAM experiment"), tmp_path / "p.pdf", tmp_path / "p.png", source="t", label=None)
    assert (tmp_path / "p.png").stat().st_size > 0


# ------------------------------------------------------------------------------------------------
# the real SEAA 2023 measurements


@pytest.fixture(scope="module")
def seaa_runs(tmp_path_factory, seaa_dir):
    from dlenergy.cleaning import CleaningConfig, clean
    from dlenergy.ingest import ingest_dataset
    from dlenergy.sources.seaa2023 import convert_seaa2023

    out = tmp_path_factory.mktemp("seaa_stats") / "canonical"
    convert_seaa2023(seaa_dir, out)
    runs, epochs, ledger = ingest_dataset(out)
    return clean(runs, epochs, ledger, CleaningConfig(seed=42)).runs


def test_seaa2023_rq1_kruskal(seaa_runs, cfg):
    t = S.rq1_tables(seaa_runs, cfg)
    k = t["kruskal_dunn_rq1"].set_index("variable")
    e = k.loc["energy_per_image_j"]
    assert e.k == 5 and e.n >= 100
    assert e.eta2 >= 0.8 and e.p_value < 1e-15  # paper: H 116.85, p 2.51e-24, eta2 0.92
    cloud = seaa_runs[seaa_runs.environment == "cloud"].assign(energy_per_image_j=lambda d: d.energy_j / d.images_seen)
    H, p = ss.kruskal(*_groups(cloud, "energy_per_image_j", "architecture").values())
    assert e.H == pytest.approx(H) and e.p_value == pytest.approx(p, rel=1e-9)
    assert ("nasnet_mobile", "xception") in {tuple(sorted(x.split(" – "))) for x in e.not_different.split("; ")}
    assert k.loc["gpu_usage_pct", "eta2"] >= 0.8
    t3 = t["table3_normality_rq1"]
    vgg = t3[(t3.variable == "energy_per_image_j") & (t3.group == "vgg16")].iloc[0]
    w, pw = ss.shapiro(cloud.loc[cloud.architecture == "vgg16", "energy_per_image_j"])
    assert vgg.shapiro_w == pytest.approx(w) and vgg.shapiro_p == pytest.approx(pw) and vgg.normal == (pw > 0.05)
    best = S.tradeoff_tables(seaa_runs, cfg)["reductions_summary"]
    row = best[best.statistic == "max pairwise reduction (best combination)"].iloc[-1]
    assert row["from"] == "local_ml_engineer / vgg16" and row["to"] == "local_ml_engineer / mobilenet_v2"
    assert row.reduction == pytest.approx(0.8072, abs=0.03)  # paper §5.1: 80.72 %


PAPER_VARIABLE = {"energy": "energy_per_image_j", "gpu_usage": "gpu_usage_pct", "time_per_image": "time_per_image_ms"}


def test_shipped_p_adjust_reproduces_the_papers_not_different_pairs(seaa_runs):
    """config.yaml's Dunn adjustment on the real SEAA data: the paper's not-different pairs (Fig. 2,
    paper_targets.csv) are all not different, and time/image's are exactly the paper's three."""
    import yaml

    stats_cfg = yaml.safe_load((ROOT / "config.yaml").read_text())["stats"]
    cfg = S.StatsConfig.from_dict({**stats_cfg, "bootstrap": {"n_resamples": 0}})
    nd = S.rq1_tables(seaa_runs, cfg)["kruskal_dunn_rq1"].set_index("variable")["not_different"]
    targets = pd.read_csv(ROOT / "src/dlenergy/data/paper_targets.csv", comment="#").set_index("key")["value"]
    for short, variable in PAPER_VARIABLE.items():
        paper = {frozenset(p.split("-")) for p in targets[f"rq1_cloud_chesslive.dunn_not_different.{short}"].split(";")}
        ours = {frozenset(p.split(" – ")) for p in nd[variable].split("; ") if p}
        assert paper <= ours, (variable, paper - ours)
        if short == "time_per_image":
            assert ours == paper


def test_seaa2023_cis_contain_their_estimates(seaa_runs):
    """On the real data every bootstrap CI holds its point estimate, and δ = ±1 pairs are [δ, δ]."""
    cfg = S.StatsConfig(p_adjust="bonferroni", bootstrap={"n_resamples": 1999})
    out = {**S.rq1_tables(seaa_runs, cfg), **S.tradeoff_tables(seaa_runs, cfg)}
    tr = out["tradeoff"]
    for m in S.TRADEOFF_METRICS:
        c = f"median_{m}"
        assert ((tr[f"{c}_ci_low"] <= tr[c]) & (tr[c] <= tr[f"{c}_ci_high"])).all(), c
    red = out["reductions"]
    for c in ("reduction", "f1_decrease"):
        assert ((red[f"{c}_ci_low"] <= red[c]) & (red[c] <= red[f"{c}_ci_high"])).all(), c
        assert (red[f"{c}_ci_high"] > red[f"{c}_ci_low"]).all(), c
    d = out["kruskal_dunn_rq1_dunn"]
    assert ((d.cliffs_delta_ci_low <= d.cliffs_delta) & (d.cliffs_delta <= d.cliffs_delta_ci_high)).all()
    sep = d[d.cliffs_delta.abs() == 1]
    assert (
        len(sep)
        and (sep.cliffs_delta_ci_low == sep.cliffs_delta).all()
        and sep.ci_note.str.contains("degenerate").all()
    )
    t6 = out["table6_spearman_flops"]
    assert ((t6.rho_ci_low < t6.rho) & (t6.rho < t6.rho_ci_high)).all()


def test_markdown_shows_cis_beside_their_values():
    df = pd.DataFrame(
        {
            "group": ["a"],
            "reduction": [0.6378],
            "reduction_ci_low": [0.6321],
            "reduction_ci_high": [0.6413],
            "rho": [0.79],
            "rho_ci_low": [np.nan],
            "rho_ci_high": [np.nan],
            "ci_note": [""],
        }
    )
    md = S.markdown_table(df)
    head, _, row = md.split("\n")
    assert head == "| group | reduction [CI] | rho [CI] | ci_note |"
    assert row == "| a | 63.78 % [63.21 %, 64.13 %] | 0.79 |  |"
