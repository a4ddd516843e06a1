"""Outlier-seed sensitivity: how the paper's statistics move with the Isolation Forest's seed.

The paper's outlier removal (§3.7; ``notebooks/EDA-and-cleaning.ipynb`` of its replication package) runs
``IsolationForest(n_estimators=100, warm_start=True, contamination=0.1)`` **without** a
``random_state``, so which runs it dropped is unknowable and every statistic computed after it is one
draw from a distribution.  This module re-runs the outlier stage of :func:`dlenergy.cleaning.clean`
for many seeds and recomputes, per seed, every number of RQ1, RQ2 and RQ3.1 (Tables 3–7, the
Kruskal-Wallis / Dunn tests, the Spearman correlations) and Figure 2's medians and reductions, under
three *variants* of the outlier stage:

* ``configured`` – the pipeline's own stage (config ``cleaning``: its features, trees, groups),
  seeds ``seed, seed + 1, ..., seed + n_seeds - 1`` (the configured seed first);
* ``authors`` – the replication package's procedure, as faithfully as the runs table allows
  (:data:`AUTHORS_FEATURES`, 100 trees, contamination 0.1, every group however small), same seeds;
* ``none`` – no outlier removal (one evaluation).

Every number is named by its scorecard key (:func:`dlenergy.scorecard.spec_for`) where the paper
reports it, else ``<table>.<row values>.<column>``.  :func:`summarize` turns the per-seed values into
one row per statistic and variant: the value at the configured seed, min / p5 / median / p95 / max
over seeds, the paper's value and whether it lies in [min, max], and the share of seeds under which
the conclusion the paper draws from the number (not normal, significant, pair different, within the
scorecard's tolerance, ...) still holds.

The authors' features.  Their notebook z-scores (``StandardScaler``, over all runs) every int64 /
float64 column of the run table but ``run_id``, ``start time``, ``return code``, ``training duration
(h)`` and ``energy (MJ)``, adds the per-image energy and duration, and fits one forest per
(training environment, architecture, dataset) on ``pd.get_dummies(group).select_dtypes("number")``.
Under their pinned pandas 2.2, ``get_dummies`` makes *bool* columns, which ``select_dtypes("number")``
drops; the dummies would in any case be constant within a group.  ``warm_start=True`` has no effect on
a single ``fit``.  An Isolation Forest is invariant to a per-feature affine map (split thresholds are
drawn uniformly between a node's min and max), so the z-scoring changes nothing but is kept.  The only
column of theirs our runs table lacks is the average GPU temperature (used when a column
``mean_gpu_temperature_c`` is present).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import NamedTuple

import numpy as np
import pandas as pd
import scikit_posthocs as sp
from scipy import stats as ss

from . import scorecard as SC
from . import stats as S
from .cleaning import CleaningConfig, clean

VARIANTS = ("configured", "authors", "none")
SEEDED = ("configured", "authors")
VARIANT_LABELS = {
    "configured": "configured (ours, seeded)",
    "authors": "authors' procedure",
    "none": "no outlier removal",
}

#: the replication package's numeric run-table columns, in its order -> the runs table's (ours lacks the temperature)
AUTHORS_FEATURES: dict[str, str] = {
    "batch size": "batch_size",
    "image size": "image_size",
    "total ram (GB)": "total_ram_gb",
    "gpu usage (%)": "gpu_usage_pct",
    "average gpu power (W)": "mean_gpu_power_w",
    "gpu energy (MJ)": "gpu_energy_j",
    "max power limit (W)": "max_power_w",
    "ram energy (MJ)": "ram_energy_j",
    "average temperature (Celsius)": "mean_gpu_temperature_c",
    "GFLOPs": "gflops",
    "trained epochs": "epochs_trained",
    "measured epochs": "epochs_measured",
    "total seen images": "images_seen",
    "normalized energy": "energy_per_image_j",
    "normalized duration": "time_per_image_ms",
}
AUTHORS_GROUP = ("environment", "architecture", "dataset")
AUTHORS_PREFIX = "authors_z_"

COLUMNS = [
    "statistic",
    "variant",
    "kind",
    "table",
    "row",
    "column",
    "value",
    "min",
    "p5",
    "median",
    "p95",
    "max",
    "n_seeds",
    "conclusion",
    "share_conclusion_holds",
    "paper",
    "paper_within_range",
    "note",
]
SEED_COLUMNS = ["variant", "seed", "statistic", "kind", "test", "value", "text"]


@dataclass
class RobustnessConfig:
    """The ``robustness:`` section of config.yaml."""

    n_seeds: int = 100
    variants: tuple[str, ...] = VARIANTS
    #: the variants whose seed range can turn a scorecard fail into "within outlier-seed range"
    verdict_variants: tuple[str, ...] = SEEDED
    authors_n_estimators: int = 100
    authors_contamination: float = 0.1
    authors_features: tuple[str, ...] = tuple(AUTHORS_FEATURES.values())
    #: workflow settings (read by workflow/rules/robustness.smk): part of `rule all`; joblib workers
    in_default_run: bool = False
    threads: int = 1

    @classmethod
    def from_dict(cls, d: dict | None) -> RobustnessConfig:
        d = dict(d or {})
        authors = d.pop("authors", None) or {}
        for k in ("n_estimators", "contamination", "features"):
            if k in authors:
                d[f"authors_{k}"] = authors[k]
        for k in ("variants", "verdict_variants", "authors_features"):
            if k in d:
                d[k] = tuple(d[k])
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"robustness config: unknown key(s) {sorted(unknown)}")
        bad = [v for v in d.get("variants", ()) if v not in VARIANTS]
        bad += [v for v in d.get("verdict_variants", ()) if v not in SEEDED]
        if bad:
            raise ValueError(
                f"robustness config: unknown variant(s) {bad}; known: {list(VARIANTS)} "
                f"(verdict_variants: {list(SEEDED)}, the seeded ones)"
            )
        return cls(**d)


def seed_list(seed: int, n_seeds: int) -> list[int]:
    """The seeds of the sensitivity analysis: ``seed, seed + 1, ..., seed + n_seeds - 1``.

    Examples
    --------
    >>> seed_list(42, 3)
    [42, 43, 44]
    """
    if n_seeds < 1:
        raise ValueError(f"robustness: n_seeds must be >= 1, got {n_seeds}")
    return list(range(int(seed), int(seed) + int(n_seeds)))


# ----------------------------------------------------------------------------------------------
# the outlier stage, per variant and seed

_NO_EPOCHS = pd.DataFrame({"run_id": pd.Series(dtype=str)})


def pre_outlier_runs(runs: pd.DataFrame, ingest_ledger: pd.DataFrame | None, cleaning: CleaningConfig) -> pd.DataFrame:
    """The runs every cleaning stage but the outlier one keeps (the input of the outlier stage)."""
    return clean(runs, _NO_EPOCHS, ingest_ledger, replace(cleaning, outlier_features=())).runs


def add_authors_features(pre: pd.DataFrame, features: Iterable[str]) -> tuple[pd.DataFrame, list[str], list[str]]:
    """``pre`` plus the authors' outlier features, z-scored over all runs (columns ``authors_z_<name>``).

    Returns the frame, the feature columns and notes on features the runs table lacks.

    Examples
    --------
    >>> runs = pd.DataFrame({"duration_s": [10.0, 20.0], "images_seen": [100, 100], "gflops": [1.0, 2.0]})
    >>> df, cols, notes = add_authors_features(runs, ["gflops", "time_per_image_ms", "mean_gpu_temperature_c"])
    >>> cols
    ['authors_z_gflops', 'authors_z_time_per_image_ms']
    >>> df["authors_z_gflops"].tolist()
    [-1.0, 1.0]
    >>> notes
    ['authors variant: no column mean_gpu_temperature_c (average temperature (Celsius)) in the runs table']
    """
    from sklearn.preprocessing import StandardScaler

    derived = S.add_derived(pre)
    names = {v: k for k, v in AUTHORS_FEATURES.items()}
    present = [f for f in features if f in derived.columns]
    notes = [
        f"authors variant: no column {f} ({names.get(f, 'feature')}) in the runs table"
        for f in features
        if f not in derived.columns
    ]
    out = pre.copy()
    cols = [AUTHORS_PREFIX + f for f in present]
    if present and len(pre):
        X = derived[present].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
        out[cols] = StandardScaler().fit_transform(X)
    return out, cols, notes


def outlier_config(
    variant: str, seed: int, cleaning: CleaningConfig, rcfg: RobustnessConfig, authors_columns: list[str]
) -> CleaningConfig | None:
    """The :class:`CleaningConfig` of a variant's outlier stage at ``seed`` (None: no outlier stage)."""
    if variant == "none":
        return None
    if variant == "configured":
        return replace(cleaning, seed=int(seed))
    if variant == "authors":
        return replace(
            cleaning,
            seed=int(seed),
            outlier_features=tuple(authors_columns),
            outlier_group=AUTHORS_GROUP,
            n_estimators=rcfg.authors_n_estimators,
            contamination=rcfg.authors_contamination,
            min_group_size=1,
        )
    raise ValueError(f"robustness: unknown variant '{variant}' (known: {', '.join(VARIANTS)})")


