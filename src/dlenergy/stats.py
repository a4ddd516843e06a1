"""Statistics of RQ1, RQ2 and RQ3.1 (paper §3.7, §4.1–§4.3) as pure functions on a cleaned runs table.

Tests, as the paper uses them:

* normality: Shapiro-Wilk W and p per group; equality of variances: Levene (median-centred, as
  ``scipy.stats.levene`` and ``pingouin.homoscedasticity`` default to) across the groups (Tables 3–5);
* group differences: Kruskal-Wallis H and p with the effect size η² = (H − k + 1) / (n − k), then
  Dunn's post-hoc test (scikit-posthocs, p-values adjusted with the configured method) with Dunn's z
  and Cliff's δ beside each pair (§4.1, §4.2, Table 7);
* correlations: one-sided Spearman ρ (``alternative="greater"``) (Table 6, RQ 2.2);
* trade-offs: medians per environment × architecture (Figure 2), pairwise energy reductions and the
  F1 change they cost, the energy–F1 Pareto front, F1 per kWh;
* uncertainty (:mod:`dlenergy.uncertainty`): a seeded bootstrap CI beside every median of the
  trade-off table (``<column>_ci_low``/``_ci_high``), every reduction and F1 decrease (two samples
  resampled independently), every Spearman ρ (pairs resampled) and every Dunn pair's Cliff's δ;
  ``ci_note`` says where an interval is not the configured method (degenerate, percentile, n/a).

Nothing here raises on small or degenerate data: a group with fewer than ``min_n`` runs, a single
group, a constant variable or an empty selection gives a row whose ``status`` is ``insufficient`` or
``skipped`` and whose ``note`` says why.  The ``*_tables`` functions at the end assemble the named
tables of the pipeline (``results/<source>/tables/``) from a runs table and a :class:`StatsConfig`.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scikit_posthocs as sp
from scipy import stats as ss

from .uncertainty import BootstrapConfig, Interval, cliffs_delta_ci, median_ci, reduction_ci, spearman_ci

MIN_N = 3  #: fewest runs in a group for Shapiro-Wilk, Levene and Kruskal-Wallis

#: derived per-run columns (added by :func:`add_derived`) and the paper's units
DERIVED = {
    "time_per_image_ms": "duration_s / images_seen x 1000",
    "energy_kj": "energy_j / 1000",
    "duration_min": "duration_s / 60",
    "ram_used_gb": "mean_ram_used_mb / 1024",
    "f1_per_kwh": "f1 / (energy_j / 3.6e6)",
}

LABELS = {
    "energy_per_image_j": "Energy per image (J)",
    "gpu_usage_pct": "GPU usage (%)",
    "f1": "F1 score",
    "time_per_image_ms": "Time per image (ms)",
    "energy_kj": "Training energy (kJ)",
    "energy_j": "Training energy (J)",
    "duration_min": "Training duration (min)",
    "duration_s": "Training duration (s)",
    "ram_used_gb": "Average RAM used (GB)",
    "mean_gpu_power_w": "Average GPU power (W)",
    "gflops": "GFLOPs",
    "f1_per_kwh": "F1 per kWh",
    "total_ram_gb": "Allocated RAM (GB)",
    "batch_size": "Batch size",
    "image_size": "Input size (px)",
    "architecture": "Architecture",
    "environment": "Training environment",
}

STATUS_OK, STATUS_INSUFFICIENT, STATUS_SKIPPED = "ok", "insufficient", "skipped"


# ----------------------------------------------------------------------------------------------
# configuration and selection


@dataclass
class StatsConfig:
    """The ``stats:`` section of config.yaml (defaults follow the paper)."""

    p_adjust: str | None = "holm"
    alpha: float = 0.05
    min_group_size: int = MIN_N
    rq1_environment: str = "cloud"
    rq2_architecture: str = "mobilenet_v2"
    #: runs of block 2 (RQ3) left out of RQ1/RQ2 and the trade-offs: column -> value(s)
    block1_exclude: dict = field(default_factory=lambda: {"architecture": ["inception_v3"]})
    #: RQ3.1 allocated-RAM sub-experiment: column -> value(s) (null = any) and the grouping column
    ram: dict = field(
        default_factory=lambda: {
            "environment": "cloud",
            "architecture": "inception_v3",
            "dataset": "stanford_dogs",
            "batch_size": 256,
            "image_size": 128,
        }
    )
    ram_column: str = "total_ram_gb"
    #: RQ3.1 batch/input-size sub-experiment: column -> value(s) (null = any)
    batch_input: dict = field(default_factory=lambda: {"architecture": "inception_v3"})
    #: bootstrap CIs: n_resamples (0 = off), confidence, method (dlenergy.uncertainty.BootstrapConfig)
    bootstrap: dict = field(default_factory=dict)
    #: master seed of the bootstrap (config ``seed``)
    seed: int = 42

    @classmethod
    def from_dict(cls, d: dict | None) -> StatsConfig:
        d = dict(d or {})
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"stats config: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
        if isinstance(d.get("p_adjust"), str) and d["p_adjust"].lower() in ("none", "null", ""):
            d["p_adjust"] = None
        return cls(**d)

    @property
    def p_adjust_name(self) -> str:
        return self.p_adjust or "none"

    @property
    def boot(self) -> BootstrapConfig | None:
        """The bootstrap of the CIs, or None when switched off (``bootstrap.n_resamples: 0``)."""
        b = BootstrapConfig.from_dict(self.bootstrap, seed=self.seed)
        return b if b.enabled else None


@dataclass
class Selection:
    frame: pd.DataFrame
    description: str
    reason: str | None = None  #: why the selection is empty (None when it is not)


def _as_list(v) -> list:
    return list(v) if isinstance(v, (list, tuple, set)) else [v]


def select(runs: pd.DataFrame, include: dict | None = None, exclude: dict | None = None) -> Selection:
    """Rows matching every ``include`` filter (column -> value or list; None = any), minus ``exclude``."""
    mask = pd.Series(True, index=runs.index)
    parts: list[str] = []
    for col, val in (include or {}).items():
        if val is None:
            continue
        vals = _as_list(val)
        parts.append(f"{col} == {vals[0]!r}" if len(vals) == 1 else f"{col} in {vals!r}")
        if col not in runs.columns:
            return Selection(runs.iloc[0:0], "; ".join(parts), f"the runs table has no column '{col}'")
        mask &= runs[col].isin(vals)
    for col, val in (exclude or {}).items():
        if val is None or col not in runs.columns:
            continue
        vals = _as_list(val)
        parts.append(f"{col} not in {vals!r}")
        mask &= ~runs[col].isin(vals)
    desc = "; ".join(parts) if parts else "all runs"
    out = runs.loc[mask]
    reason = None
    if out.empty:
        present = []
        for col in include or {}:
            if col in runs.columns and (include or {}).get(col) is not None:
                present.append(f"{col}: {', '.join(map(str, ordered_groups(runs[col])))}")
        reason = f"no runs with {desc}" + (f" (values present: {'; '.join(present)})" if present else "")
        if runs.empty:
            reason = "the runs table is empty"
    return Selection(out, desc, reason)


def add_derived(runs: pd.DataFrame) -> pd.DataFrame:
    """The cleaned runs table plus the per-run columns of :data:`DERIVED` (NaN where inputs are missing)."""
    df = runs.drop(columns=["data_label"], errors="ignore").copy()

    def col(name):
        return pd.to_numeric(df[name], errors="coerce") if name in df else pd.Series(np.nan, index=df.index)

    images = col("images_seen").where(lambda s: s > 0)
    energy = col("energy_j").where(lambda s: s > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["time_per_image_ms"] = col("duration_s") / images * 1000.0
        df["energy_kj"] = col("energy_j") / 1000.0
        df["duration_min"] = col("duration_s") / 60.0
        df["ram_used_gb"] = col("mean_ram_used_mb") / 1024.0
        df["f1_per_kwh"] = col("f1") / (energy / 3.6e6)
    for c in ("energy_per_image_j", "gpu_usage_pct", "f1", "mean_gpu_power_w", "gflops", "max_power_w"):
        if c not in df:
            df[c] = np.nan
    return df


def ordered_groups(values: Iterable, order: list | None = None) -> list:
    """Groups in ``order`` first (those present), then the rest sorted: numbers by value (8 before 16.0,
    whatever their Python types), then the others by type name and value.

    Examples
    --------
    >>> ordered_groups([32, "b", 16.0, None, 8, "a"], order=["b"])
    ['b', 8, 16.0, 32, 'a']
    """
    present = list(dict.fromkeys(v for v in values if not pd.isna(v)))
    order = [o for o in (order or []) if o in present]
    rest = sorted((v for v in present if v not in order), key=_group_key)
    return order + rest


def _group_key(v) -> tuple:
    return (0, "", v) if isinstance(v, numbers.Real) else (1, str(type(v)), v)


def architecture_order(df: pd.DataFrame) -> list:
    """Architectures in ascending order of (median) GFLOPs, as the paper's figures."""
    if "architecture" not in df or df.empty:
        return []
    g = df.groupby("architecture")["gflops"].median() if "gflops" in df else pd.Series(dtype=float)
    archs = sorted(df["architecture"].dropna().unique())
    return sorted(archs, key=lambda a: (np.nan_to_num(g.get(a, np.inf), nan=np.inf), a))


