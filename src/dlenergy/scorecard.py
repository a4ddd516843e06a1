"""Reproduction scorecard: the paper's headline numbers against the pipeline's own tables.

Each key of ``paper_targets.csv`` (``dlenergy/data/paper_targets.csv``, the repository copy of the
paper's numbers) gets one row: the paper's value, the value the pipeline reproduced, the difference
(absolute and relative), the tolerance of the target's *kind* and a verdict:

* ``pass`` / ``fail`` -- the reproduced value is / is not within the tolerance;
* ``not available`` -- this source cannot produce the number (its table is skipped for the source,
  the row is missing, the group is too small, or the pipeline does not make that table); the
  ``note`` column says why;
* ``descriptive`` -- design facts and method definitions (``table2_models_at_128px.*``,
  ``environments.*``, ``baselines.*``), listed but not reproduced;
* ``within outlier-seed range`` -- a ``fail`` whose paper value lies in the range the number takes
  over the seeds of the outlier stage (``tables/robustness.csv`` of :mod:`dlenergy.robustness`, when
  given: the paper's unseeded Isolation Forest could have produced it); the note gives the range.

Reproduced values are **read** from the pipeline's tables (``tables/*.csv``, ``clean/summary.csv``),
never recomputed: :func:`spec_for` says, in one place, which table, row and column each key reads
(the scorecard repeats it in its ``table`` / ``row`` / ``column`` columns).  One key applies a
documented one-step transform to the value read (``1 - reduction`` for a share); the paper's FLUSS
settings are compared with the configuration of the run (pseudo-table ``config``).

Tolerances are keyed by kind (config ``scorecard.tolerances``; defaults :data:`DEFAULT_TOLERANCES`).
A kind's rule is one or more of ``relative`` (``|v/t - 1| <= r``), ``absolute`` (``|v - t| <= a``),
``log10`` (``|log10 v - log10 t| <= d``, for p-values: the same order of magnitude) and ``exact``
(equality: numbers, or sets of pairs for Dunn's not-different pairs); a value passes when any of
its kind's rules holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

# ----------------------------------------------------------------------------------------------
# tolerances

#: kind -> rule(s); see the module docstring.  config ``scorecard.tolerances`` overrides per kind.
DEFAULT_TOLERANCES: dict[str, dict] = {
    "count": {"relative": 0.05},  # numbers of runs
    "energy": {"relative": 0.05},  # medians of J/image, kJ
    "percentage": {"relative": 0.05},  # medians of GPU usage (%)
    "power": {"relative": 0.05},  # medians of mean GPU power (W)
    "fraction": {"relative": 0.05},  # energy reductions and shares (0-1)
    "score": {"absolute": 0.01},  # medians of F1 (printed with 2 decimals)
    "f1_decrease": {"absolute": 0.005},  # F1 lost between two configurations
    "statistic": {"relative": 0.10},  # Kruskal-Wallis H, Levene W
    "shapiro_w": {"absolute": 0.05},
    "rho": {"absolute": 0.05},  # Spearman rho
    "eta2": {"absolute": 0.05},  # Kruskal-Wallis eta squared
    "r2": {"absolute": 0.05},  # cross-validated R2
    "error": {"relative": 0.10},  # RMSE / MAE (CV folds and test sets)
    "p_value": {"log10": 1.0},  # the same order of magnitude
    "epoch": {"absolute": 1},  # stabilizing epoch
    "parameter": {"exact": True},  # method settings (FLUSS)
    "pair_set": {"exact": True},  # Dunn's not-significantly-different pairs
}

DESCRIPTIVE_PREFIXES = ("table2_models_at_128px.", "environments.", "baselines.")

PASS, FAIL, NA, DESCRIPTIVE = "pass", "fail", "not available", "descriptive"
#: the verdict of every comparable number of a simulated source: the numbers are shown, but a
#: reproduction of the paper on simulated data is no evidence either way
SYNTHETIC = "synthetic: no verdict"
WITHIN_SEEDS = "within outlier-seed range"
COLUMNS = [
    "key",
    "section",
    "kind",
    "paper",
    "reproduced",
    "abs_diff",
    "rel_diff",
    "tolerance",
    "verdict",
    "table",
    "row",
    "column",
    "note",
]


def targets_path() -> Path:
    """The repository copy of the paper's numbers (package data, so it works on a fresh clone)."""
    return Path(str(resources.files("dlenergy") / "data" / "paper_targets.csv"))