def kept_runs(pre: pd.DataFrame, config: CleaningConfig | None) -> pd.DataFrame:
    """The runs the outlier stage of ``config`` keeps (``pre`` itself when ``config`` is None)."""
    if config is None:
        return pre
    return clean(pre, _NO_EPOCHS, None, config).runs


# ----------------------------------------------------------------------------------------------
# the statistics of one cleaned runs table


class Stat(NamedTuple):
    """One number: the pipeline table (path under ``results/<source>/``), row and column that hold it."""

    table: str
    where: tuple
    column: str
    value: object
    test: str = ""  #: id of the test the number belongs to; its last part names the test


T = "tables/"


def _normality(
    df: pd.DataFrame, table: str, values: list[str], group: str, order: list, cfg: S.StatsConfig
) -> list[Stat]:
    """Shapiro-Wilk W and p per group, Levene (median-centred) W and p per variable (Tables 3-5)."""
    out = []
    for v in values:
        kept, _, data = S._groups(df, v, group, order, cfg.min_group_size)
        for g, x in data.items():
            w, p, _ = S.shapiro(x)
            test = f"{table}|{v}|{g}|shapiro"
            where = (("variable", v), ("group", g))
            out += [Stat(table, where, "shapiro_w", w, test), Stat(table, where, "shapiro_p", p, test)]
        lw = lp = np.nan
        arrays = list(kept.values())
        if len(arrays) >= 2 and not all(np.ptp(a) == 0 for a in arrays):
            r = ss.levene(*arrays, center="median")
            lw, lp = float(r.statistic), float(r.pvalue)
        if data:
            test = f"{table}|{v}|levene"
            out += [
                Stat(table, (("variable", v),), "levene_w", lw, test),
                Stat(table, (("variable", v),), "levene_p", lp, test),
            ]
    return out


