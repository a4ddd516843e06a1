"""results/index.md: where each table and figure of the paper was reproduced, from each source's outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dlenergy import summary as S
from dlenergy.scorecard import FAIL, NA, PASS, SYNTHETIC


def _source(root: Path, name: str, verdicts: dict[str, str], skipped: dict[str, str]) -> None:
    d = root / name
    (d / "tables").mkdir(parents=True)
    (d / "clean").mkdir()
    (d / "clean" / "runs.parquet").write_bytes(b"x")
    for a in S.ARTIFACTS:
        p = d / a.output
        if p.suffix == ".csv" and not p.exists():
            if Path(a.output).name in skipped:
                t = pd.DataFrame(
                    [{"analysis": "x", "status": "skipped", "note": f"skipped: {skipped[Path(a.output).name]}"}]
                )
            else:
                t = pd.DataFrame([{"analysis": "x", "status": "ok", "note": ""}])
            t.to_csv(p, index=False)
    pd.DataFrame({"key": list(verdicts), "verdict": list(verdicts.values())}).to_csv(d / "scorecard.csv", index=False)


def test_real_synthetic_and_missing(tmp_path):
    real_verdicts = {
        "table3_rq1_normality_cloud.energy.shapiro.vgg16.stat": PASS,
        "table3_rq1_normality_cloud.energy.shapiro.vgg16.p": FAIL,
        "table3_rq1_normality_cloud.energy.levene.stat": S.WITHIN_RANGE,
        "table5_rq31_normality_ram.energy.shapiro.8.stat": NA,
        "rq1_cloud_chesslive.energy_j_per_image.vgg16": PASS,
    }
    _source(
        tmp_path,
        "seaa2023",
        real_verdicts,
        {
            "table5_normality_ram.csv": "no allocated-RAM experiment in this source",
            "table7_kruskal_ram.csv": "no allocated-RAM experiment in this source",
            "stabilizing_summary.csv": "no epoch markers",
        },
    )
    _source(
        tmp_path,
        "sample",
        {"table3_rq1_normality_cloud.energy.shapiro.vgg16.stat": SYNTHETIC},
        {"stabilizing_summary.csv": "too few runs"},
    )
    table = S.where_reproduced(tmp_path, {"seaa2023": True, "sample": False})
    assert len(table) == 2 * len(S.ARTIFACTS)
    t3 = table[(table.artifact == "Table 3") & (table.source == "seaa2023")].iloc[0]
    assert (t3[PASS], t3[FAIL], t3[S.WITHIN_RANGE], t3[NA]) == (1, 1, 1, 0)
    md = S.to_markdown(
        table, {"seaa2023": "SEAA 2023 (real)", "sample": "synthetic sample"}, "snakemake --report r.html"
    )
    rows = {line.split(" | ")[0].strip("| "): line for line in md.splitlines() if line.startswith("| ")}
    assert "**real measurements** (seaa2023)" in rows["Table 3"]
    assert "seaa2023: 1 pass, 1 fail, 1 within outlier-seed range" in rows["Table 3"]
    # RAM: not in the real logs, produced on synthetic data only, with the real source's reason
    assert "synthetic data only (sample)" in rows["Table 5"]
    assert "not from real data: seaa2023: no allocated-RAM experiment in this source" in rows["Table 5"]
    # skipped everywhere: not reproduced, every source's reason
    assert "not reproduced" in rows["Figure 9"]
    assert "seaa2023: no epoch markers; sample: too few runs" in rows["Figure 9"]
    assert "descriptive (the paper's design, not a measurement)" in rows["Table 2"]
    assert md.rstrip().endswith("Report: `snakemake --report r.html`")


def test_missing_table_is_not_reproduced(tmp_path):
    (tmp_path / "x" / "tables").mkdir(parents=True)
    table = S.where_reproduced(tmp_path, {"x": True})
    row = table[table.artifact == "Table 8"].iloc[0]
    assert not row.produced and row.reason == "table8_power_regressors_cv.csv was not produced"


def test_claims_line_counts_real_sources_only(tmp_path):
    for s, verdicts in {
        "real": ["holds", "holds", "does not hold", "not testable with this data"],
        "synth": ["synthetic: no verdict"] * 3,
    }.items():
        (tmp_path / s).mkdir()
        pd.DataFrame({"claim_id": range(len(verdicts)), "verdict": verdicts}).to_csv(
            tmp_path / s / "claims.csv", index=False
        )
    line = S.claims_line(tmp_path, {"real": True, "synth": False})
    assert line.startswith(S.CLAIMS_LINE)
    assert "**2 of 4** on ``real`` (1 do not hold, 1 not testable with these data)" in line and "synth" not in line
    assert "none: no real source" in S.claims_line(tmp_path, {"synth": False})