ENV_ORDER = ["local_normal_user", "local_ml_engineer", "cloud"]


def environment_order(df: pd.DataFrame) -> list:
    return ordered_groups(df["environment"] if "environment" in df else [], ENV_ORDER)


# ----------------------------------------------------------------------------------------------
# single tests


def shapiro(x) -> tuple[float, float, str]:
    """Shapiro-Wilk W, p and a note ('' when the test ran)."""
    x = np.asarray(x, dtype="float64")
    x = x[np.isfinite(x)]
    if len(x) < MIN_N:
        return np.nan, np.nan, f"n={len(x)} < {MIN_N}: too few runs for Shapiro-Wilk"
    if np.ptp(x) == 0:
        return np.nan, np.nan, "all values equal: Shapiro-Wilk undefined"
    res = ss.shapiro(x)
    return float(res.statistic), float(res.pvalue), ""


def eta_squared_h(H: float, k: int, n: int) -> float:
    """η² of Kruskal-Wallis: (H − k + 1) / (n − k)."""
    return (H - k + 1.0) / (n - k) if n > k else np.nan


def cliffs_delta(a, b) -> float:
    """Cliff's δ = P(a > b) − P(a < b), from the Mann-Whitney U of ``a``."""
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    if len(a) == 0 or len(b) == 0:
        return np.nan
    u = ss.mannwhitneyu(a, b, alternative="two-sided").statistic
    return float(2.0 * u / (len(a) * len(b)) - 1.0)


def glabel(g) -> str:
    """A group's name for text: 16.0 -> '16'."""
    if isinstance(g, (float, np.floating)) and float(g).is_integer():
        return str(int(g))
    return str(g)


def _groups(df: pd.DataFrame, value: str, group: str, order: list | None, min_n: int):
    """(kept groups as {name: values}, notes on groups left out, all groups with n)."""
    sub = df[[group, value]].copy() if value in df and group in df else pd.DataFrame(columns=[group, value])
    sub[value] = pd.to_numeric(sub[value], errors="coerce")
    sub = sub[np.isfinite(sub[value]) & sub[group].notna()]
    names = ordered_groups(sub[group], order)
    data = {g: sub.loc[sub[group] == g, value].to_numpy(dtype="float64") for g in names}
    kept = {g: v for g, v in data.items() if len(v) >= min_n}
    left = [f"{glabel(g)} (n={len(v)})" for g, v in data.items() if len(v) < min_n]
    notes = [f"left out, n < {min_n}: {', '.join(left)}"] if left else []
    return kept, notes, data


@dataclass
class KruskalDunn:
    value: str
    group: str
    H: float
    p: float
    eta2: float
    n: int
    k: int
    groups: list
    dunn: pd.DataFrame  #: adjusted p-value matrix (scikit-posthocs), groups in ``groups`` order
    pairs: pd.DataFrame  #: one row per pair: z, p (raw, adjusted), Cliff's δ, medians
    not_different: list[tuple]
    p_adjust: str
    alpha: float
    status: str = STATUS_OK
    note: str = ""


PAIR_COLUMNS = [
    "variable",
    "group_by",
    "group_a",
    "group_b",
    "n_a",
    "n_b",
    "median_a",
    "median_b",
    "dunn_z",
    "p_unadjusted",
    "p_adjusted",
    "p_adjust",
    "significant",
    "cliffs_delta",
    "cliffs_delta_ci_low",
    "cliffs_delta_ci_high",
    "status",
    "note",
    "ci_note",
]


def ci_note(**intervals: Interval) -> str:
    """Where an interval is not the configured bootstrap method: ``name: method (why)``, joined by '; '."""
    return "; ".join(f"{k}: {v.method} ({v.note})" for k, v in intervals.items() if v.note)


def dunn_z(data: dict[Any, np.ndarray]) -> pd.DataFrame:
    """Signed Dunn z of every pair (mean rank of a minus b), with the tie correction of scikit-posthocs."""
    names = list(data)
    vals = np.concatenate([data[g] for g in names])
    labels = np.concatenate([[i] * len(data[g]) for i, g in enumerate(names)])
    ranks = ss.rankdata(vals)
    n = len(vals)
    _, counts = np.unique(ranks, return_counts=True)
    ties = np.sum(counts**3 - counts) / (12.0 * (n - 1))
    mean_rank = np.array([ranks[labels == i].mean() for i in range(len(names))])
    ns = np.array([len(data[g]) for g in names])
    rows = []
    for i, j in itertools.combinations(range(len(names)), 2):
        se = math.sqrt((n * (n + 1) / 12.0 - ties) * (1.0 / ns[i] + 1.0 / ns[j]))
        rows.append({"group_a": names[i], "group_b": names[j], "dunn_z": (mean_rank[i] - mean_rank[j]) / se})
    return pd.DataFrame(rows, columns=["group_a", "group_b", "dunn_z"])