def _dunn_adjusted(kept: dict, p_adjust: str | None) -> pd.DataFrame:
    """Dunn's adjusted p-value matrix (scikit-posthocs), indexed by the groups as strings."""
    names = list(kept)
    long = pd.DataFrame(
        {"v": np.concatenate([kept[g] for g in names]), "g": np.concatenate([[str(g)] * len(kept[g]) for g in names])}
    )
    return sp.posthoc_dunn(long, val_col="v", group_col="g", p_adjust=p_adjust)


def _kruskal(
    df: pd.DataFrame, table: str, values: list[str], group: str, order: list, cfg: S.StatsConfig
) -> list[Stat]:
    """Kruskal-Wallis H, p, η², Dunn's not-different pairs and each pair's adjusted p."""
    out = []
    pairs_table = table.replace(".csv", "_dunn.csv")
    for v in values:
        kept, _, _ = S._groups(df, v, group, order, cfg.min_group_size)
        names = list(kept)
        H = p = eta = np.nan
        pairs: list[tuple] = []
        allv = np.concatenate(list(kept.values())) if kept else np.zeros(0)
        if len(names) >= 2 and np.ptp(allv) > 0:
            r = ss.kruskal(*kept.values())
            H, p = float(r.statistic), float(r.pvalue)
            eta = S.eta_squared_h(H, len(names), len(allv))
            adj = _dunn_adjusted(kept, cfg.p_adjust)
            pairs = [(a, b, float(adj.loc[str(a), str(b)])) for a, b in itertools.combinations(names, 2)]
        test, dunn = f"{table}|{v}|kruskal", f"{table}|{v}|dunn"
        where = (("variable", v),)
        nd = "; ".join(f"{S.glabel(a)} – {S.glabel(b)}" for a, b, pa in pairs if not pa < cfg.alpha)
        out += [
            Stat(table, where, "H", H, test),
            Stat(table, where, "p_value", p, test),
            Stat(table, where, "eta2", eta, test),
            Stat(table, where, "not_different", nd, dunn),
        ]
        out += [
            Stat(pairs_table, (("variable", v), ("group_a", a), ("group_b", b)), "p_adjusted", pa, dunn)
            for a, b, pa in pairs
        ]
    return out


def _spearman(
    df: pd.DataFrame, table: str, x: str, ys: list[str], by: str | None = None, order: list | None = None
) -> list[Stat]:
    """One-sided Spearman ρ and p of ``x`` with each of ``ys`` (per value of ``by``)."""
    out = []
    parts = [(None, df)] if by is None else [(g, df[df[by] == g]) for g in S.ordered_groups(df[by], order)]
    for g, sub in parts:
        for y in ys:
            if x not in sub or y not in sub:
                continue
            r = S.spearman_one_sided(sub[x], sub[y])
            where = (("x", x), ("y", y)) if by is None else (("by", f"{by} = {g}"), ("x", x), ("y", y))
            test = f"{table}|{where}|spearman"
            out += [Stat(table, where, "rho", r["rho"], test), Stat(table, where, "p_value", r["p_value"], test)]
    return out


FIG2_METRICS = ["energy_per_image_j", "gpu_usage_pct", "time_per_image_ms", "f1", "mean_gpu_power_w"]


def _tradeoff(f: pd.DataFrame, cfg: S.StatsConfig) -> list[Stat]:
    """Figure 2's medians per environment × architecture, the reductions and their summaries."""
    env_order, arch_order = S.environment_order(f), S.architecture_order(f)
    g = f.groupby(["environment", "architecture"], sort=False)
    t = g[FIG2_METRICS].median().add_prefix("median_")
    t.insert(0, "n", g.size())
    t = t.reset_index()
    t["_e"] = t["environment"].map({e: i for i, e in enumerate(env_order)})
    t["_a"] = t["architecture"].map({a: i for i, a in enumerate(arch_order)})
    t = t.sort_values(["_e", "_a", "environment", "architecture"], kind="stable").reset_index(drop=True)
    out = [
        Stat(
            T + "tradeoff.csv",
            (("environment", r.environment), ("architecture", r.architecture)),
            f"median_{m}",
            float(getattr(r, f"median_{m}")),
        )
        for r in t.itertuples()
        for m in FIG2_METRICS
    ]
    env, arch = cfg.rq1_environment, cfg.rq2_architecture
    ok = t[(t["environment"] == env) & (t["n"] >= cfg.min_group_size)]  # the reference: the most energy-greedy
    ref = (
        str(ok.loc[ok["median_energy_per_image_j"].idxmax(), "architecture"])
        if ok["median_energy_per_image_j"].notna().any()
        else None
    )
    scopes = [
        (t[t["environment"] == env], ["architecture"], f"architectures in {env}", ref),
        (t[t["architecture"] == arch], ["environment"], f"environments for {arch}", env),
        (t, ["environment", "architecture"], "all environment x architecture", None),
    ]
    for i, (sub, keys, scope, reference) in enumerate(scopes):
        pairs = S.reduction_pairs(sub, keys, scope=scope, min_n=cfg.min_group_size)
        if i < 2:  # the pairs of every combination (scope 3) are many; their summary says it all
            out += [
                Stat(T + "reductions.csv", (("scope", scope), ("from", r["from"]), ("to", r["to"])), col, r[col])
                for _, r in pairs.iterrows()
                for col in ("reduction", "f1_decrease")
            ]
        summary = S.reduction_summary(pairs, scope, reference, min_n=cfg.min_group_size)
        out += [
            Stat(T + "reductions_summary.csv", (("scope", scope), ("statistic", r["statistic"])), col, r[col])
            for _, r in summary[summary["status"] == S.STATUS_OK].iterrows()
            for col in ("reduction", "f1_decrease")
        ]
    return out