def read_targets(path: str | Path | None = None) -> pd.DataFrame:
    return pd.read_csv(path or targets_path(), comment="#", dtype=str, keep_default_na=False)


# ----------------------------------------------------------------------------------------------
# the mapping: target key -> (table, row selector, column)


@dataclass(frozen=True)
class Spec:
    """Where a target's reproduced value lives: ``table`` (path under results/<source>/), the row(s)
    where every ``where`` column equals its value (numbers compare numerically), and ``column``."""

    table: str
    where: tuple[tuple[str, object], ...]
    column: str
    kind: str
    transform: str | None = None  # "one_minus": the value read is 1 - x (a share from a reduction)

    @property
    def row(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.where)


def _spec(table, column, kind, transform=None, **where) -> Spec:
    return Spec(table, tuple(where.items()), column, kind, transform)


#: the paper's variable names -> the pipeline's column names
VARIABLES = {
    "energy": "energy_per_image_j",
    "gpu_usage": "gpu_usage_pct",
    "f1": "f1",
    "time_per_image": "time_per_image_ms",
}
RAM_VARIABLES = {
    "energy": "energy_kj",
    "duration": "duration_min",
    "ram_used": "ram_used_gb",
    "energy_kj": "energy_kj",
    "duration_min": "duration_min",
    "ram_used_gb": "ram_used_gb",
}
#: the paper's regression-method names (Tables 8-10) -> the pipeline's
MODELS = {"linear": "linear", "ridge": "ridge", "kernel_ridge": "kernel_ridge", "svm": "svr"}
#: pseudo-table of the settings the run used (the Snakemake config), for method parameters
CONFIG = "config"
STAT_KIND = {"stat": "shapiro_w", "p": "p_value", "H": "statistic", "eta2": "eta2", "rho": "rho"}


def _normality(table: str, group_by_numeric: bool, variables: dict, rest: list[str]) -> Spec | None:
    # <var>.shapiro.<group>.stat|p  or  <var>.levene.stat|p
    var, test = variables.get(rest[0]), rest[1]
    if var is None:
        return None
    if test == "shapiro" and len(rest) == 4:
        group = float(rest[2]) if group_by_numeric else rest[2]
        col = "shapiro_w" if rest[3] == "stat" else "shapiro_p"
        return _spec(table, col, STAT_KIND[rest[3]], variable=var, group=group)
    if test == "levene" and len(rest) == 3:
        col = "levene_w" if rest[2] == "stat" else "levene_p"
        return _spec(table, col, "statistic" if rest[2] == "stat" else "p_value", variable=var)
    return None


def _kruskal(table: str, variables: dict, rest: list[str]) -> Spec | None:
    # <var>.H|p|eta2
    var = variables.get(rest[0])
    if var is None or len(rest) != 2:
        return None
    col = {"H": "H", "p": "p_value", "eta2": "eta2"}[rest[1]]
    return _spec(table, col, STAT_KIND[rest[1]], variable=var)


