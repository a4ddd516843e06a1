"""The reviewer's view: LaTeX tables, the reproduction scorecard, the rule-graph figure and the
Snakemake report (unit tests on small frames; one slow end-to-end build on the tiny config)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlenergy import latex as L
from dlenergy import rulegraph as R
from dlenergy import scorecard as S

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------
# LaTeX


def test_format_number():
    assert L.format_number(135) == "135"
    assert L.format_number(np.int64(7)) == "7"
    assert L.format_number(121.70665698378116) == "121.7"
    assert L.format_number(0.9054358229521627) == "0.9054"
    assert L.format_number(27.0) == "27"
    assert L.format_number(12345.67) == "12350"
    assert L.format_number(2.307269e-25, p_value=True) == r"$2.307 \times 10^{-25}$"
    assert L.format_number(0.0346, p_value=True) == "0.0346"
    assert L.format_number(0.000426, p_value=True) == r"$4.260 \times 10^{-4}$"
    assert L.format_number(0.000426) == "0.000426"  # not a p-value: positional down to 1e-4
    assert L.format_number(3.2e-6) == r"$3.200 \times 10^{-6}$"
    assert L.format_number(float("nan")) == "--"
    assert L.format_number(None) == "--"
    assert L.format_number(True) == "yes" and L.format_number(np.bool_(False)) == "no"
    assert L.format_number(0.0) == "0"


def test_escape_and_p_value_columns():
    assert L.escape("energy_per_image_j & 50% #1 $x$") == r"energy\_per\_image\_j \& 50\% \#1 \$x\$"
    assert L.escape("mobilenet_v2 – resnet50") == r"mobilenet\_v2 -- resnet50"
    assert L.escape("η² ≥ 0") == r"$\eta$$^2$ $\geq$ 0"
    for c in ("p", "p_value", "shapiro_p", "levene_p", "p_adjusted", "p_unadjusted"):
        assert L.is_p_value_column(c), c
    for c in ("n", "rho", "p_adjust_method_name_x", "rmse_kj", "group"):
        assert not L.is_p_value_column(c) or c.startswith("p_adjust"), c


def _frame(n=3):
    return pd.DataFrame(
        {
            "analysis": ["t"] * n,
            "variable": [f"var_{i}" for i in range(n)],
            "n": list(range(10, 10 + n)),
            "H": [121.70665698378116 + i for i in range(n)],
            "p_value": [2.30726939653123e-25 * 10**i for i in range(n)],
            "eta2": [0.9054358229521627] * n,
            "significant": [True] * n,
            "note": [np.nan] * n,
            "data_label": ["synthetic sample (simulated data, not real measurements)"] * n,
        }
    )


def _check_tex_matches_csv(tex: str, df: pd.DataFrame):
    rows = L.body_rows(tex)
    cells = L.formatted_frame(df)
    assert rows[0] == list(cells.columns)
    assert rows[1:] == cells.values.tolist()
    # and the numbers, parsed back, are the CSV's to 4 significant digits
    body, _, _ = L.split_table(df)
    for j, col in enumerate(body.columns):
        if not pd.api.types.is_float_dtype(body[col]):
            continue
        for i, v in enumerate(body[col]):
            got = L.parse_number(rows[1 + i][j])
            if isinstance(v, float) and math.isnan(v):
                assert math.isnan(got)
            else:
                assert got == pytest.approx(v, rel=5e-4, abs=0), (col, v, rows[1 + i][j])


def test_to_latex_booktabs_same_numbers_as_csv(tmp_path):
    df = _frame()
    csv = tmp_path / "t.csv"
    df.to_csv(csv, index=False)
    back = pd.read_csv(csv)
    tex = L.to_latex(back, "Kruskal-Wallis of my_table", "tab:t", source="tiny")
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{table}", r"\label{tab:t}"):
        assert rule in tex
    assert r"my\_table" in tex and r"p\_value" in tex
    assert "SYNTHETIC DATA: synthetic sample" in tex  # the data label goes to the caption
    assert "analysis: t" in tex  # a constant text column goes to the caption
    assert "note" not in L.body_rows(tex)[0]  # an empty column is left out
    assert r"$2.307 \times 10^{-25}$" in tex
    _check_tex_matches_csv(tex, back)


def test_long_tables_use_longtable(tmp_path):
    df = _frame(L.LONGTABLE_ROWS + 5)
    tex = L.to_latex(df, "Long", "tab:long")
    assert r"\begin{longtable}" in tex
    _check_tex_matches_csv(tex, df)


def test_caption_from_rst():
    rst = (
        "**Table 3 (RQ1).** Shapiro-Wilk ``W`` and *p*.\n\n{% if x %}\n**SYNTHETIC DATA.**\n{% endif %}\n"
        'Source: ``{{ snakemake.config["source"] }}``.\n'
    )
    assert L.caption_from_rst(rst) == "Table 3 (RQ1). Shapiro-Wilk W and p."


# ----------------------------------------------------------------------------------------------
# scorecard: verdicts by tolerance kind


@pytest.mark.parametrize(
    "kind,paper,value,verdict",
    [
        ("energy", 0.39, 0.40, "pass"),  # +2.6 % within 5 %
        ("energy", 0.39, 0.42, "fail"),  # +7.7 %
        ("count", 1630, 1600, "pass"),
        ("count", 1630, 369, "fail"),
        ("percentage", 90, 94.4, "pass"),
        ("fraction", 0.64, 0.6378, "pass"),
        ("score", 0.99, 0.987, "pass"),  # F1: absolute 0.01
        ("score", 0.99, 0.97, "fail"),
        ("f1_decrease", 0.0134, 0.0141, "pass"),
        ("shapiro_w", 0.57, 0.61, "pass"),  # absolute 0.05
        ("shapiro_w", 0.57, 0.65, "fail"),
        ("rho", 0.8, 0.79, "pass"),
        ("eta2", 0.92, 0.85, "fail"),
        ("r2", 0.99, 0.96, "pass"),
        ("statistic", 116.85, 121.7, "pass"),  # relative 10 %
        ("statistic", 4.61, 6.63, "fail"),
        ("error", 7.34, 7.9, "pass"),
        ("error", 7.34, 0.88, "fail"),
        ("p_value", 2.51e-24, 2.3e-25, "fail"),  # log10 ratio -1.04
        ("p_value", 2.51e-24, 3.0e-25, "pass"),  # log10 ratio -0.92
        ("p_value", 0.36, 0.1347, "pass"),
        ("p_value", 1e-10, 0.0, "fail"),  # underflow to 0 is far off
        ("epoch", 10, 9, "pass"),
        ("epoch", 10, 7, "fail"),
        ("parameter", 10, 10, "pass"),
        ("parameter", 3, 2, "fail"),
    ],
)
def test_judge(kind, paper, value, verdict):
    j = S.judge(kind, str(paper), value)
    assert j.verdict == verdict, (kind, paper, value, j)
    assert j.abs_diff == pytest.approx(value - paper)
    assert j.tolerance


def test_judge_pair_sets_and_config_override():
    j = S.judge("pair_set", "nasnet_mobile-xception", "nasnet_mobile – xception")
    assert j.verdict == "pass" and j.abs_diff == 0
    j = S.judge("pair_set", "a-b;c-d", "b – a; e – f")
    assert j.verdict == "fail" and j.abs_diff == 2
    assert "missing: c-d" in j.note and "extra: e-f" in j.note
    assert S.judge("energy", "0.39", 0.42, {"energy": {"relative": 0.10}}).verdict == "pass"
    assert S.judge("energy", "0.39", 0.42, {"energy": {"absolute": 0.05}}).verdict == "pass"
    with pytest.raises(KeyError):
        S.judge("no_such_kind", "1", 1.0)


def test_every_target_key_is_mapped_or_descriptive():
    targets = S.read_targets()
    specs = S.mapping(targets["key"])
    unmapped = [k for k, s in specs.items() if s is None and not k.startswith(S.DESCRIPTIVE_PREFIXES)]
    assert unmapped == []
    assert all(s.kind in S.DEFAULT_TOLERANCES for s in specs.values() if s is not None)


def _toy_results(tmp_path: Path) -> Path:
    res = tmp_path / "results"
    (res / "tables").mkdir(parents=True)
    (res / "clean").mkdir()
    pd.DataFrame(
        {"stage": ["ingest", "total"], "runs_in": [1630, 1630], "excluded": [0, 405], "runs_out": [1630, 1225]}
    ).to_csv(res / "clean" / "summary.csv", index=False)
    pd.DataFrame(
        {
            "analysis": "tradeoff",
            "environment": ["cloud", "cloud"],
            "architecture": ["vgg16", "xception"],
            "n": [27, 27],
            "median_energy_per_image_j": [0.3938, 0.40],
            "median_gpu_usage_pct": [90.0, np.nan],
            "median_f1": [0.987, 0.984],
            "status": ["ok", "insufficient"],
            "note": ["", "n < 3"],
        }
    ).to_csv(res / "tables" / "tradeoff.csv", index=False)
    pd.DataFrame(
        {
            "analysis": ["table7_kruskal_ram"],
            "status": ["skipped"],
            "note": ["skipped: no runs with architecture == 'inception_v3'"],
        }
    ).to_csv(res / "tables" / "table7_kruskal_ram.csv", index=False)
    pd.DataFrame(
        {
            "variable": ["energy_per_image_j"],
            "n": [135],
            "H": [121.7],
            "p_value": [2.3e-25],
            "eta2": [0.905],
            "not_different": ["mobilenet_v2 – resnet50; nasnet_mobile – xception"],
            "status": ["ok"],
            "note": [np.nan],
        }
    ).to_csv(res / "tables" / "kruskal_dunn_rq1.csv", index=False)
    return res


def test_build_scorecard_values_and_reasons(tmp_path):
    res = _toy_results(tmp_path)
    config = {"estimators": {"fluss": {"subsequence_length": 10, "n_regimes": 2, "excl_factor": 3}}}
    produced = [
        "clean/summary.csv",
        "tables/tradeoff.csv",
        "tables/table7_kruskal_ram.csv",
        "tables/kruskal_dunn_rq1.csv",
    ]
    card = S.build_scorecard(res, None, None, produced=produced, config=config).set_index("key")
    targets = S.read_targets()
    assert list(card.index) == list(targets["key"])  # one row per target, in order
    assert card.loc["runs.raw", "verdict"] == "pass" and card.loc["runs.clean", "reproduced"] == 1225
    assert card.loc["rq1_cloud_chesslive.energy_j_per_image.vgg16", "verdict"] == "pass"
    assert card.loc["rq1_cloud_chesslive.energy_j_per_image.xception", "verdict"] == "fail"
    assert card.loc["rq1_cloud_chesslive.f1.vgg16", "verdict"] == "pass"
    # an empty cell of an insufficient group: not available, with the table's note
    row = card.loc["rq1_cloud_chesslive.gpu_usage_pct.xception"]
    assert row.verdict == "not available" and "n < 3" in row.note
    # a group the source does not have
    row = card.loc["rq1_cloud_chesslive.gpu_usage_pct.resnet50"]
    assert row.verdict == "not available" and "no row with architecture=resnet50" in row.note
    # an analysis skipped for the source
    row = card.loc["table7_ram_kruskal_wallis.energy_kj.H"]
    assert row.verdict == "not available" and "inception_v3" in row.note
    # a table the pipeline does not produce
    row = card.loc["table10_test_rmse_kj.mlco2"]
    assert row.verdict == "not available" and "does not produce tables/table10_test_rmse.csv" in row.note
    # Dunn pairs: the paper lists one pair for energy, the toy table two
    row = card.loc["rq1_cloud_chesslive.dunn_not_different.energy"]
    assert row.verdict == "fail" and "extra: mobilenet_v2-resnet50" in row.note
    assert card.loc["rq1_cloud_chesslive.kruskal_wallis.energy.eta2", "verdict"] == "pass"
    assert card.loc["rq32_online.fluss.regimes", "verdict"] == "pass"
    assert card.loc["baselines.mlco2", "verdict"] == "descriptive"
    # every non-descriptive row has a value or a reason
    nd = card[card.verdict != "descriptive"]
    assert (nd.reproduced.notna() | ((nd.verdict == "not available") & (nd.note.str.len() > 0))).all()
    md = S.to_markdown(card.reset_index(), "toy", "synthetic sample (simulated data, not real measurements)")
    assert "SYNTHETIC DATA" in md and "**FAIL**" in md
    assert md.count("\n| `") == len(nd)


def test_scorecard_one_minus_transform(tmp_path):
    res = tmp_path / "r"
    (res / "tables").mkdir(parents=True)
    pd.DataFrame(
        {"scope": ["architectures in cloud"], "from": ["vgg16"], "to": ["mobilenet_v2"], "reduction": [0.6378]}
    ).to_csv(res / "tables" / "reductions.csv", index=False)
    card = S.build_scorecard(res).set_index("key")
    row = card.loc["rq1_cloud_chesslive.mobilenet_v2_energy_share_of_vgg16"]
    assert row.reproduced == pytest.approx(1 - 0.6378) and row.verdict == "pass"


# ----------------------------------------------------------------------------------------------
# rule graph


DOT = """digraph snakemake_dag {
    graph[bgcolor=white, margin=0];
	0[label = "all", color = "0.04 0.6 0.85", style="rounded"];
	1[label = "stats_rq1", color = "0.55 0.6 0.85", style="rounded"];
	2[label = "clean", color = "0.08 0.6 0.85", style="rounded"];
	3[label = "simulate", color = "0.43 0.6 0.85", style="rounded"];
	1 -> 0
	2 -> 0
	2 -> 1
	3 -> 1
	3 -> 2
}"""


def test_rulegraph_parse_layout_draw(tmp_path):
    nodes, edges = R.parse_dot("Building DAG of jobs...\n" + DOT)
    assert nodes == {"0": "all", "1": "stats_rq1", "2": "clean", "3": "simulate"}
    assert len(edges) == 5
    assert set(R.transitive_reduction(edges)) == {("1", "0"), ("2", "1"), ("3", "2")}
    layer = R.layers(nodes, edges)
    assert layer == {"3": 0, "2": 1, "1": 2, "0": 3}
    assert R.extract_dot("noise\n" + DOT + "\nmore noise").startswith("digraph")
    import matplotlib

    matplotlib.use("Agg")
    fig = R.draw(DOT)
    fig.savefig(tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 1000


# ----------------------------------------------------------------------------------------------
# the report, end to end on the tiny simulated config


def _js_value(html: str, var: str):
    """The value of ``var <var> = ...`` in the report's own <script id="..."> block (JSON)."""
    script = html.find(f'<script id="{var.replace("_", "-")}">')
    m = re.compile(rf"var {var} = ").search(html, script)
    assert script >= 0 and m, var
    return json.JSONDecoder().raw_decode(html[m.end() :])[0]


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    wd = tmp_path_factory.mktemp("report") / "wf"
    wd.mkdir()
    shutil.copy(ROOT / "Snakefile", wd)
    shutil.copy(ROOT / "config.yaml", wd)
    shutil.copytree(ROOT / "workflow", wd / "workflow")
    shutil.copytree(ROOT / "profiles", wd / "profiles")
    env = dict(os.environ, PYTHONHASHSEED="0")
    base = [sys.executable, "-m", "snakemake", "--cores", "2", "--config", "source=tiny"]
    for extra in ([], ["--report", "results/tiny/report.zip"]):
        t0 = time.perf_counter()
        proc = subprocess.run(base + extra, cwd=wd, env=env, capture_output=True, text=True, timeout=1500)
        if proc.returncode != 0:
            raise AssertionError(f"snakemake {extra} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
        print(f"snakemake {' '.join(extra) or '(run)'}: {time.perf_counter() - t0:.1f} s")
    with zipfile.ZipFile(wd / "results" / "tiny" / "report.zip") as z:
        html_name = next(n for n in z.namelist() if n.endswith("report.html"))
        html = z.read(html_name).decode()
        members = z.namelist()
    return wd, html, members


@pytest.mark.slow
def test_report_has_every_table_and_figure(tiny_report):
    wd, html, members = tiny_report
    res = wd / "results" / "tiny"
    results = _js_value(html, "results")
    names = {v["name"] for v in results.values()}
    expected = (
        {p.name for p in (res / "tables").glob("*.csv")}
        | {p.name for p in (res / "figures").glob("*.png")}
        | {"summary.csv", "excluded.csv", "scorecard.csv", "rulegraph.png"}
    )
    assert expected <= names, sorted(expected - names)
    for name in expected:  # the files themselves travel in the zip
        assert any(m.endswith("/" + name) for m in members), name
    for path, entry in results.items():
        assert entry["caption"].strip(), f"{path} has no caption"
        assert "tiny" in entry["caption"], f"{path}: the caption does not name the source"


@pytest.mark.slow
def test_report_says_synthetic(tiny_report):
    _, html, _ = tiny_report
    desc = _js_value(html, "workflow_desc")
    assert "SYNTHETIC DATA" in desc and "real measurements" in desc
    assert "summary.csv" in desc and "excluded.csv" in desc and "scorecard.csv" in desc
    results = _js_value(html, "results")
    ours = [
        p
        for p, e in results.items()
        if e["job_properties"]["rule"] in ("clean", "scorecard", "rulegraph", "latex_tables")
    ]
    assert ours
    for p in ours:
        assert "SYNTHETIC DATA" in results[p]["caption"], p


@pytest.mark.slow
def test_every_caption_says_synthetic(tiny_report):
    _, html, _ = tiny_report
    results = _js_value(html, "results")
    missing = sorted(e["name"] for e in results.values() if "SYNTHETIC DATA" not in e["caption"])
    assert missing == []


@pytest.mark.slow
def test_scorecard_one_row_per_target(tiny_report):
    wd, _, _ = tiny_report
    card = pd.read_csv(wd / "results" / "tiny" / "scorecard.csv")
    targets = S.read_targets()
    assert list(card["key"]) == list(targets["key"])
    nd = card[card["verdict"] != "descriptive"]
    assert len(nd) == (~targets["key"].str.startswith(S.DESCRIPTIVE_PREFIXES)).sum()
    # a simulated source's numbers are shown, never judged against the paper
    assert not nd["verdict"].isin(["pass", "fail"]).any()
    has_value = nd["reproduced"].notna() & (nd["verdict"] == S.SYNTHETIC)
    has_reason = (nd["verdict"] == "not available") & nd["note"].fillna("").str.startswith("not available")
    assert (has_value | has_reason).all()
    assert card["data_label"].str.contains("synthetic").all()
    md = (wd / "results" / "tiny" / "scorecard.md").read_text()
    assert "SYNTHETIC DATA" in md and "pass," not in md and "synthetic: no verdict" in md


@pytest.mark.slow
def test_latex_tables_match_csv(tiny_report):
    wd, _, _ = tiny_report
    res = wd / "results" / "tiny"
    csvs = sorted((res / "tables").glob("*.csv"))
    assert csvs
    for csv in csvs:
        tex = res / "tables" / "latex" / f"{csv.stem}.tex"
        assert tex.is_file(), tex
        df = pd.read_csv(csv)
        text = tex.read_text()
        assert r"\toprule" in text and r"\bottomrule" in text, tex
        _check_tex_matches_csv(text, df)
    assert (res / "tables" / "latex" / "clean_summary.tex").is_file()


@pytest.mark.slow
def test_rulegraph_figure(tiny_report):
    wd, _, _ = tiny_report
    fig = wd / "results" / "tiny" / "figures"
    nodes, _ = R.parse_dot((fig / "rulegraph.dot").read_text())
    assert {"all", "clean", "scorecard", "latex_tables", "rulegraph"} <= set(nodes.values())
    for ext in ("png", "svg", "pdf"):
        assert (fig / f"rulegraph.{ext}").stat().st_size > 1000