def seed_statistics(runs: pd.DataFrame, cfg: S.StatsConfig) -> list[Stat]:
    """Every number of RQ1, RQ2, RQ3.1 and Figure 2 from one cleaned runs table (no figures, no tables).

    The same selections and definitions as :func:`dlenergy.stats.rq1_tables`, ``rq2_tables``,
    ``tradeoff_tables`` and ``ram_tables``, computed with the single tests only.
    """
    df = S.add_derived(runs)
    out = [Stat("clean/summary.csv", (("stage", "total"),), "runs_out", float(len(runs)))]
    s = S.rq1_selection(df, cfg)
    if s.reason is None:
        order = S.architecture_order(s.frame)
        out += _normality(s.frame, T + "table3_normality_rq1.csv", S.RQ1_VALUES, "architecture", order, cfg)
        out += _kruskal(s.frame, T + "kruskal_dunn_rq1.csv", S.RQ1_KRUSKAL, "architecture", order, cfg)
        out += _spearman(s.frame, T + "table6_spearman_flops.csv", "gflops", S.TABLE6_VALUES)
    s = S.rq2_selection(df, cfg)
    if s.reason is None:
        order = S.environment_order(s.frame)
        out += _normality(s.frame, T + "table4_normality_rq2.csv", S.RQ2_VALUES, "environment", order, cfg)
        out += _kruskal(s.frame, T + "kruskal_dunn_rq2.csv", S.RQ2_VALUES, "environment", order, cfg)
    b1 = S.block1(df, cfg)
    if b1.reason is None:
        out += _spearman(
            b1.frame,
            T + "spearman_gpu_usage.csv",
            "gpu_usage_pct",
            ["mean_gpu_power_w", "energy_per_image_j"],
            by="environment",
            order=S.environment_order(b1.frame),
        )
        out += _tradeoff(b1.frame, cfg)
    s = S.ram_selection(df, cfg)
    if s.reason is None:
        order = sorted(s.frame[cfg.ram_column].dropna().unique())
        out += _normality(s.frame, T + "table5_normality_ram.csv", S.RAM_VALUES, cfg.ram_column, order, cfg)
        out += _kruskal(s.frame, T + "table7_kruskal_ram.csv", S.RAM_VALUES, cfg.ram_column, order, cfg)
    return out


# ----------------------------------------------------------------------------------------------
# names: the scorecard key where the paper reports the number

#: kind of a number the paper does not report, by its column (the scorecard's kinds)
KIND_OF_COLUMN = {
    "shapiro_w": "shapiro_w",
    "shapiro_p": "p_value",
    "levene_w": "statistic",
    "levene_p": "p_value",
    "H": "statistic",
    "p_value": "p_value",
    "eta2": "eta2",
    "not_different": "pair_set",
    "p_adjusted": "p_value",
    "rho": "rho",
    "median_energy_per_image_j": "energy",
    "median_gpu_usage_pct": "percentage",
    "median_f1": "score",
    "median_mean_gpu_power_w": "power",
    "median_time_per_image_ms": "time",
    "reduction": "fraction",
    "f1_decrease": "f1_decrease",
    "runs_out": "count",
}


class Namer:
    """Names a :class:`Stat` by the scorecard key(s) whose :func:`~dlenergy.scorecard.spec_for` points at
    its table, row and column, else ``<table>.<row values>.<column>``; cached per (table, row, column).

    Examples
    --------
    >>> name = Namer(["rq1_cloud_chesslive.kruskal_wallis.energy.H"])
    >>> name(Stat("tables/kruskal_dunn_rq1.csv", (("variable", "energy_per_image_j"),), "H", 121.7))
    [('rq1_cloud_chesslive.kruskal_wallis.energy.H', 'statistic', None)]
    >>> name(Stat("tables/kruskal_dunn_rq1.csv", (("variable", "f1"),), "H", 98.0))
    [('kruskal_dunn_rq1.f1.H', 'statistic', None)]
    """

    def __init__(self, keys: Iterable[str]):
        self.specs: dict[tuple[str, str], list[tuple[str, SC.Spec]]] = {}
        for key, spec in SC.mapping(list(keys)).items():
            if spec is not None:
                self.specs.setdefault((spec.table, spec.column), []).append((key, spec))
        self.cache: dict[tuple, list[tuple[str, str, str | None]]] = {}

    def __call__(self, st: Stat) -> list[tuple[str, str, str | None]]:
        sig = (st.table, st.where, st.column)
        if sig not in self.cache:
            self.cache[sig] = self._resolve(st)
        return self.cache[sig]

    def _resolve(self, st: Stat) -> list[tuple[str, str, str | None]]:
        where = dict(st.where)
        found = [
            (key, spec.kind, spec.transform)
            for key, spec in self.specs.get((st.table, st.column), [])
            if {k for k, _ in spec.where} == set(where) and all(SC._same(where[k], v) for k, v in spec.where)
        ]
        if found:
            return found
        stem = st.table.rsplit("/", 1)[-1].removesuffix(".csv")
        name = ".".join([stem, *(S.glabel(v) for _, v in st.where), st.column])
        return [(name, KIND_OF_COLUMN.get(st.column, ""), None)]


# ----------------------------------------------------------------------------------------------
# running the seeds


def _batch(
    pre: pd.DataFrame,
    variant: str,
    seeds: list[int],
    cleaning: CleaningConfig,
    rcfg: RobustnessConfig,
    authors_columns: list[str],
    stats_cfg: S.StatsConfig,
) -> list[tuple[int, list[Stat]]]:
    out = []
    for s in seeds:
        config = outlier_config(variant, s, cleaning, rcfg, authors_columns)
        out.append((s, seed_statistics(kept_runs(pre, config), stats_cfg)))
    return out