def spec_for(key: str) -> Spec | None:
    """The :class:`Spec` of a target key (None: no table of the pipeline holds it)."""
    p = key.split(".")
    head, rest = p[0], p[1:]
    T = "tables/"
    if key == "runs.raw":
        return _spec("clean/summary.csv", "runs_in", "count", stage="total")
    if key == "runs.clean":
        return _spec("clean/summary.csv", "runs_out", "count", stage="total")
    if head == "table3_rq1_normality_cloud":
        return _normality(T + "table3_normality_rq1.csv", False, VARIABLES, rest)
    if head == "table4_rq2_normality_mobilenet_v2":
        return _normality(T + "table4_normality_rq2.csv", False, VARIABLES, rest)
    if head == "table5_rq31_normality_ram":
        return _normality(T + "table5_normality_ram.csv", True, RAM_VARIABLES, rest)
    if head == "table7_ram_kruskal_wallis":
        return _kruskal(T + "table7_kruskal_ram.csv", RAM_VARIABLES, rest)
    if head == "table6_spearman_flops" and len(rest) == 2 and rest[0] in VARIABLES:
        return _spec(
            T + "table6_spearman_flops.csv",
            "rho" if rest[1] == "rho" else "p_value",
            STAT_KIND[rest[1]],
            x="gflops",
            y=VARIABLES[rest[0]],
        )
    if head == "rq1_cloud_chesslive":
        env = "cloud"
        what = rest[0]
        medians = {
            "energy_j_per_image": ("median_energy_per_image_j", "energy"),
            "gpu_usage_pct": ("median_gpu_usage_pct", "percentage"),
            "f1": ("median_f1", "score"),
        }
        if what in medians and len(rest) == 2:
            col, kind = medians[what]
            return _spec(T + "tradeoff.csv", col, kind, environment=env, architecture=rest[1])
        if what == "mobilenet_v2_energy_share_of_vgg16":
            return _spec(
                T + "reductions.csv",
                "reduction",
                "fraction",
                "one_minus",
                scope=f"architectures in {env}",
                **{"from": "vgg16", "to": "mobilenet_v2"},
            )
        if what in ("energy_decrease_range", "f1_decrease_range") and len(rest) == 2:
            if what == "energy_decrease_range":
                stat, col, kind = f"{rest[1]} reduction from vgg16", "reduction", "fraction"
            else:
                stat, col, kind = f"{rest[1]} F1 decrease from vgg16", "f1_decrease", "f1_decrease"
            return _spec(T + "reductions_summary.csv", col, kind, scope=f"architectures in {env}", statistic=stat)
        if what == "kruskal_wallis":
            return _kruskal(T + "kruskal_dunn_rq1.csv", VARIABLES, rest[1:])
        if what == "dunn_not_different" and len(rest) == 2 and rest[1] in VARIABLES:
            return _spec(T + "kruskal_dunn_rq1.csv", "not_different", "pair_set", variable=VARIABLES[rest[1]])
        return None
    if head == "rq2_mobilenet_v2":
        arch, what = "mobilenet_v2", rest[0]
        if what == "cloud_energy_j_per_image":
            return _spec(
                T + "tradeoff.csv", "median_energy_per_image_j", "energy", environment="cloud", architecture=arch
            )
        if what == "energy_reduction_vs_cloud" and len(rest) == 2:
            return _spec(
                T + "reductions.csv",
                "reduction",
                "fraction",
                scope=f"environments for {arch}",
                **{"from": "cloud", "to": rest[1]},
            )
        if what == "gpu_usage_pct" and len(rest) == 2:
            return _spec(
                T + "tradeoff.csv", "median_gpu_usage_pct", "percentage", environment=rest[1], architecture=arch
            )
        if what == "mean_training_power_w" and len(rest) == 2:
            return _spec(T + "tradeoff.csv", "median_mean_gpu_power_w", "power", environment=rest[1], architecture=arch)
        if what == "kruskal_wallis":
            return _kruskal(T + "kruskal_dunn_rq2.csv", VARIABLES, rest[1:])
        if what == "spearman_gpu_usage" and len(rest) == 4:
            y = {"power": "mean_gpu_power_w", "energy": "energy_per_image_j"}[rest[1]]
            return _spec(
                T + "spearman_gpu_usage.csv",
                "rho" if rest[3] == "rho" else "p_value",
                STAT_KIND[rest[3]],
                by=f"environment = {rest[2]}",
                x="gpu_usage_pct",
                y=y,
            )
        return None
    if head == "best_combination" and len(rest) == 1:
        col, kind = {"energy_reduction": ("reduction", "fraction"), "f1_decrease": ("f1_decrease", "f1_decrease")}[
            rest[0]
        ]
        return _spec(
            T + "reductions_summary.csv",
            col,
            kind,
            scope="all environment x architecture",
            statistic="max pairwise reduction (best combination)",
        )
    if head == "rq32_online":
        return _online(rest)
    if head == "table8_power_regressors_cv" and len(rest) == 2:
        col = {"r2": "r2", "rmse": "rmse_w", "mae": "mae_w"}[rest[1]]
        return _spec(
            T + "table8_power_regressors_cv.csv",
            col,
            "r2" if rest[1] == "r2" else "error",
            model=MODELS.get(rest[0], rest[0]),
        )
    if head == "table9_epoch_energy_regressors_cv" and len(rest) == 3:
        col = {"r2": "r2", "rmse": "rmse_kj", "mae": "mae_kj"}[rest[2]]
        return _spec(
            T + "table9_epoch_energy_regressors_cv.csv",
            col,
            "r2" if rest[2] == "r2" else "error",
            uses_initial_epochs=rest[0] == "with_initial_epochs",
            model=MODELS.get(rest[1], rest[1]),
        )
    if head == "table10_test_rmse_kj" and len(rest) == 1:
        return _spec(T + "table10_test_rmse.csv", "rmse_kj", "error", method=rest[0])
    return None