def _delta_columns(a: np.ndarray, b: np.ndarray, boot: BootstrapConfig | None) -> dict:
    """Cliff's δ of a pair, its bootstrap CI (NaN without ``boot``) and the CI's note."""
    ci = cliffs_delta_ci(a, b, boot) if boot else Interval(np.nan, np.nan, "off")
    return {
        "cliffs_delta": cliffs_delta(a, b),
        "cliffs_delta_ci_low": ci.low,
        "cliffs_delta_ci_high": ci.high,
        "ci_note": ci_note(cliffs_delta=ci) if boot else "",
    }


def kruskal_dunn(
    df: pd.DataFrame,
    value: str,
    group: str,
    p_adjust: str | None = "holm",
    *,
    alpha: float = 0.05,
    min_n: int = MIN_N,
    order: list | None = None,
    boot: BootstrapConfig | None = None,
) -> KruskalDunn:
    """Kruskal-Wallis H, p, η², n, k and Dunn's post-hoc test of ``value`` across ``group``.

    Groups with fewer than ``min_n`` finite values are left out (and named in ``note``); with fewer
    than two groups left the result has NaN statistics and ``status`` ``insufficient``.  With
    ``boot``, each pair's Cliff's δ gets a bootstrap CI (the two groups resampled independently).
    """
    padj = p_adjust or "none"
    kept, notes, _ = _groups(df, value, group, order, min_n)
    names = list(kept)
    n = int(sum(len(v) for v in kept.values()))
    empty_pairs = pd.DataFrame(columns=PAIR_COLUMNS)

    def bad(reason):
        return KruskalDunn(
            value,
            group,
            np.nan,
            np.nan,
            np.nan,
            n,
            len(names),
            names,
            pd.DataFrame(),
            empty_pairs,
            [],
            padj,
            alpha,
            STATUS_INSUFFICIENT,
            "; ".join(notes + [reason]),
        )

    if len(names) < 2:
        return bad(f"{len(names)} group(s) with n >= {min_n}: Kruskal-Wallis needs at least 2")
    allv = np.concatenate(list(kept.values()))
    if np.ptp(allv) == 0:
        return bad("all values equal: Kruskal-Wallis undefined")
    res = ss.kruskal(*kept.values())
    H, p = float(res.statistic), float(res.pvalue)
    k = len(names)
    long = pd.DataFrame({"v": allv, "g": np.concatenate([[g] * len(kept[g]) for g in names])})
    # group labels as strings so that scikit-posthocs' sorting/indexing is stable, mapped back below
    key = {str(g): g for g in names}
    long["g"] = long["g"].astype(str)
    raw = sp.posthoc_dunn(long, val_col="v", group_col="g", p_adjust=None)
    adj = sp.posthoc_dunn(long, val_col="v", group_col="g", p_adjust=p_adjust) if p_adjust else raw
    order_s = [str(g) for g in names]
    raw, adj = raw.loc[order_s, order_s], adj.loc[order_s, order_s]
    matrix = adj.rename(index=key, columns=key)
    rows = []
    for r in dunn_z(kept).itertuples(index=False):
        a, b = r.group_a, r.group_b
        pa = float(adj.loc[str(a), str(b)])
        rows.append(
            {
                "variable": value,
                "group_by": group,
                "group_a": a,
                "group_b": b,
                "n_a": len(kept[a]),
                "n_b": len(kept[b]),
                "median_a": float(np.median(kept[a])),
                "median_b": float(np.median(kept[b])),
                "dunn_z": float(r.dunn_z),
                "p_unadjusted": float(raw.loc[str(a), str(b)]),
                "p_adjusted": pa,
                "p_adjust": padj,
                "significant": bool(pa < alpha),
                **_delta_columns(kept[a], kept[b], boot),
                "status": STATUS_OK,
                "note": "",
            }
        )
    pairs = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    nd = [(r.group_a, r.group_b) for r in pairs.itertuples() if not r.significant]
    return KruskalDunn(
        value,
        group,
        H,
        p,
        eta_squared_h(H, k, n),
        n,
        k,
        names,
        matrix,
        pairs,
        nd,
        padj,
        alpha,
        STATUS_OK,
        "; ".join(notes),
    )


def spearman_one_sided(x, y, alternative: str = "greater", boot: BootstrapConfig | None = None) -> dict:
    """Spearman ρ and the one-sided p-value (``alternative`` as in scipy: greater = positive association);
    with ``boot``, a bootstrap CI of ρ over (x, y) pairs (``rho_ci_low``, ``rho_ci_high``)."""
    x = pd.to_numeric(pd.Series(x), errors="coerce").to_numpy(dtype="float64")
    y = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy(dtype="float64")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    out = {
        "n": int(len(x)),
        "rho": np.nan,
        "rho_ci_low": np.nan,
        "rho_ci_high": np.nan,
        "p_value": np.nan,
        "alternative": alternative,
        "status": STATUS_INSUFFICIENT,
        "note": "",
        "ci_note": "",
    }
    if len(x) < MIN_N:
        out["note"] = f"n={len(x)} < {MIN_N}: too few runs for Spearman's ρ"
    elif np.ptp(x) == 0 or np.ptp(y) == 0:
        out["note"] = "a variable is constant: Spearman's ρ undefined"
    else:
        r = ss.spearmanr(x, y, alternative=alternative)
        out.update(rho=float(r.statistic), p_value=float(r.pvalue), status=STATUS_OK)
        if boot is not None:
            ci = spearman_ci(x, y, boot)
            out.update(rho_ci_low=ci.low, rho_ci_high=ci.high, ci_note=ci_note(rho=ci))
    return out


def correlation_strength(rho: float) -> str:
    """Verbal strength as in the paper (moderate 0.40–0.69, strong 0.70–0.89, very strong ≥ 0.90)."""
    if not np.isfinite(rho):
        return ""
    a = abs(rho)
    for lo, name in ((0.9, "very strong"), (0.7, "strong"), (0.4, "moderate"), (0.2, "weak")):
        if a >= lo:
            return name
    return "very weak"


# ----------------------------------------------------------------------------------------------
# tables


NORMALITY_COLUMNS = [
    "analysis",
    "subset",
    "variable",
    "group_by",
    "group",
    "n",
    "shapiro_w",
    "shapiro_p",
    "normal",
    "levene_w",
    "levene_p",
    "equal_variances",
    "levene_k",
    "status",
    "note",
]
KRUSKAL_COLUMNS = [
    "analysis",
    "subset",
    "variable",
    "group_by",
    "n",
    "k",
    "H",
    "p_value",
    "eta2",
    "significant",
    "p_adjust",
    "alpha",
    "groups",
    "not_different",
    "status",
    "note",
]
SPEARMAN_COLUMNS = [
    "analysis",
    "subset",
    "by",
    "x",
    "y",
    "n",
    "rho",
    "rho_ci_low",
    "rho_ci_high",
    "p_value",
    "alternative",
    "significant",
    "strength",
    "status",
    "note",
    "ci_note",
]


def skipped(analysis: str, reason: str, columns: list[str], subset: str = "") -> pd.DataFrame:
    """A one-row table saying the analysis was skipped and why."""
    row = {c: np.nan for c in columns}
    row.update({"analysis": analysis, "status": STATUS_SKIPPED, "note": f"skipped: {reason}"})
    if "subset" in columns:
        row["subset"] = subset
    return pd.DataFrame([row], columns=columns)