def _jobs(rcfg: RobustnessConfig, seed: int, n_jobs: int) -> list[tuple[str, list[int]]]:
    """(variant, seeds) batches: a few per worker, so that workers stay busy to the end."""
    seeds = seed_list(seed, rcfg.n_seeds)
    jobs = []
    for variant in rcfg.variants:
        vs = [int(seed)] if variant == "none" else seeds
        n = max(1, min(len(vs), 4 * max(1, n_jobs)))
        jobs += [(variant, [int(x) for x in b]) for b in np.array_split(np.array(vs), n) if len(b)]
    return jobs


def seed_values(
    pre: pd.DataFrame,
    cleaning: CleaningConfig,
    stats_cfg: S.StatsConfig,
    rcfg: RobustnessConfig,
    seed: int,
    keys: Iterable[str],
    n_jobs: int = 1,
    verbose: int = 0,
) -> tuple[pd.DataFrame, list[str]]:
    """Every statistic under every variant and seed: one row per (variant, seed, statistic).

    ``pre``: the runs before the outlier stage (:func:`pre_outlier_runs`); ``keys``: the scorecard keys
    that name the numbers; seeds run in parallel over ``n_jobs`` processes (joblib; ``verbose``: its
    progress messages on stderr).  Numbers are in
    ``value``, Dunn's pair sets in ``text``.  Returns the table and notes on the authors' features.
    """
    from joblib import Parallel, delayed

    pre_a, authors_columns, notes = add_authors_features(pre, rcfg.authors_features)
    jobs = _jobs(rcfg, seed, n_jobs)
    frames = {v: (pre_a if v == "authors" else pre) for v in rcfg.variants}
    results = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_batch)(frames[v], v, seeds, cleaning, rcfg, authors_columns, stats_cfg) for v, seeds in jobs
    )
    name = Namer(keys)
    rows = []
    for (variant, _), batch in zip(jobs, results):
        for s, stats in batch:
            for st in stats:
                for key, kind, transform in name(st):
                    v = st.value
                    text = v if isinstance(v, str) else None
                    num = np.nan if text is not None else float(v)
                    if transform == "one_minus":
                        num = 1.0 - num
                    rows.append(
                        (
                            variant,
                            s,
                            key,
                            kind,
                            st.test,
                            num,
                            text,
                            st.table,
                            SC.Spec(st.table, st.where, st.column, kind).row,
                            st.column,
                        )
                    )
    cols = SEED_COLUMNS + ["table", "row", "column"]
    return pd.DataFrame(rows, columns=cols), notes


# ----------------------------------------------------------------------------------------------
# the paper's conclusion each number supports, and over how many seeds it holds

_P_COLUMNS = ("shapiro_p", "levene_p", "p_value")


#: η² classes (Cohen): (lower bound, name, text)
EFFECT_CLASSES = (
    (0.14, "large", "η² ≥ 0.14"),
    (0.06, "medium", "0.06 ≤ η² < 0.14"),
    (0.01, "small", "0.01 ≤ η² < 0.06"),
    (-np.inf, "negligible", "η² < 0.01"),
)


def _effect(eta2: float) -> tuple[str, str]:
    """(class, its range) of an η² value."""
    if not np.isfinite(eta2):
        return "", ""
    return next((name, text) for lo, name, text in EFFECT_CLASSES if eta2 >= lo)


def _test_claim(test: str, column: str, paper_p: float, alpha: float) -> tuple[str, Callable]:
    """The decision of a test (read from its p-value) that the paper draws."""
    a = f"α = {alpha:g}"
    if test == "shapiro":
        return (
            (f"not normal at {a}", lambda p: p <= alpha)
            if paper_p <= alpha
            else (f"normal at {a}", lambda p: p > alpha)
        )
    if test == "levene":
        return (
            (f"unequal variances at {a}", lambda p: p <= alpha)
            if paper_p <= alpha
            else (f"equal variances at {a}", lambda p: p > alpha)
        )
    side = " (one-sided)" if test == "spearman" else ""
    return (
        (f"significant at {a}{side}", lambda p: p < alpha)
        if paper_p < alpha
        else (f"not significant at {a}{side}", lambda p: p >= alpha)
    )


def claim(
    kind: str,
    column: str,
    test: str,
    paper,
    *,
    paper_p=None,
    paper_pairs=None,
    pair=None,
    alpha: float = 0.05,
    tolerances: dict | None = None,
) -> tuple[str, Callable | None, str]:
    """(conclusion, holds(value) -> bool, what holds() reads: "self" or "test_p") of one number.

    ``paper``: the paper's value of this number (None: not reported); ``paper_p``: the paper's p-value
    of the test the number belongs to; ``paper_pairs``/``pair``: for a Dunn pair, the paper's set of
    not-different pairs and this pair.  ("", None, "") when the paper draws no conclusion from it.

    Examples
    --------
    >>> text, holds, reads = claim("shapiro_w", "shapiro_w", "shapiro", "0.57", paper_p="1.6e-06")
    >>> text, reads, holds(0.01), holds(0.2)
    ('not normal at α = 0.05', 'test_p', True, False)
    >>> claim("energy", "median_energy_per_image_j", "", "0.39")[0]
    'within the scorecard tolerance of the paper (rel <= 0.05)'
    """
    if column == "p_adjusted" and paper_pairs is not None:
        if frozenset(pair) in SC._pairs(paper_pairs):
            return f"pair not different at α = {alpha:g}", lambda p: not p < alpha, "self"
        return f"pair different at α = {alpha:g}", lambda p: p < alpha, "self"
    if paper is None:
        return "", None, ""
    if kind == "pair_set":
        want = SC._pairs(paper)
        return f"not-different pairs = {SC._fmt_pairs(want) or 'none'}", lambda t: SC._pairs(t) == want, "self"
    if column == "eta2":
        cls, text = _effect(float(paper))
        return f"{cls} effect ({text})", lambda v: _effect(v)[0] == cls, "self"
    if column == "rho":
        strength, sign = S.correlation_strength(float(paper)), np.sign(float(paper))
        word = "positive" if sign > 0 else "negative"
        return (
            f"{strength} {word} correlation",
            lambda v: S.correlation_strength(v) == strength and np.sign(v) == sign,
            "self",
        )
    if test in ("shapiro", "levene", "kruskal", "spearman") and column != "rho":
        if paper_p is None:
            return "", None, ""
        text, holds = _test_claim(test, column, float(paper_p), alpha)
        return text, holds, ("self" if column in _P_COLUMNS else "test_p")
    rule = {**SC.DEFAULT_TOLERANCES, **(tolerances or {})}.get(kind)
    if rule is None:
        return "", None, ""
    return (
        f"within the scorecard tolerance of the paper ({SC.tolerance_text(rule)})",
        lambda v: SC.judge(kind, paper, v, tolerances).verdict == SC.PASS,
        "self",
    )