#: FLUSS settings of the paper -> the pipeline's config key (compared with the configuration the run used)
FLUSS_SETTINGS = {
    "subsequence_length": "estimators.fluss.subsequence_length",
    "regimes": "estimators.fluss.n_regimes",
    "exclusion_factor": "estimators.fluss.excl_factor",
}


def _online(rest: list[str]) -> Spec | None:
    T = "tables/"
    if rest == ["stabilizing_epoch"]:
        # the first epoch by which stable_share (0.9) of all runs are stable (Figure 9)
        return _spec(T + "stabilizing_summary.csv", "epoch_for_share", "epoch", group="all")
    if rest[0] == "fluss" and len(rest) == 2 and rest[1] in FLUSS_SETTINGS:
        return _spec(CONFIG, FLUSS_SETTINGS[rest[1]], "parameter")
    method = {"power_based": "power_based", "epoch_energy_based": "epoch_energy_based"}
    if rest[0] == "window_5_from_epoch_10_rmse_kj" and len(rest) == 2:
        # Figure 10 bottom: w = 5 starting at epoch 10, as the paper's number
        return _spec(
            T + "online_window_sweep.csv",
            "rmse_kj",
            "error",
            sweep="stabilizing_epoch",
            method=method[rest[1]],
            window=5,
            stabilizing_epoch=10,
        )
    if rest[0] == "window_5_random_start_rmse_kj" and len(rest) == 2:
        return _spec(
            T + "online_window_sweep.csv", "rmse_kj", "error", sweep="random_start", method=method[rest[1]], window=5
        )
    return None


def mapping(keys) -> dict[str, Spec | None]:
    """:func:`spec_for` of every key (None for descriptive or unmapped keys)."""
    return {k: (None if k.startswith(DESCRIPTIVE_PREFIXES) else spec_for(k)) for k in keys}


# ----------------------------------------------------------------------------------------------
# verdicts


@dataclass
class Judgement:
    abs_diff: float = float("nan")
    rel_diff: float = float("nan")
    tolerance: str = ""
    verdict: str = NA
    note: str = ""


def tolerance_text(rule: dict) -> str:
    parts = []
    if "relative" in rule:
        parts.append(f"rel <= {rule['relative']:g}")
    if "absolute" in rule:
        parts.append(f"abs <= {rule['absolute']:g}")
    if "log10" in rule:
        parts.append(f"log10 ratio <= {rule['log10']:g}")
    if rule.get("exact"):
        parts.append("exact")
    return " or ".join(parts)


def _pairs(text) -> frozenset:
    """Dunn's pairs from ``a-b;c-d`` (paper) or ``a – b; c – d`` (pipeline)."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return frozenset()
    out = set()
    for item in str(text).replace("–", "-").split(";"):
        item = item.strip()
        if not item:
            continue
        a, _, b = item.partition(" - ") if " - " in item else item.partition("-")
        out.add(frozenset((a.strip(), b.strip())))
    return frozenset(out)


def _fmt_pairs(pairs) -> str:
    return "; ".join(sorted("-".join(sorted(p)) for p in pairs))


def judge(kind: str, paper, reproduced, tolerances: dict | None = None) -> Judgement:
    """Compare one reproduced value with the paper's under the rule of its ``kind``."""
    tol = {**DEFAULT_TOLERANCES, **(tolerances or {})}
    if kind not in tol:
        raise KeyError(f"scorecard: no tolerance for kind '{kind}' (config scorecard.tolerances)")
    rule = tol[kind]
    j = Judgement(tolerance=tolerance_text(rule))
    if kind == "pair_set":
        want, got = _pairs(paper), _pairs(reproduced)
        j.abs_diff = float(len(want ^ got))
        j.verdict = PASS if want == got else FAIL
        if want != got:
            j.note = "; ".join(
                s
                for s in (
                    f"missing: {_fmt_pairs(want - got)}" if want - got else "",
                    f"extra: {_fmt_pairs(got - want)}" if got - want else "",
                )
                if s
            )
        return j
    t, v = float(paper), float(reproduced)
    j.abs_diff = v - t
    j.rel_diff = v / t - 1 if t != 0 else float("nan")
    ok = False
    if "relative" in rule and t != 0:
        ok |= abs(v / t - 1) <= rule["relative"] + 1e-12
    if "absolute" in rule:
        ok |= abs(v - t) <= rule["absolute"] + 1e-12
    if "log10" in rule:
        if t > 0 and v >= 0:
            d = math.log10(max(v, 1e-300)) - math.log10(t)
            j.note = f"log10 ratio {d:+.2f}"
            ok |= abs(d) <= rule["log10"] + 1e-12
    if rule.get("exact"):
        ok |= v == t
    j.verdict = PASS if ok else FAIL
    return j


