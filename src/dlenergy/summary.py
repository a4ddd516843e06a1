"""One page for a whole run: for every table and figure of the paper, where it was reproduced.

A run builds several sources (by default the real SEAA 2023 logs and the synthetic sample).
:func:`where_reproduced` reads each source's scorecard (``results/<source>/scorecard.csv``) and the
tables behind each paper artefact, and says for each artefact whether it was reproduced from **real
measurements** (with the scorecard verdicts of its numbers), only on **synthetic data** (no verdict),
or not at all (with the reason the pipeline recorded).  :func:`to_markdown` writes
``results/index.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .scorecard import DESCRIPTIVE, DESCRIPTIVE_PREFIXES, FAIL, NA, PASS, SYNTHETIC

WITHIN_RANGE = "within outlier-seed range"  #: a verdict the robustness step may add to the scorecard


@dataclass(frozen=True)
class Artifact:
    """A table or figure of the paper, the pipeline output that reproduces it, and its scorecard keys."""

    name: str
    what: str
    output: str  #: path under results/<source>/ (a table CSV, or the CSV a figure is drawn from)
    figure: str | None = None  #: path under results/<source>/ of the figure, for figures
    keys: tuple[str, ...] = ()  #: scorecard key prefixes of the paper's numbers it shows


ARTIFACTS: tuple[Artifact, ...] = (
    Artifact(
        "Table 2", "model parameters and GFLOPs (design)", "clean/runs.parquet", keys=("table2_models_at_128px.",)
    ),
    Artifact(
        "Table 3",
        "normality and equal variances, RQ1 (Cloud)",
        "tables/table3_normality_rq1.csv",
        keys=("table3_rq1_normality_cloud.",),
    ),
    Artifact(
        "Table 4",
        "normality and equal variances, RQ2 (MobileNet V2)",
        "tables/table4_normality_rq2.csv",
        keys=("table4_rq2_normality_mobilenet_v2.",),
    ),
    Artifact(
        "Table 5",
        "normality, allocated RAM (RQ3.1)",
        "tables/table5_normality_ram.csv",
        keys=("table5_rq31_normality_ram.",),
    ),
    Artifact(
        "Table 6",
        "Spearman: FLOPs vs energy and GPU usage",
        "tables/table6_spearman_flops.csv",
        keys=("table6_spearman_flops.",),
    ),
    Artifact(
        "Table 7",
        "Kruskal-Wallis: allocated RAM",
        "tables/table7_kruskal_ram.csv",
        keys=("table7_ram_kruskal_wallis.",),
    ),
    Artifact(
        "Table 8",
        "power regressors, 5-fold CV",
        "tables/table8_power_regressors_cv.csv",
        keys=("table8_power_regressors_cv.",),
    ),
    Artifact(
        "Table 9",
        "epoch-energy regressors, 5-fold CV",
        "tables/table9_epoch_energy_regressors_cv.csv",
        keys=("table9_epoch_energy_regressors_cv.",),
    ),
    Artifact(
        "Table 10", "test RMSE of the six methods", "tables/table10_test_rmse.csv", keys=("table10_test_rmse_kj.",)
    ),
    Artifact(
        "§4.1 tests",
        "RQ1 Kruskal-Wallis, η² and Dunn (Cloud)",
        "tables/kruskal_dunn_rq1.csv",
        keys=("rq1_cloud_chesslive.kruskal_wallis.", "rq1_cloud_chesslive.dunn_not_different."),
    ),
    Artifact(
        "§4.2 tests",
        "RQ2 Kruskal-Wallis, η² and Spearman (MobileNet V2)",
        "tables/kruskal_dunn_rq2.csv",
        keys=("rq2_mobilenet_v2.kruskal_wallis.",),
    ),
    Artifact(
        "Figure 2",
        "medians per architecture and environment",
        "tables/tradeoff.csv",
        "figures/fig2_tradeoff.png",
        (
            "rq1_cloud_chesslive.energy_j_per_image.",
            "rq1_cloud_chesslive.gpu_usage_pct.",
            "rq1_cloud_chesslive.f1.",
            "rq1_cloud_chesslive.mobilenet_v2_energy",
            "rq1_cloud_chesslive.energy_decrease",
            "rq1_cloud_chesslive.f1_decrease",
            "rq2_mobilenet_v2.cloud_energy",
            "rq2_mobilenet_v2.energy_reduction",
            "rq2_mobilenet_v2.gpu_usage_pct.",
            "rq2_mobilenet_v2.mean_training_power_w.",
            "best_combination.",
        ),
    ),
    Artifact(
        "Figure 3",
        "energy and GPU usage against FLOPs (Cloud)",
        "tables/table6_spearman_flops.csv",
        "figures/fig3_flops.png",
        ("table6_spearman_flops.",),
    ),
    Artifact(
        "Figure 4",
        "GPU usage against power and energy",
        "tables/spearman_gpu_usage.csv",
        "figures/fig4_gpu_usage.png",
        ("rq2_mobilenet_v2.spearman_gpu_usage.",),
    ),
    Artifact(
        "Figure 5", "batch and input size: energy", "tables/batch_input.csv", "figures/fig5_batch_input_energy.png"
    ),
    Artifact(
        "Figure 6",
        "batch and input size: power and duration",
        "tables/batch_input.csv",
        "figures/fig6_batch_input_power_time.png",
    ),
    Artifact(
        "Figure 7",
        "allocated RAM: energy, duration, RAM used",
        "tables/table7_kruskal_ram.csv",
        "figures/fig7_ram.png",
        ("table7_ram_kruskal_wallis.",),
    ),
    Artifact(
        "Figure 8", "epoch duration (Inception V3)", "tables/epoch_duration.csv", "figures/fig8_epoch_duration.png"
    ),
    Artifact(
        "Figure 9",
        "stabilizing epoch (FLUSS)",
        "tables/stabilizing_summary.csv",
        "figures/fig9_stabilizing_epoch.png",
        ("rq32_online.stabilizing_epoch", "rq32_online.fluss."),
    ),
    Artifact(
        "Figure 10",
        "online estimators: window and start",
        "tables/online_window_sweep.csv",
        "figures/fig10_online_window.png",
        ("rq32_online.window_",),
    ),
    Artifact(
        "Figure 11",
        "predicted vs true energy, six methods",
        "tables/table10_test_rmse.csv",
        "figures/fig11_predicted_vs_true.png",
        ("table10_test_rmse_kj.",),
    ),
)

COLUMNS = [
    "artifact",
    "what",
    "source",
    "real",
    "produced",
    "reason",
    PASS,
    FAIL,
    WITHIN_RANGE,
    SYNTHETIC,
    NA,
    DESCRIPTIVE,
]


def _skip_reason(path: Path) -> str | None:
    """None when the table holds results; else why not (the pipeline's own 'skipped: ...' note)."""
    if not path.is_file():
        return f"{path.name} was not produced"
    if path.suffix != ".csv":
        return None
    t = pd.read_csv(path)
    if len(t) == 0:
        return f"{path.name} is empty"
    if "status" in t and (t["status"] == "skipped").all():
        note = str(t["note"].iloc[0]) if "note" in t else "skipped"
        return note.removeprefix("skipped: ")
    return None


def source_rows(results: Path, source: str, real: bool) -> list[dict]:
    """One row per artefact for one source: produced or not (why), and its scorecard verdict counts."""
    card_path = results / source / "scorecard.csv"
    card = (
        pd.read_csv(card_path, keep_default_na=False)
        if card_path.is_file()
        else pd.DataFrame(columns=["key", "verdict"])
    )
    rows = []
    for a in ARTIFACTS:
        reason = _skip_reason(results / source / a.output)
        mine = card.loc[card["key"].astype(str).str.startswith(a.keys)] if a.keys else card.iloc[0:0]
        counts = {v: int((mine["verdict"] == v).sum()) for v in (PASS, FAIL, WITHIN_RANGE, SYNTHETIC, NA, DESCRIPTIVE)}
        rows.append(
            {
                "artifact": a.name,
                "what": a.what,
                "source": source,
                "real": real,
                "produced": reason is None,
                "reason": reason or "",
                **counts,
            }
        )
    return rows


def where_reproduced(results: str | Path, sources: dict[str, bool]) -> pd.DataFrame:
    """Per artefact and source: was it produced, from real data, and how did its numbers fare.

    ``sources`` maps each source of the run to True when its data are real measurements.
    """
    results = Path(results)
    rows = [r for s, real in sources.items() for r in source_rows(results, s, real)]
    return pd.DataFrame(rows, columns=COLUMNS)


def _verdicts(r) -> str:
    parts = [f"{r[v]} {v}" for v in (PASS, FAIL, WITHIN_RANGE, NA) if r[v]]
    return ", ".join(parts) if parts else "no number of the paper to compare"


def _cell(group: pd.DataFrame, artifact: Artifact) -> tuple[str, str]:
    """(where it was reproduced, the verdicts on real data) for one artefact."""
    if artifact.keys and all(k.startswith(DESCRIPTIVE_PREFIXES) for k in artifact.keys):
        return (
            "descriptive (the paper's design, not a measurement)",
            "not reproduced: listed in the scorecard as descriptive",
        )
    real = group[group["real"] & group["produced"]]
    judged = real[(real[PASS] + real[FAIL] + real[WITHIN_RANGE]) > 0]
    synth = group[~group["real"] & group["produced"]]
    if len(real):
        best = judged if len(judged) else real
        verdict = "; ".join(f"{r['source']}: {_verdicts(r)}" for _, r in best.iterrows())
        return "**real measurements** (" + ", ".join(real["source"]) + ")", verdict
    if len(synth):
        why = (
            "; ".join(f"{r.source}: {r.reason}" for r in group[group["real"]].itertuples())
            or "no real source in this run"
        )
        return "synthetic data only (" + ", ".join(synth["source"]) + ")", f"not from real data: {why}"
    why = "; ".join(f"{r.source}: {r.reason}" for r in group.itertuples())
    return "not reproduced", why


CLAIMS_LINE = "Claims of the paper that hold on real data:"


def claims_line(results: str | Path, sources: dict[str, bool]) -> str:
    """One line: how many of the paper's claims hold on each real source (``results/<source>/claims.csv``)."""
    from .claims import FAILS, HOLDS, UNTESTABLE

    parts = []
    for s, real in sources.items():
        path = Path(results) / s / "claims.csv"
        if real and path.is_file():
            v = pd.read_csv(path, keep_default_na=False)["verdict"]
            parts.append(
                f"**{int((v == HOLDS).sum())} of {len(v)}** on ``{s}`` ({int((v == FAILS).sum())} do not "
                f"hold, {int((v == UNTESTABLE).sum())} not testable with these data)"
            )
    what = "; ".join(parts) if parts else "none: no real source in this run (synthetic data carry no verdict)"
    return f"{CLAIMS_LINE} {what}. Details: ``results/<source>/claims.md``."


def to_markdown(table: pd.DataFrame, labels: dict[str, str], report_cmd: str, claims: str | None = None) -> str:
    """``results/index.md``: the claims count, the sources of the run, then one line per artefact of the paper."""
    lines = ["# dlenergy: what this run reproduced", ""]
    if claims:
        lines += [claims, ""]
    lines += ["Sources of this run:", ""]
    for s, label in labels.items():
        lines.append(f"- `{s}`: {label} — results in `results/{s}/` (scorecard: `results/{s}/scorecard.md`)")
    lines += [
        "",
        "| paper | what | reproduced from | verdicts of the paper's numbers on real data |",
        "|---|---|---|---|",
    ]
    by_name = {a.name: a for a in ARTIFACTS}
    for name, group in table.groupby("artifact", sort=False):
        where, verdict = _cell(group, by_name[name])
        lines.append(f"| {name} | {group['what'].iloc[0]} | {where} | {verdict.replace('|', '/')} |")
    lines += [
        "",
        "Verdicts come from each real source's scorecard (tolerances in `config.yaml`, `scorecard.tolerances`).",
        "Numbers computed on synthetic data carry no verdict: they show that the pipeline runs, not that the paper "
        "holds.",
        "",
        f"Report: `{report_cmd}`",
        "",
    ]
    return "\n".join(lines)