# ----------------------------------------------------------------------------------------------
# the summary: one row per statistic and variant


def _test_type(test: str) -> str:
    return test.rsplit("|", 1)[-1] if test else ""


def _numeric_summary(values: pd.Series) -> dict:
    v = values.to_numpy(dtype="float64")
    v = v[np.isfinite(v)]
    if not len(v):
        return {"min": np.nan, "p5": np.nan, "median": np.nan, "p95": np.nan, "max": np.nan, "n_seeds": 0}
    q = np.percentile(v, [0, 5, 50, 95, 100])
    return {"min": q[0], "p5": q[1], "median": q[2], "p95": q[3], "max": q[4], "n_seeds": int(len(v))}


def _set_summary(texts: pd.Series, paper) -> dict:
    t = texts.dropna()
    out = {"min": np.nan, "p5": np.nan, "median": np.nan, "p95": np.nan, "max": np.nan, "n_seeds": int(len(t))}
    if len(t):
        sets = t.map(lambda s: SC._fmt_pairs(SC._pairs(s)) or "none")
        top = sets.value_counts()
        out["note"] = "most frequent pair set: " + "; ".join(f"{s} ({c / len(t):.0%})" for s, c in top.head(3).items())
        if paper is not None:
            out["paper_within_range"] = bool((t.map(SC._pairs) == SC._pairs(paper)).any())
    return out


def _share(holds: Callable | None, evidence: pd.Series) -> float:
    """Share of seeds (with a value) under which ``holds`` is true."""
    if holds is None:
        return np.nan
    ev = evidence.dropna()
    if pd.api.types.is_numeric_dtype(ev):
        ev = ev[np.isfinite(ev.to_numpy(dtype="float64"))]
    if not len(ev):
        return np.nan
    return float(np.mean([bool(holds(x)) for x in ev]))


def printed_interval(text) -> tuple[float, float]:
    """The interval a number printed as ``text`` stands for: ± half a unit of its last digit.

    Examples
    --------
    >>> [round(x, 6) for x in printed_interval("0.57")]
    [0.565, 0.575]
    >>> printed_interval("1.6e-06")
    (1.55e-06, 1.65e-06)
    """
    d = Decimal(str(text).strip())
    half = Decimal(5) * Decimal(10) ** (d.as_tuple().exponent - 1)
    return float(d - half), float(d + half)


def _pair(row: str) -> tuple[str, str]:
    """(group_a, group_b) of a Dunn pair's row text ``variable=v, group_a=a, group_b=b``."""
    parts = dict(p.partition("=")[::2] for p in row.split(", "))
    return parts.get("group_a", ""), parts.get("group_b", "")


def _lookup_tests(meta: pd.DataFrame, paper: dict) -> tuple[dict, dict]:
    """test id -> the statistic holding its p-value, and -> its Dunn pair set (a reported one first)."""
    p_of, sets_of = {}, {}
    for stat, m in meta.sort_values("statistic", key=lambda s: ~s.isin(list(paper)), kind="stable").iterrows():
        if m["column"] in _P_COLUMNS and _test_type(m["test"]) != "dunn":
            p_of.setdefault(m["test"], stat)
        elif m["column"] == "not_different":
            sets_of.setdefault(m["test"], stat)
    return p_of, sets_of


def _summary_row(
    stat: str,
    m: pd.Series,
    num: pd.DataFrame,
    txt: pd.DataFrame,
    paper: dict,
    tests: tuple,
    seed: int,
    alpha: float,
    tolerances: dict | None,
) -> dict:
    kind, column, test = m["kind"], m["column"], m["test"]
    p_of, sets_of = tests
    pv = paper.get(stat)
    is_pair = column == "p_adjusted"
    text, holds, reads = claim(
        kind,
        column,
        _test_type(test),
        pv,
        paper_p=paper.get(p_of.get(test)),
        paper_pairs=paper.get(sets_of.get(test)) if is_pair else None,
        pair=_pair(m["row"]) if is_pair else None,
        alpha=alpha,
        tolerances=tolerances,
    )
    values = txt.loc[stat] if kind == "pair_set" else num.loc[stat]
    # the configured seed's value; a variant evaluated once (no outlier removal) has that one value
    value = values.iloc[0] if len(values) == 1 else values.get(seed, np.nan)
    row = {
        "statistic": stat,
        "kind": kind,
        "table": m["table"],
        "row": m["row"],
        "column": column,
        "value": value,
        "conclusion": text,
        "paper": "" if pv is None else pv,
        "paper_within_range": None,
        "note": "",
    }
    if kind == "pair_set":
        row.update(_set_summary(values, pv))
    else:
        row.update(_numeric_summary(values))
        if pv is not None and row["n_seeds"]:
            lo, hi = printed_interval(pv)
            row["paper_within_range"] = bool(lo <= row["max"] and hi >= row["min"])
    evidence = values if reads != "test_p" else num.loc[p_of[test]].where(values.notna())
    row["share_conclusion_holds"] = _share(holds, evidence)
    return row