# ----------------------------------------------------------------------------------------------
# reading the pipeline's tables


@dataclass
class Lookup:
    value: object = None
    reason: str = ""
    note: str = ""


def _same(cell, wanted) -> bool:
    if isinstance(wanted, bool):
        return str(cell).strip().lower() == str(wanted).lower()
    if isinstance(wanted, (int, float)) and not isinstance(wanted, bool):
        try:
            return float(cell) == float(wanted)
        except (TypeError, ValueError):
            return False
    return str(cell) == str(wanted)


def _notes(rows: pd.DataFrame) -> str:
    if "note" not in rows:
        return ""
    return "; ".join(dict.fromkeys(str(n) for n in rows["note"] if isinstance(n, str) and n.strip()))


def _config_value(config: dict | None, dotted: str) -> Lookup:
    if config is None:
        return Lookup(reason="the run's configuration was not given")
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return Lookup(reason=f"config has no {dotted}")
        node = node[part]
    return Lookup(value=node, note="a setting of the run (config), not a measured result")


def lookup(
    results_dir: Path, spec: Spec, cache: dict, produced: set[str] | None = None, config: dict | None = None
) -> Lookup:
    """The value ``spec`` points at, or why there is none."""
    if spec.table == CONFIG:
        return _config_value(config, spec.column)
    if produced is not None and spec.table not in produced:
        return Lookup(reason=f"the pipeline does not produce {spec.table}")
    path = Path(results_dir) / spec.table
    if spec.table not in cache:
        cache[spec.table] = pd.read_csv(path) if path.is_file() else None
    df = cache[spec.table]
    if df is None:
        return Lookup(reason=f"{spec.table} does not exist (not produced yet)")
    status = df["status"].astype(str) if "status" in df else pd.Series("ok", index=df.index)
    if len(df) and (status == "skipped").all():
        return Lookup(reason=f"{spec.table}: {_notes(df) or 'skipped for this source'}")
    if spec.column not in df:
        return Lookup(reason=f"{spec.table} has no column '{spec.column}'")
    rows = df
    for col, wanted in spec.where:
        if col not in rows:
            return Lookup(reason=f"{spec.table} has no column '{col}'")
        sel = rows[rows[col].map(lambda c, w=wanted: _same(c, w))]
        if sel.empty:
            present = ", ".join(dict.fromkeys(str(x) for x in rows[col].dropna()))[:200]
            return Lookup(reason=f"no row with {col}={wanted} in {spec.table} (present: {present or 'none'})")
        rows = sel
    values = rows[spec.column].dropna()
    if values.empty:
        return Lookup(
            reason=f"{spec.table} [{spec.row}]: {spec.column} is empty" + (f" ({_notes(rows)})" if _notes(rows) else "")
        )
    if values.astype(str).nunique() > 1:
        return Lookup(
            reason=f"{spec.table} [{spec.row}]: {len(values)} different values of {spec.column}; "
            "the selector is ambiguous"
        )
    value = values.iloc[0]
    if spec.transform == "one_minus":
        value = 1 - float(value)
    note = _notes(rows) if (status.loc[rows.index] != "ok").any() else ""
    return Lookup(value=value, note="; ".join(s for s in (_sample_size(rows), note) if s))


def _sample_size(rows: pd.DataFrame) -> str:
    """``n=135, k=5``: the sample behind the value, from the row's own columns (when one value)."""
    parts = []
    for col in ("n", "k", "n_runs", "n_train", "n_from", "n_to"):
        if col in rows:
            vals = pd.to_numeric(rows[col], errors="coerce").dropna().unique()
            if len(vals) == 1:
                parts.append(f"{col}={vals[0]:g}")
    return ", ".join(parts)