def normality_table(
    df: pd.DataFrame,
    values: list[str],
    group: str,
    *,
    alpha: float = 0.05,
    min_n: int = MIN_N,
    order: list | None = None,
    analysis: str = "",
    subset: str = "",
) -> pd.DataFrame:
    """Shapiro-Wilk per group and Levene (median-centred) across groups, one row per variable × group.

    The Levene columns repeat on every row of a variable (one test across its groups).
    """
    rows = []
    for v in values:
        kept, notes, data = _groups(df, v, group, order, min_n)
        lev_w = lev_p = np.nan
        lev_note = "; ".join(notes)
        if len(kept) >= 2:
            arrays = list(kept.values())
            if all(np.ptp(a) == 0 for a in arrays):
                lev_note = "; ".join(notes + ["every group constant: Levene undefined"])
            else:
                with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 when every |x - median| is equal
                    r = ss.levene(*arrays, center="median")
                lev_w, lev_p = float(r.statistic), float(r.pvalue)
                if not np.isfinite(lev_p):
                    lev_note = "; ".join(notes + ["every run equally far from its group's median: Levene undefined"])
        else:
            lev_note = "; ".join(notes + [f"{len(kept)} group(s) with n >= {min_n}: Levene needs at least 2"])
        if not data:
            rows.append(
                {
                    "analysis": analysis,
                    "subset": subset,
                    "variable": v,
                    "group_by": group,
                    "group": None,
                    "n": 0,
                    "status": STATUS_INSUFFICIENT,
                    "note": f"no finite values of {v}" if v in df else f"the runs table has no column '{v}'",
                }
            )
            continue
        for g, x in data.items():
            w, p, note = shapiro(x)
            notes_row = [note] if note else []
            if lev_note:
                notes_row.append(f"Levene: {lev_note}")
            rows.append(
                {
                    "analysis": analysis,
                    "subset": subset,
                    "variable": v,
                    "group_by": group,
                    "group": g,
                    "n": len(x),
                    "shapiro_w": w,
                    "shapiro_p": p,
                    "normal": (bool(p > alpha) if np.isfinite(p) else None),
                    "levene_w": lev_w,
                    "levene_p": lev_p,
                    "equal_variances": (bool(lev_p > alpha) if np.isfinite(lev_p) else None),
                    "levene_k": len(kept),
                    "status": STATUS_OK if not note else STATUS_INSUFFICIENT,
                    "note": "; ".join(notes_row),
                }
            )
    return pd.DataFrame(rows, columns=NORMALITY_COLUMNS)


def kruskal_table(
    df: pd.DataFrame,
    values: list[str],
    group: str,
    p_adjust: str | None = "holm",
    *,
    alpha: float = 0.05,
    min_n: int = MIN_N,
    order: list | None = None,
    analysis: str = "",
    subset: str = "",
    boot: BootstrapConfig | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, KruskalDunn]]:
    """(summary: one row per variable, Dunn pairs of all variables, the :class:`KruskalDunn` per variable)."""
    rows, pairs, results = [], [], {}
    for v in values:
        r = kruskal_dunn(df, v, group, p_adjust, alpha=alpha, min_n=min_n, order=order, boot=boot)
        results[v] = r
        rows.append(
            {
                "analysis": analysis,
                "subset": subset,
                "variable": v,
                "group_by": group,
                "n": r.n,
                "k": r.k,
                "H": r.H,
                "p_value": r.p,
                "eta2": r.eta2,
                "significant": bool(r.p < alpha) if np.isfinite(r.p) else None,
                "p_adjust": r.p_adjust,
                "alpha": alpha,
                "groups": ", ".join(map(glabel, r.groups)),
                "not_different": "; ".join(f"{glabel(a)} – {glabel(b)}" for a, b in r.not_different),
                "status": r.status,
                "note": r.note,
            }
        )
        if len(r.pairs):
            p = r.pairs.copy()
            p.insert(0, "subset", subset)
            p.insert(0, "analysis", analysis)
            pairs.append(p)
    pairs_df = (
        pd.concat(pairs, ignore_index=True) if pairs else pd.DataFrame(columns=["analysis", "subset"] + PAIR_COLUMNS)
    )
    return pd.DataFrame(rows, columns=KRUSKAL_COLUMNS), pairs_df, results


def spearman_table(
    df: pd.DataFrame,
    x: str,
    ys: list[str],
    *,
    by: str | None = None,
    order: list | None = None,
    alternative: str = "greater",
    alpha: float = 0.05,
    analysis: str = "",
    subset: str = "",
    boot: BootstrapConfig | None = None,
) -> pd.DataFrame:
    """One-sided Spearman ρ of ``x`` with each of ``ys`` (per value of ``by`` when given), with a
    bootstrap CI of ρ when ``boot`` is given."""
    rows = []
    parts = [(None, df)] if by is None else [(g, df[df[by] == g]) for g in ordered_groups(df[by], order)]
    for g, sub in parts:
        for y in ys:
            if x not in sub or y not in sub:
                r = {
                    "n": 0,
                    "rho": np.nan,
                    "p_value": np.nan,
                    "alternative": alternative,
                    "status": STATUS_INSUFFICIENT,
                    "note": f"the runs table has no column '{x if x not in sub else y}'",
                }
            else:
                r = spearman_one_sided(sub[x], sub[y], alternative, boot)
            rows.append(
                {
                    "analysis": analysis,
                    "subset": subset,
                    "by": "" if g is None else f"{by} = {g}",
                    "x": x,
                    "y": y,
                    **r,
                    "significant": bool(r["p_value"] < alpha) if np.isfinite(r["p_value"]) else None,
                    "strength": correlation_strength(r["rho"]),
                }
            )
    return pd.DataFrame(rows, columns=SPEARMAN_COLUMNS)


TRADEOFF_METRICS = [
    "energy_per_image_j",
    "gpu_usage_pct",
    "time_per_image_ms",
    "f1",
    "f1_per_kwh",
    "mean_gpu_power_w",
    "energy_kj",
]
TRADEOFF_COLUMNS = (
    ["analysis", "subset", "n", "gflops"]
    + [c for m in TRADEOFF_METRICS for c in (f"median_{m}", f"median_{m}_ci_low", f"median_{m}_ci_high")]
    + ["pareto_all", "pareto_in_environment", "status", "note", "ci_note"]
)


def pareto_front(df: pd.DataFrame, cost: str, benefit: str) -> pd.Series:
    """True for rows no other row dominates (cost ≤ and benefit ≥, one strictly); NaN rows are False."""
    c = pd.to_numeric(df[cost], errors="coerce").to_numpy(dtype="float64")
    b = pd.to_numeric(df[benefit], errors="coerce").to_numpy(dtype="float64")
    ok = np.isfinite(c) & np.isfinite(b)
    front = np.zeros(len(df), dtype=bool)
    for i in np.flatnonzero(ok):
        dom = ok & (c <= c[i]) & (b >= b[i]) & ((c < c[i]) | (b > b[i]))
        front[i] = not dom.any()
    return pd.Series(front, index=df.index)