def summarize(
    seeds: pd.DataFrame,
    targets: pd.DataFrame | None = None,
    *,
    seed: int,
    alpha: float = 0.05,
    tolerances: dict | None = None,
) -> pd.DataFrame:
    """One row per statistic and variant (columns :data:`COLUMNS`) from :func:`seed_values`' table.

    ``value`` is the number at the configured ``seed``; ``min`` ... ``max`` and ``n_seeds`` run over the
    seeds with a value; ``share_conclusion_holds`` is the share of those seeds under which the
    conclusion the paper draws from the number holds (:func:`claim`); ``paper_within_range``:
    ``min <= paper <= max``, the paper's value taken as printed (± half a unit of its last digit,
    :func:`printed_interval`); for Dunn's pair sets: the paper's set occurs under some seed.
    """
    paper = dict(zip(targets["key"], targets["value"])) if targets is not None else {}
    rows = []
    for variant, d in seeds.groupby("variant", sort=False):
        num = d.pivot(index="statistic", columns="seed", values="value")
        txt = d.pivot(index="statistic", columns="seed", values="text")
        meta = d.drop_duplicates("statistic").set_index("statistic")
        tests = _lookup_tests(meta, paper)
        for stat, m in meta.iterrows():
            rows.append({"variant": variant, **_summary_row(stat, m, num, txt, paper, tests, seed, alpha, tolerances)})
    out = pd.DataFrame(rows, columns=COLUMNS)
    first = {s: i for i, s in enumerate(dict.fromkeys(seeds["statistic"]))}
    out["_s"] = out["statistic"].map(first)
    out["_v"] = out["variant"].map({v: i for i, v in enumerate(VARIANTS)})
    return out.sort_values(["_s", "_v"], kind="stable").drop(columns=["_s", "_v"]).reset_index(drop=True)