def build_scorecard(
    results_dir: str | Path,
    targets_csv: str | Path | None = None,
    tolerances: dict | None = None,
    produced: list[str] | None = None,
    config: dict | None = None,
    synthetic: bool = False,
    robustness: str | Path | pd.DataFrame | None = None,
    robustness_variants: tuple[str, ...] = ("configured", "authors"),
) -> pd.DataFrame:
    """One row per key of ``targets_csv`` (see the module docstring).

    ``synthetic``: the source is simulated; every number that would be judged gets the verdict
    :data:`SYNTHETIC` instead of pass/fail (its value, difference and tolerance are still shown).

    ``produced``: the table paths (relative to ``results_dir``) the pipeline declares for this source;
    a mapped table outside it is "not available: the pipeline does not produce it" (None: look at the
    files).  ``config``: the run's configuration, for the targets that are method settings (FLUSS).
    ``robustness``: ``tables/robustness.csv`` (path or frame) for :func:`seed_range_verdicts`.
    """
    targets = read_targets(targets_csv)
    specs = mapping(targets["key"])
    produced_set = set(produced) if produced is not None else None
    cache: dict = {}
    rows = []
    for t in targets.itertuples(index=False):
        spec = specs[t.key]
        row = dict(
            key=t.key,
            section=t.section,
            kind="",
            paper=t.value,
            reproduced=None,
            abs_diff=np.nan,
            rel_diff=np.nan,
            tolerance="",
            verdict=NA,
            table="",
            row="",
            column="",
            note="",
        )
        if t.key.startswith(DESCRIPTIVE_PREFIXES):
            row.update(kind="descriptive", verdict=DESCRIPTIVE, note="descriptive (design or method), not reproduced")
        elif spec is None:
            row.update(note="no table of the pipeline holds this number (no mapping in dlenergy.scorecard)")
        else:
            row.update(kind=spec.kind, table=spec.table, row=spec.row, column=spec.column)
            found = lookup(Path(results_dir), spec, cache, produced_set, config)
            if found.value is None:
                row.update(
                    note=f"not available from this source: {found.reason}",
                    tolerance=tolerance_text({**DEFAULT_TOLERANCES, **(tolerances or {})}[spec.kind]),
                )
            else:
                j = judge(spec.kind, t.value, found.value, tolerances)
                note = "; ".join(s for s in (j.note, found.note) if s)
                row.update(
                    reproduced=found.value,
                    abs_diff=j.abs_diff,
                    rel_diff=j.rel_diff,
                    tolerance=j.tolerance,
                    verdict=SYNTHETIC if synthetic else j.verdict,
                    note=note,
                )
        rows.append(row)
    card = pd.DataFrame(rows, columns=COLUMNS)
    if robustness is not None:
        rob = robustness if isinstance(robustness, pd.DataFrame) else pd.read_csv(robustness, keep_default_na=False)
        card = seed_range_verdicts(card, rob, robustness_variants)
    return card


def _seed_range_note(r) -> str:
    """The seed range of one robustness.csv row, for the scorecard's note."""
    what = f"the paper's value lies in the outlier-seed range of the {r['variant']} variant"
    if r["kind"] == "pair_set":
        return f"{what}: the paper's pair set under {float(r['share_conclusion_holds']):.0%} of {r['n_seeds']} seeds"
    return (
        f"{what}: [{_num(r['min'])}, {_num(r['max'])}] over {r['n_seeds']} seeds "
        f"(p5-p95 {_num(r['p5'])}-{_num(r['p95'])})"
    )


def seed_range_verdicts(
    card: pd.DataFrame, robustness: pd.DataFrame, variants: tuple[str, ...] = ("configured", "authors")
) -> pd.DataFrame:
    """``fail`` rows whose paper value lies in the outlier-seed range of one of ``variants`` get the
    verdict :data:`WITHIN_SEEDS` and the range in their note; every other row is unchanged.

    ``robustness``: ``tables/robustness.csv`` (columns ``statistic``, ``variant``, ``kind``, ``min``,
    ``p5``, ``p95``, ``max``, ``n_seeds``, ``share_conclusion_holds``, ``paper_within_range``).

    Examples
    --------
    >>> card = pd.DataFrame({"key": ["a", "b"], "verdict": [FAIL, FAIL], "note": ["", ""]})
    >>> rob = pd.DataFrame({"statistic": ["a", "b"], "variant": "authors", "kind": "shapiro_w", "min": [0.55, 0.6],
    ...                     "p5": 0.6, "p95": 0.64, "max": [0.66, 0.7], "n_seeds": 100,
    ...                     "share_conclusion_holds": 1.0, "paper_within_range": [True, False]})
    >>> seed_range_verdicts(card, rob)["verdict"].tolist()
    ['within outlier-seed range', 'fail']
    """
    within = robustness["paper_within_range"].astype(str).str.strip().str.lower() == "true"
    rob = robustness[within & robustness["variant"].isin(list(variants))]
    notes = {
        k: "; ".join(_seed_range_note(r) for _, r in g.iterrows()) for k, g in rob.groupby("statistic", sort=False)
    }
    out = card.copy()
    hit = (out["verdict"] == FAIL) & out["key"].isin(list(notes))
    out.loc[hit, "verdict"] = WITHIN_SEEDS
    out.loc[hit, "note"] = [
        "; ".join(s for s in (str(n) if isinstance(n, str) else "", notes[k]) if s)
        for k, n in zip(out.loc[hit, "key"], out.loc[hit, "note"])
    ]
    return out