def tradeoff_table(
    df: pd.DataFrame,
    by: tuple[str, ...] = ("environment", "architecture"),
    *,
    min_n: int = MIN_N,
    env_order: list | None = None,
    arch_order: list | None = None,
    analysis: str = "tradeoff",
    subset: str = "",
    boot: BootstrapConfig | None = None,
) -> pd.DataFrame:
    """Medians per group (Figure 2) plus F1 per kWh and Pareto-front membership (energy vs F1).

    ``pareto_all``: on the energy-per-image/F1 front across every group; ``pareto_in_environment``:
    on the front within its environment.  Each ``median_<metric>`` has a bootstrap CI
    (``median_<metric>_ci_low``/``_ci_high``; NaN without ``boot``).
    """
    wanted, by = list(by), [b for b in by if b in df]
    cols = ["analysis", "subset"] + list(by) + TRADEOFF_COLUMNS[2:]
    if df.empty or not by:
        return skipped(analysis, "no runs" if df.empty else f"no grouping column among {wanted}", cols, subset)
    g = df.groupby(list(by), sort=False, dropna=False)
    out = g.size().rename("n").to_frame()
    out["gflops"] = g["gflops"].median()
    for m in TRADEOFF_METRICS:
        out[f"median_{m}"] = g[m].median()
    out = out.reset_index()
    if "environment" in out and env_order is not None:
        out["_e"] = out["environment"].map({e: i for i, e in enumerate(env_order)})
    else:
        out["_e"] = 0
    if "architecture" in out and arch_order is not None:
        out["_a"] = out["architecture"].map({a: i for i, a in enumerate(arch_order)})
    else:
        out["_a"] = 0
    out = out.sort_values(["_e", "_a"] + list(by), kind="stable").drop(columns=["_e", "_a"]).reset_index(drop=True)
    out["pareto_all"] = pareto_front(out, "median_energy_per_image_j", "median_f1")
    if "environment" in out:
        out["pareto_in_environment"] = False
        for _, idx in out.groupby("environment", dropna=False).groups.items():
            out.loc[idx, "pareto_in_environment"] = pareto_front(out.loc[idx], "median_energy_per_image_j", "median_f1")
    else:
        out["pareto_in_environment"] = out["pareto_all"]
    out["status"] = np.where(out["n"] >= min_n, STATUS_OK, STATUS_INSUFFICIENT)
    out["note"] = np.where(out["n"] >= min_n, "", "n < " + str(min_n) + ": median of too few runs to compare")
    out["analysis"] = analysis
    out["subset"] = subset
    out = _with_median_cis(out, df, list(by), boot)
    return out[cols]


def _with_median_cis(out: pd.DataFrame, df: pd.DataFrame, by: list[str], boot: BootstrapConfig | None) -> pd.DataFrame:
    """``median_<m>_ci_low/_ci_high`` of every trade-off metric per group, and the ``ci_note``."""
    out = out.copy()
    notes = [[] for _ in range(len(out))]
    groups = {k if isinstance(k, tuple) else (k,): d for k, d in df.groupby(by, sort=False, dropna=False)}
    for m in TRADEOFF_METRICS:
        lo, hi = np.full(len(out), np.nan), np.full(len(out), np.nan)
        if boot is not None:
            for i, key in enumerate(out[by].itertuples(index=False, name=None)):
                if key not in groups or not np.isfinite(out.loc[i, f"median_{m}"]):
                    continue
                ci = median_ci(pd.to_numeric(groups[key][m], errors="coerce"), boot)
                lo[i], hi[i] = ci.low, ci.high
                if ci.note:
                    notes[i].append(ci_note(**{m: ci}))
        out[f"median_{m}_ci_low"], out[f"median_{m}_ci_high"] = lo, hi
    out["ci_note"] = ["; ".join(n) for n in notes]
    return out


REDUCTION_COLUMNS = [
    "analysis",
    "scope",
    "from",
    "to",
    "n_from",
    "n_to",
    "energy_from",
    "energy_to",
    "reduction",
    "reduction_ci_low",
    "reduction_ci_high",
    "f1_from",
    "f1_to",
    "f1_decrease",
    "f1_decrease_ci_low",
    "f1_decrease_ci_high",
    "status",
    "note",
    "ci_note",
]


def _combo(row, keys):
    return " / ".join(str(row[k]) for k in keys)


def reduction_pairs(
    tradeoff: pd.DataFrame,
    keys: list[str],
    *,
    scope: str,
    min_n: int = MIN_N,
    energy: str = "median_energy_per_image_j",
    f1: str = "median_f1",
    analysis: str = "reductions",
) -> pd.DataFrame:
    """Every ordered pair (from → to) with lower median energy at ``to``: reduction = 1 − E_to / E_from,
    F1 decrease = (F1_from − F1_to) / F1_from (negative: F1 rises)."""
    t = tradeoff[np.isfinite(pd.to_numeric(tradeoff[energy], errors="coerce"))].reset_index(drop=True)
    rows = []
    for i, j in itertools.permutations(range(len(t)), 2):
        a, b = t.iloc[i], t.iloc[j]
        if not b[energy] < a[energy]:
            continue
        small = [x for x in (a, b) if x["n"] < min_n]
        rows.append(
            {
                "analysis": analysis,
                "scope": scope,
                "from": _combo(a, keys),
                "to": _combo(b, keys),
                "n_from": int(a["n"]),
                "n_to": int(b["n"]),
                "energy_from": a[energy],
                "energy_to": b[energy],
                "reduction": 1.0 - b[energy] / a[energy],
                "f1_from": a[f1],
                "f1_to": b[f1],
                "f1_decrease": (a[f1] - b[f1]) / a[f1] if np.isfinite(a[f1]) and a[f1] else np.nan,
                "status": STATUS_INSUFFICIENT if small else STATUS_OK,
                "note": f"median of n < {min_n} runs" if small else "",
                "ci_note": "",
            }
        )
    return pd.DataFrame(rows, columns=REDUCTION_COLUMNS)


def reduction_cis(
    pairs: pd.DataFrame,
    runs: pd.DataFrame,
    keys: list[str],
    boot: BootstrapConfig | None,
    *,
    energy: str = "energy_per_image_j",
    f1: str = "f1",
    cache: dict | None = None,
) -> pd.DataFrame:
    """``pairs`` (:func:`reduction_pairs`) with bootstrap CIs of ``reduction`` and ``f1_decrease``.

    Both are ``1 - median(to) / median(from)`` of the runs of two groups (``keys`` values joined
    by ' / ', as in ``from``/``to``): a two-sample statistic, each group resampled on its own.
    ``cache`` (a dict) reuses the intervals of the same two sets of runs met in another scope.
    """
    out = pairs.copy()
    if boot is None or out.empty:
        return out
    cache = {} if cache is None else cache
    groups = {" / ".join(map(str, k if isinstance(k, tuple) else (k,))): d for k, d in runs.groupby(keys, sort=False)}
    for i, r in out.iterrows():
        a, b = groups.get(r["from"]), groups.get(r["to"])
        if a is None or b is None:
            continue
        notes = []
        for col, value in (("reduction", energy), ("f1_decrease", f1)):
            key = (value, tuple(a.index), tuple(b.index))
            if key not in cache:
                cache[key] = reduction_ci(
                    pd.to_numeric(a[value], errors="coerce"), pd.to_numeric(b[value], errors="coerce"), boot
                )
            ci = cache[key]
            out.loc[i, f"{col}_ci_low"], out.loc[i, f"{col}_ci_high"] = ci.low, ci.high
            if ci.note and np.isfinite(r[col]):
                notes.append(ci_note(**{col: ci}))
        out.loc[i, "ci_note"] = "; ".join(notes)
    return out