def robustness(
    runs: pd.DataFrame,
    ingest_ledger: pd.DataFrame | None,
    cleaning: CleaningConfig,
    stats_cfg: S.StatsConfig,
    rcfg: RobustnessConfig,
    *,
    seed: int,
    targets: pd.DataFrame | None = None,
    tolerances: dict | None = None,
    n_jobs: int = 1,
    verbose: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The whole sensitivity analysis of an ingested runs table: (summary, per-seed values, notes).

    ``runs`` and ``ingest_ledger``: the pipeline's ``runs.parquet`` and ``ingest_ledger.csv``;
    ``targets``: the paper's numbers (default: the package copy, :func:`dlenergy.scorecard.read_targets`).
    """
    targets = SC.read_targets() if targets is None else targets
    pre = pre_outlier_runs(runs, ingest_ledger, cleaning)
    values, notes = seed_values(pre, cleaning, stats_cfg, rcfg, seed, targets["key"], n_jobs=n_jobs, verbose=verbose)
    summary = summarize(values, targets, seed=seed, alpha=stats_cfg.alpha, tolerances=tolerances)
    notes = [f"{len(pre)} runs enter the outlier stage; seeds {seed} .. {seed + rcfg.n_seeds - 1}"] + notes
    return summary, values, notes


# ----------------------------------------------------------------------------------------------
# Markdown and the figure


def tolerance_units(kind: str, paper, values, tolerances: dict | None = None) -> np.ndarray | None:
    """Deviation of ``values`` from the paper's value in units of the scorecard tolerance of ``kind``.

    ``log10`` rules: (log10 v − log10 t) / d; ``relative``: (v / t − 1) / r; ``absolute``: (v − t) / a
    (the first that applies, in this order).  |units| ≤ 1 is a pass; None for ``exact`` kinds.

    Examples
    --------
    >>> tolerance_units("shapiro_w", "0.57", [0.62, 0.57]).round(6).tolist()
    [1.0, 0.0]
    >>> tolerance_units("p_value", "1e-5", [1e-3]).tolist()
    [2.0]
    """
    rule = {**SC.DEFAULT_TOLERANCES, **(tolerances or {})}.get(kind) or {}
    if rule.get("exact") or not any(k in rule for k in ("log10", "relative", "absolute")):
        return None
    t, v = float(paper), np.asarray(values, dtype="float64")
    if "log10" in rule and t > 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.log10(np.maximum(v, 1e-300)) - np.log10(t)) / rule["log10"]
    if "relative" in rule and t != 0:
        return (v / t - 1.0) / rule["relative"]
    if "absolute" in rule:
        return (v - t) / rule["absolute"]
    return None


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return ""
    if isinstance(x, str):
        return x
    return f"{x:.3g}"


def to_markdown(summary: pd.DataFrame, source: str, label: str | None = None, notes: list[str] | None = None) -> str:
    """The numbers the paper reports, one row each: the paper's value and every variant's range."""
    lines = [f"# Outlier-seed sensitivity: `{source}`", ""]
    if label:
        synthetic = "synthetic" in label.lower() or "simulated" in label.lower()
        lines += [f"> **{'SYNTHETIC DATA' if synthetic else 'Data'}:** {label}", ""]
    lines += [f"- {n}" for n in notes or []] + [""]
    rep = summary[summary["paper"].astype(str) != ""]
    for v in dict.fromkeys(rep["variant"]):
        d = rep[rep["variant"] == v]
        within = d["paper_within_range"].astype("boolean")
        lines.append(
            f"- **{VARIANT_LABELS.get(v, v)}**: the paper's value lies in the seed range of "
            f"{int(within.sum())} of {int(within.notna().sum())} reported numbers."
        )
    lines += [
        "",
        "Range: [min, max] over seeds (p5–p95 in brackets); holds: share of seeds under which the "
        "paper's conclusion holds.",
        "",
    ]
    wide = []
    for stat, d in rep.groupby("statistic", sort=False):
        row = {"statistic": f"`{stat}`", "paper": d["paper"].iloc[0], "conclusion": d["conclusion"].iloc[0]}
        for r in d.itertuples():
            rng = (
                f"[{_fmt(r.min)}, {_fmt(r.max)}] ({_fmt(r.p5)}–{_fmt(r.p95)})"
                if r.kind != "pair_set"
                else (r.note or "").removeprefix("most frequent pair set: ")
            )
            row[f"{r.variant}: value"] = _fmt(r.value)
            row[f"{r.variant}: range"] = rng + (" ✓" if r.paper_within_range is True else "")
            row[f"{r.variant}: holds"] = "" if pd.isna(r.share_conclusion_holds) else f"{r.share_conclusion_holds:.0%}"
        wide.append(row)
    if wide:
        lines.append(pd.DataFrame(wide).fillna("").to_markdown(index=False))
    lines += [
        "",
        "✓: the paper's value (as printed) lies in [min, max]. All statistics, also those the paper "
        "does not report: `tables/robustness.csv`; every seed's value: `tables/robustness_seeds.parquet`.",
    ]
    return "\n".join(lines) + "\n"


def _figure_rows(values: pd.DataFrame, summary: pd.DataFrame, tolerances: dict | None) -> list[tuple]:
    """(statistic, {variant: deviations over seeds}, {variant: value at the configured seed}) per reported number."""
    rep = summary[(summary["paper"].astype(str) != "") & (summary["kind"] != "pair_set")]
    rows = []
    for stat, d in rep.groupby("statistic", sort=False):
        kind, paper = d["kind"].iloc[0], d["paper"].iloc[0]
        v = values[values["statistic"] == stat]
        dev = {var: tolerance_units(kind, paper, g["value"].dropna(), tolerances) for var, g in v.groupby("variant")}
        at = {
            r.variant: tolerance_units(kind, paper, [r.value], tolerances)
            for r in d.itertuples()
            if isinstance(r.value, float) and np.isfinite(r.value)
        }
        if any(x is None for x in dev.values()) or not any(len(x) for x in dev.values()):
            continue
        rows.append((stat, dev, {k: float(x[0]) for k, x in at.items() if x is not None}))
    return rows


def seeds_figure(values: pd.DataFrame, summary: pd.DataFrame, tolerances: dict | None = None, clip: float = 6.0):
    """Per number the paper reports, the seed distribution of each variant (boxes: p5–p95 whiskers) in
    tolerance units of the paper's value (0: the paper; shaded |x| ≤ 1: within the scorecard's
    tolerance); ◆ the configured seed's value (the pipeline's number), × no outlier removal."""
    import matplotlib.pyplot as plt

    from . import figures as F

    rows = _figure_rows(values, summary, tolerances)
    if not rows:
        raise ValueError("no number of the paper with seed values to draw")
    fig, ax = plt.subplots(figsize=(9.5, 1.6 + 0.24 * len(rows)))
    ax.axvspan(-1, 1, color="#d9f0d3", zorder=0, label="within tolerance")
    ax.axvline(0, color="0.2", lw=0.8, zorder=1)
    pal = {"configured": F.PALETTE[0], "authors": F.PALETTE[1]}
    for i, (_stat, dev, at) in enumerate(rows):
        for j, var in enumerate(("configured", "authors")):
            if var in dev and len(dev[var]):
                x = np.clip(dev[var], -clip, clip)
                ax.boxplot(
                    [x],
                    positions=[i + (j - 0.5) * 0.36],
                    widths=0.3,
                    vert=False,
                    whis=(5, 95),
                    showfliers=False,
                    patch_artist=True,
                    manage_ticks=False,
                    boxprops={"facecolor": pal[var], "alpha": 0.7, "lw": 0.6},
                    medianprops={"color": "0.1", "lw": 0.8},
                    whiskerprops={"lw": 0.6},
                    capprops={"lw": 0.6},
                )
        if "configured" in at:
            ax.plot(np.clip(at["configured"], -clip, clip), i - 0.18, "D", ms=4, color="0.1", zorder=3)
        if "none" in at:
            ax.plot(np.clip(at["none"], -clip, clip), i, "x", ms=5, color="#a6361c", zorder=3)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r[0] for r in rows], fontsize=6.5)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(-clip - 0.3, clip + 0.3)
    ax.set_xlabel(f"deviation from the paper's value, in scorecard tolerance units (clipped at ±{clip:g})")
    handles = [plt.Rectangle((0, 0), 1, 1, color=pal[v], alpha=0.7) for v in pal]
    handles += [
        plt.Line2D([], [], ls="", marker="D", color="0.1"),
        plt.Line2D([], [], ls="", marker="x", color="#a6361c"),
    ]
    ax.legend(
        handles,
        [VARIANT_LABELS["configured"], VARIANT_LABELS["authors"], "configured seed (pipeline)", VARIANT_LABELS["none"]],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=2,
        fontsize=7,
    )
    ax.set_title("Outlier-seed sensitivity of the paper's numbers", loc="left", pad=34)
    fig.tight_layout()
    return fig