def counts(card: pd.DataFrame) -> dict[str, int]:
    return {v: int((card["verdict"] == v).sum()) for v in (PASS, FAIL, WITHIN_SEEDS, SYNTHETIC, NA, DESCRIPTIVE)}


def _num(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if f != 0 and (abs(f) < 1e-3 or abs(f) >= 1e5):
        return f"{f:.3e}"
    return f"{f:.4g}"


def to_markdown(card: pd.DataFrame, source: str, label: str | None = None) -> str:
    """The scorecard as a Markdown document: counts, then every target with its verdict."""
    c = counts(card)
    lines = [f"# Reproduction scorecard: `{source}`", ""]
    if label:
        synthetic = "synthetic" in label.lower() or "simulated" in label.lower()
        lines += [f"> **{'SYNTHETIC DATA' if synthetic else 'Data'}:** {label}", ""]
    within = f"{c[WITHIN_SEEDS]} within outlier-seed range, " if c[WITHIN_SEEDS] else ""
    judged = (
        f"{c[SYNTHETIC]} shown without a verdict (synthetic data: no evidence about the paper either way)"
        if c[SYNTHETIC]
        else f"{c[PASS]} pass, {c[FAIL]} fail, {within}".rstrip(", ")
    )
    lines += [
        f"**{judged}, {c[NA]} not available from this source, "
        f"{c[DESCRIPTIVE]} descriptive** (of {len(card)} numbers in `paper_targets.csv`).",
        "",
        "Reproduced values are read from the pipeline's tables (`table` / `row` / `column`); tolerances by kind "
        "come from config `scorecard.tolerances`. rel = reproduced / paper - 1.",
        "",
    ]
    if c[WITHIN_SEEDS]:
        lines += [
            f"*{WITHIN_SEEDS}*: outside the tolerance, but the paper's value lies in the range the number "
            "takes over the seeds of the outlier stage (`tables/robustness.csv`, "
            "`figures/robustness_seeds.png`).",
            "",
        ]
    verdict_mark = {
        PASS: "pass",
        FAIL: "**FAIL**",
        WITHIN_SEEDS: "within seed range",
        NA: "n/a",
        DESCRIPTIVE: "descriptive",
        SYNTHETIC: "synthetic: no verdict",
    }
    body = card[card["verdict"] != DESCRIPTIVE]
    table = pd.DataFrame(
        {
            "key": "`" + body["key"] + "`",
            "paper": body["paper"],
            "reproduced": body["reproduced"].map(_num),
            "diff": body["abs_diff"].map(_num),
            "rel": body["rel_diff"].map(lambda x: "" if pd.isna(x) else f"{x:+.1%}"),
            "tolerance": body["tolerance"],
            "verdict": body["verdict"].map(verdict_mark),
            "from / note": [
                "; ".join(
                    s
                    for s in (
                        f"{r.table} [{r.row}] {r.column}" if r.verdict != NA and r.table else "",
                        str(r.note) if r.note else "",
                    )
                    if s
                ).replace("|", "\\|")
                for r in body.itertuples()
            ],
        }
    )
    lines.append(table.to_markdown(index=False))
    desc = card[card["verdict"] == DESCRIPTIVE]
    if len(desc):
        lines += ["", f"Descriptive, not reproduced ({len(desc)}): " + ", ".join(f"`{k}`" for k in desc["key"]) + "."]
    return "\n".join(lines) + "\n"