SUMMARY_COLUMNS = [
    "analysis",
    "scope",
    "statistic",
    "from",
    "to",
    "reduction",
    "reduction_ci_low",
    "reduction_ci_high",
    "f1_decrease",
    "f1_decrease_ci_low",
    "f1_decrease_ci_high",
    "status",
    "note",
    "ci_note",
]


def reduction_summary(
    pairs: pd.DataFrame,
    scope: str,
    reference: str | None = None,
    analysis: str = "reductions",
    min_n: int = MIN_N,
) -> pd.DataFrame:
    """Min and max energy reduction within ``scope`` (from ``reference`` when given, as the paper's
    14 %–64 % from VGG16), the min and max F1 decrease from it, and the best (largest) reduction.
    ``min_n``: the smallest group :func:`reduction_pairs` took, named in the note when there is none."""
    p = pairs[(pairs["scope"] == scope) & (pairs["status"] == STATUS_OK)]
    rows = []

    def row(stat, r, note=""):
        rows.append(
            {
                "analysis": analysis,
                "scope": scope,
                "statistic": stat,
                "status": STATUS_OK,
                "note": note,
                **{c: r.get(c, np.nan) for c in SUMMARY_COLUMNS if c in REDUCTION_COLUMNS[2:-3]},
                "ci_note": r.get("ci_note", ""),
            }
        )

    if reference is not None:
        ref = p[p["from"] == reference]
        if len(ref):
            row(f"min reduction from {reference}", ref.loc[ref["reduction"].idxmin()])
            row(f"max reduction from {reference}", ref.loc[ref["reduction"].idxmax()])
            f = ref[np.isfinite(ref["f1_decrease"])]
            if len(f):
                row(f"min F1 decrease from {reference}", f.loc[f["f1_decrease"].idxmin()])
                row(f"max F1 decrease from {reference}", f.loc[f["f1_decrease"].idxmax()])
    covered = reference is not None and len(p) and (p["from"] == reference).all()
    if len(p) and not covered:  # (when every pair starts at the reference, the rows above say it all)
        row("min pairwise reduction", p.loc[p["reduction"].idxmin()])
        row("max pairwise reduction (best combination)", p.loc[p["reduction"].idxmax()])
    if not rows:
        return pd.DataFrame(
            [
                {
                    "analysis": analysis,
                    "scope": scope,
                    "statistic": "",
                    "status": STATUS_INSUFFICIENT,
                    "note": f"fewer than 2 groups with n >= {min_n} runs: no reduction to report",
                }
            ],
            columns=SUMMARY_COLUMNS,
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def batch_input_table(
    df: pd.DataFrame, *, min_n: int = MIN_N, subset: str = "", analysis: str = "batch_input"
) -> pd.DataFrame:
    """Mean and median energy, power and duration per environment × dataset × batch size × input size."""
    keys = [k for k in ("environment", "dataset", "batch_size", "image_size") if k in df]
    cols = (
        ["analysis", "subset"]
        + keys
        + [
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
    )
    if df.empty:
        return skipped(analysis, "no runs of the batch/input-size sub-experiment", cols, subset)
    g = df.groupby(keys, sort=True)
    out = g.size().rename("n").to_frame()
    for m in ("energy_kj", "mean_gpu_power_w", "duration_min"):
        out[f"mean_{m}"] = g[m].mean()
        out[f"median_{m}"] = g[m].median()
    out = out.reset_index()
    out["status"] = np.where(out["n"] >= min_n, STATUS_OK, STATUS_INSUFFICIENT)
    out["note"] = np.where(out["n"] >= min_n, "", f"n < {min_n}")
    out["analysis"], out["subset"] = analysis, subset
    return out[cols]


# ----------------------------------------------------------------------------------------------
# the named tables of the pipeline


def block1(runs: pd.DataFrame, cfg: StatsConfig) -> Selection:
    """Runs of block 1 (RQ1, RQ2): all but the ``block1_exclude`` ones (block 2's Inception V3)."""
    return select(runs, None, cfg.block1_exclude)


def rq1_selection(runs: pd.DataFrame, cfg: StatsConfig) -> Selection:
    return select(runs, {"environment": cfg.rq1_environment}, cfg.block1_exclude)


def rq2_selection(runs: pd.DataFrame, cfg: StatsConfig) -> Selection:
    return select(runs, {"architecture": cfg.rq2_architecture}, cfg.block1_exclude)


def ram_selection(runs: pd.DataFrame, cfg: StatsConfig) -> Selection:
    s = select(runs, cfg.ram)
    if s.reason is None and cfg.ram_column not in runs:
        return Selection(s.frame.iloc[0:0], s.description, f"the runs table has no column '{cfg.ram_column}'")
    if s.reason is None:
        levels = s.frame[cfg.ram_column].dropna().unique()
        if len(levels) < 2:
            return Selection(
                s.frame,
                s.description,
                f"the runs with {s.description} have {len(levels)} allocated-RAM level(s) "
                f"({', '.join(map(str, levels))}): no allocated-RAM experiment in this source",
            )
    return s


def batch_input_selection(runs: pd.DataFrame, cfg: StatsConfig) -> Selection:
    """Runs of the batch/input-size sub-experiment; runs of the RAM experiment at a RAM size other than
    the environment's most common one are left out."""
    s = select(runs, cfg.batch_input)
    if s.reason is not None:
        return s
    df = s.frame
    desc = s.description
    if cfg.ram_column in df and len(df):
        mode = df.groupby("environment")[cfg.ram_column].agg(lambda v: v.mode().iloc[0] if v.notna().any() else np.nan)
        keep = df[cfg.ram_column] == df["environment"].map(mode)
        if (~keep).any():
            desc += f"; {cfg.ram_column} == the environment's most common value"
        df = df[keep]
    var = [c for c in ("batch_size", "image_size") if c in df and df[c].nunique() > 1]
    if not var:
        return Selection(
            df,
            desc,
            f"the runs with {desc} have a single batch size and a single input size: "
            "no batch/input-size experiment in this source",
        )
    return Selection(df, desc)


RQ1_VALUES = ["energy_per_image_j", "gpu_usage_pct", "f1"]
RQ1_KRUSKAL = ["energy_per_image_j", "gpu_usage_pct", "time_per_image_ms", "f1"]
RQ2_VALUES = ["energy_per_image_j", "gpu_usage_pct"]
#: Table 6: the paper's two rows (energy per image, GPU usage), then average power (Figure 3's third panel)
TABLE6_VALUES = ["energy_per_image_j", "gpu_usage_pct", "mean_gpu_power_w"]
RAM_VALUES = ["energy_kj", "duration_min", "ram_used_gb"]


def rq1_tables(runs: pd.DataFrame, cfg: StatsConfig) -> dict[str, pd.DataFrame]:
    """Table 3, the §4.1 Kruskal-Wallis/Dunn tests and Table 6 on the RQ1 environment's runs."""
    df = add_derived(runs)
    s = rq1_selection(df, cfg)
    kw = dict(alpha=cfg.alpha, min_n=cfg.min_group_size, subset=s.description)
    if s.reason:
        return {
            "table3_normality_rq1": skipped("table3_normality_rq1", s.reason, NORMALITY_COLUMNS, s.description),
            "kruskal_dunn_rq1": skipped("kruskal_dunn_rq1", s.reason, KRUSKAL_COLUMNS, s.description),
            "kruskal_dunn_rq1_dunn": skipped(
                "kruskal_dunn_rq1", s.reason, ["analysis", "subset"] + PAIR_COLUMNS, s.description
            ),
            "table6_spearman_flops": skipped("table6_spearman_flops", s.reason, SPEARMAN_COLUMNS, s.description),
        }
    order = architecture_order(s.frame)
    t3 = normality_table(s.frame, RQ1_VALUES, "architecture", order=order, analysis="table3_normality_rq1", **kw)
    kt, pairs, _ = kruskal_table(
        s.frame,
        RQ1_KRUSKAL,
        "architecture",
        cfg.p_adjust,
        order=order,
        analysis="kruskal_dunn_rq1",
        boot=cfg.boot,
        **kw,
    )
    t6 = spearman_table(
        s.frame,
        "gflops",
        TABLE6_VALUES,
        alpha=cfg.alpha,
        analysis="table6_spearman_flops",
        subset=s.description,
        boot=cfg.boot,
    )
    return {
        "table3_normality_rq1": t3,
        "kruskal_dunn_rq1": kt,
        "kruskal_dunn_rq1_dunn": pairs,
        "table6_spearman_flops": t6,
    }


def rq2_tables(runs: pd.DataFrame, cfg: StatsConfig) -> dict[str, pd.DataFrame]:
    """Table 4 and the §4.2 tests on the RQ2 architecture; RQ2.2 Spearman per environment on block 1."""
    df = add_derived(runs)
    s = rq2_selection(df, cfg)
    b1 = block1(df, cfg)
    out = {}
    if s.reason:
        out["table4_normality_rq2"] = skipped("table4_normality_rq2", s.reason, NORMALITY_COLUMNS, s.description)
        out["kruskal_dunn_rq2"] = skipped("kruskal_dunn_rq2", s.reason, KRUSKAL_COLUMNS, s.description)
        out["kruskal_dunn_rq2_dunn"] = skipped(
            "kruskal_dunn_rq2", s.reason, ["analysis", "subset"] + PAIR_COLUMNS, s.description
        )
    else:
        kw = dict(alpha=cfg.alpha, min_n=cfg.min_group_size, subset=s.description, order=environment_order(s.frame))
        out["table4_normality_rq2"] = normality_table(
            s.frame, RQ2_VALUES, "environment", analysis="table4_normality_rq2", **kw
        )
        kt, pairs, _ = kruskal_table(
            s.frame, RQ2_VALUES, "environment", cfg.p_adjust, analysis="kruskal_dunn_rq2", boot=cfg.boot, **kw
        )
        out["kruskal_dunn_rq2"], out["kruskal_dunn_rq2_dunn"] = kt, pairs
    if b1.reason:
        out["spearman_gpu_usage"] = skipped("spearman_gpu_usage", b1.reason, _tdp_columns(), b1.description)
    else:
        sp_t = spearman_table(
            b1.frame,
            "gpu_usage_pct",
            ["mean_gpu_power_w", "energy_per_image_j"],
            by="environment",
            order=environment_order(b1.frame),
            alpha=cfg.alpha,
            analysis="spearman_gpu_usage",
            subset=b1.description,
            boot=cfg.boot,
        )
        out["spearman_gpu_usage"] = _with_tdp(sp_t, b1.frame)
    return out


TDP_COLUMNS = ["tdp_w", "median_power_w", "median_tdp_x_usage_w", "median_tdp_estimate_error_pct"]


def _tdp_columns() -> list[str]:
    """The Spearman columns with the TDP ones before ``status, note, ci_note`` (ran or skipped alike)."""
    tail = ["status", "note", "ci_note"]
    return [c for c in SPEARMAN_COLUMNS if c not in tail] + TDP_COLUMNS + tail


def tdp_line(df: pd.DataFrame) -> pd.Series:
    """Power a TDP-based estimator assumes: TDP × GPU usage (TDP = the environment's median ``max_power_w``)."""
    tdp = pd.to_numeric(df["max_power_w"], errors="coerce").groupby(df["environment"]).transform("median")
    return tdp * pd.to_numeric(df["gpu_usage_pct"], errors="coerce") / 100.0


def _with_tdp(sp_t: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """Beside GPU usage vs power: the environment's TDP and the median relative error of TDP × usage."""
    sp_t = sp_t.copy()
    for c in TDP_COLUMNS:
        sp_t[c] = np.nan
    est = tdp_line(df)
    for i, r in sp_t.iterrows():
        if r["y"] != "mean_gpu_power_w" or not r["by"]:
            continue
        env = r["by"].split(" = ", 1)[1]
        m = df["environment"].astype(str) == env
        meas = pd.to_numeric(df.loc[m, "mean_gpu_power_w"], errors="coerce")
        e = est[m]
        sp_t.loc[i, "tdp_w"] = pd.to_numeric(df.loc[m, "max_power_w"], errors="coerce").median()
        sp_t.loc[i, "median_power_w"] = meas.median()
        sp_t.loc[i, "median_tdp_x_usage_w"] = e.median()
        with np.errstate(divide="ignore", invalid="ignore"):
            sp_t.loc[i, "median_tdp_estimate_error_pct"] = (
                float(np.nanmedian((e - meas) / meas * 100.0)) if m.any() else np.nan
            )
    return sp_t[_tdp_columns()]


def tradeoff_tables(runs: pd.DataFrame, cfg: StatsConfig) -> dict[str, pd.DataFrame]:
    """Figure 2's medians (``tradeoff``), pairwise reductions and their summary (``reductions``)."""
    df = add_derived(runs)
    b1 = block1(df, cfg)
    if b1.reason:
        return {
            "tradeoff": skipped(
                "tradeoff",
                b1.reason,
                TRADEOFF_COLUMNS[:2] + ["environment", "architecture"] + TRADEOFF_COLUMNS[2:],
                b1.description,
            ),
            "reductions": skipped("reductions", b1.reason, REDUCTION_COLUMNS),
            "reductions_summary": skipped("reductions", b1.reason, SUMMARY_COLUMNS),
        }
    f = b1.frame
    boot = cfg.boot
    t = tradeoff_table(
        f,
        min_n=cfg.min_group_size,
        env_order=environment_order(f),
        arch_order=architecture_order(f),
        subset=b1.description,
        boot=boot,
    )
    cache: dict = {}
    ok = t[t["status"] == STATUS_OK]
    pairs, summaries = [], []
    # RQ1: architectures within the RQ1 environment, reference = the most energy-greedy one
    in_env = t[t["environment"] == cfg.rq1_environment]
    scope1 = f"architectures in {cfg.rq1_environment}"
    p1 = reduction_pairs(in_env, ["architecture"], scope=scope1, min_n=cfg.min_group_size)
    p1 = reduction_cis(p1, f[f["environment"] == cfg.rq1_environment], ["architecture"], boot, cache=cache)
    pairs.append(p1)
    ref = None
    ok_env = ok[ok["environment"] == cfg.rq1_environment]
    if len(ok_env):
        ref = str(ok_env.loc[ok_env["median_energy_per_image_j"].idxmax(), "architecture"])
    summaries.append(reduction_summary(p1, scope1, ref, min_n=cfg.min_group_size))
    # RQ2: environments for the RQ2 architecture, reference = the RQ1 environment (the paper's Cloud)
    arch = t[t["architecture"] == cfg.rq2_architecture]
    scope2 = f"environments for {cfg.rq2_architecture}"
    p2 = reduction_pairs(arch, ["environment"], scope=scope2, min_n=cfg.min_group_size)
    p2 = reduction_cis(p2, f[f["architecture"] == cfg.rq2_architecture], ["environment"], boot, cache=cache)
    pairs.append(p2)
    summaries.append(reduction_summary(p2, scope2, cfg.rq1_environment, min_n=cfg.min_group_size))
    # all environment x architecture combinations: the best combination
    scope3 = "all environment x architecture"
    p3 = reduction_pairs(t, ["environment", "architecture"], scope=scope3, min_n=cfg.min_group_size)
    p3 = reduction_cis(p3, f, ["environment", "architecture"], boot, cache=cache)
    pairs.append(p3)
    summaries.append(reduction_summary(p3, scope3, None, min_n=cfg.min_group_size))
    pairs_df = (
        pd.concat([p for p in pairs if len(p)], ignore_index=True)
        if any(len(p) for p in pairs)
        else skipped("reductions", "fewer than 2 environment x architecture groups", REDUCTION_COLUMNS)
    )
    return {"tradeoff": t, "reductions": pairs_df, "reductions_summary": pd.concat(summaries, ignore_index=True)}


def ram_tables(runs: pd.DataFrame, cfg: StatsConfig) -> dict[str, pd.DataFrame]:
    """Table 5 (normality by allocated RAM) and Table 7 (Kruskal-Wallis/Dunn by allocated RAM)."""
    df = add_derived(runs)
    s = ram_selection(df, cfg)
    if s.reason:
        return {
            "table5_normality_ram": skipped("table5_normality_ram", s.reason, NORMALITY_COLUMNS, s.description),
            "table7_kruskal_ram": skipped("table7_kruskal_ram", s.reason, KRUSKAL_COLUMNS, s.description),
            "table7_kruskal_ram_dunn": skipped(
                "table7_kruskal_ram", s.reason, ["analysis", "subset"] + PAIR_COLUMNS, s.description
            ),
        }
    kw = dict(
        alpha=cfg.alpha,
        min_n=cfg.min_group_size,
        subset=s.description,
        order=sorted(s.frame[cfg.ram_column].dropna().unique()),
    )
    t5 = normality_table(s.frame, RAM_VALUES, cfg.ram_column, analysis="table5_normality_ram", **kw)
    kt, pairs, _ = kruskal_table(
        s.frame, RAM_VALUES, cfg.ram_column, cfg.p_adjust, analysis="table7_kruskal_ram", boot=cfg.boot, **kw
    )
    return {"table5_normality_ram": t5, "table7_kruskal_ram": kt, "table7_kruskal_ram_dunn": pairs}


def batch_input_tables(runs: pd.DataFrame, cfg: StatsConfig) -> dict[str, pd.DataFrame]:
    df = add_derived(runs)
    s = batch_input_selection(df, cfg)
    if s.reason:
        return {
            "batch_input": batch_input_table(df.iloc[0:0], subset=s.description).assign(note=f"skipped: {s.reason}")
        }
    return {"batch_input": batch_input_table(s.frame, min_n=cfg.min_group_size, subset=s.description)}


# ----------------------------------------------------------------------------------------------
# Markdown


def _fmt(v, col: str) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if col.startswith("p_") or col.endswith("_p"):
            return f"{v:.3g}"
        if col.startswith(("reduction", "f1_decrease")):
            return f"{v * 100:.2f} %"
        if col.endswith("_pct") and "error" in col:
            return f"{v:.1f}"
        if float(v).is_integer() and abs(v) < 1e6:
            return str(int(v))
        return f"{v:.4g}" if abs(v) < 9999.5 else f"{v:.0f}"  # 4 digits up to 9999, all digits from 10000
    return str(v)


def _cells(d: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells; ``X``, ``X_ci_low``, ``X_ci_high`` become one column ``X [CI]``."""

    def paired(x: str) -> bool:
        return x in d and f"{x}_ci_low" in d and f"{x}_ci_high" in d

    cols = [c for c in d.columns if not (c.endswith(("_ci_low", "_ci_high")) and paired(c.rsplit("_ci_", 1)[0]))]
    head, cells = [], [[] for _ in range(len(d))]
    for c in cols:
        with_ci = paired(c)
        head.append(f"{c} [CI]" if with_ci else c)
        for i, v in enumerate(d[c].tolist()):
            text = _fmt(v, c)
            if with_ci and text:
                lo, hi = _fmt(d[f"{c}_ci_low"].iloc[i], c), _fmt(d[f"{c}_ci_high"].iloc[i], c)
                text += f" [{lo}, {hi}]" if lo and hi else ""
            cells[i].append(text)
    return head, cells


def markdown_table(df: pd.DataFrame, drop: Iterable[str] = ("analysis", "subset")) -> str:
    """A Markdown table; a column with ``_ci_low``/``_ci_high`` companions shows ``value [low, high]``."""
    d = df.drop(columns=[c for c in drop if c in df], errors="ignore")
    d = d.loc[:, [c for c in d.columns if not (d[c].isna().all() and c not in ("note",))]] if len(d) > 1 else d
    columns, cells = _cells(d)
    head = "| " + " | ".join(columns) + " |"
    sep = "| " + " | ".join("---" for _ in columns) + " |"
    body = ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    return "\n".join([head, sep, *body])


def markdown_document(
    title: str,
    sections: list[tuple[str, pd.DataFrame]],
    *,
    label: str | None,
    source: str,
    notes: list[str] | None = None,
) -> str:
    """A Markdown page: title, data label (synthetic sources), source, notes, then each table."""
    lines = [f"# {title}", ""]
    if label:
        lines += [f"> **Data label:** {label}", ""]
    lines += [f"Source: `{source}`", ""]
    for n in notes or []:
        lines += [f"- {n}"]
    if notes:
        lines.append("")
    for head, df in sections:
        if head:
            lines += [f"## {head}", ""]
        if "subset" in df and df["subset"].notna().any():
            subs = [s for s in dict.fromkeys(df["subset"].dropna().astype(str)) if s]
            if subs:
                lines += ["Runs: " + " | ".join(f"`{s}`" for s in subs), ""]
        lines += [markdown_table(df), ""]
    return "\n".join(lines)
