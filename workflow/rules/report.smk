# Reviewer view: reproduction scorecard, paper-ready LaTeX tables, the rule-graph figure, and the
# registrations for `snakemake --report results/<source>/report.html` (or .zip).
# Included LAST: it reads the tables that the other rule files declare in EXTRA_TARGETS (never a glob
# over results/, which may be incomplete).  Logic lives in dlenergy.scorecard / .latex / .rulegraph.
from snakemake.io import get_flag_value, is_flagged

REPORT_CFG = config.get("scorecard", {}) or {}
REPORT_CAPTIONS = Path(workflow.basedir) / "workflow" / "report"
REPORT_TABLE_DIR = f"{RESULTS}/tables"


def declared_tables():
    """The CSV tables (results/<source>/tables/*.csv) that the rule files included so far declare."""
    prefix = f"{REPORT_TABLE_DIR}/"
    paths = (str(p) for p in EXTRA_TARGETS)
    return sorted({p for p in paths if p.startswith(prefix) and p.endswith(".csv") and "/" not in p[len(prefix):]})


def report_flagged_outputs():
    """{path: rule name} of every output some rule already registers for the report."""
    out = {}
    for r in workflow.rules:
        for f in r.output:
            if is_flagged(f, "report"):
                out[str(f)] = r.name
    return out


def producing_rule(path):
    for r in workflow.rules:
        if any(str(f) == path for f in r.output):
            return r.name
    return "unknown"


def caption_file(name):
    """The report caption of table/figure `name`: <stage>_<name>.rst in workflow/report/."""
    for prefix in ("stats", "est", "report", "report_supp"):
        p = REPORT_CAPTIONS / f"{prefix}_{name}.rst"
        if p.is_file():
            return p
    return None


def latex_caption(name):
    from dlenergy.latex import caption_from_rst

    p = caption_file(name)
    text = caption_from_rst(p.read_text()) if p else ""
    return text or f"Table {name} of the dlenergy pipeline"


# light, local jobs (no cluster submission under a SLURM profile)
localrules:
    latex_tables,
    scorecard,
    rulegraph,


REPORT_TABLES = declared_tables()
REPORT_FLAGGED = report_flagged_outputs()
#: tables no rule registers for the report (Dunn pairs, the runs behind each analysis, ...): the
#: latex_tables rule, which reads them, registers them as report-flagged inputs
SUPPLEMENTARY = {
    p: report(
        p,
        caption=(
            f"../report/report_supp_{Path(p).stem}.rst"
            if (REPORT_CAPTIONS / f"report_supp_{Path(p).stem}.rst").is_file()
            else "../report/report_supplementary.rst"
        ),
        category="Supplementary tables",
        subcategory=producing_rule(p),
        labels={"table": Path(p).stem, "rule": producing_rule(p)},
    )
    for p in REPORT_TABLES
    if p not in REPORT_FLAGGED
}
#: every table as LaTeX: name -> CSV (the cleaning ledger's summary too)
LATEX_SOURCES = {Path(p).stem: p for p in REPORT_TABLES}
LATEX_SOURCES["clean_summary"] = f"{RESULTS}/clean/summary.csv"
LATEX_OUT = {name: f"{REPORT_TABLE_DIR}/latex/{name}.tex" for name in LATEX_SOURCES}


rule latex_tables:
    input:
        tables=[SUPPLEMENTARY.get(p, p) for p in LATEX_SOURCES.values()],
        dataset=canonical_dir(),
    output:
        list(LATEX_OUT.values()),
    params:
        names=list(LATEX_SOURCES),
        captions={name: latex_caption("clean_summary" if name == "clean_summary" else name) for name in LATEX_SOURCES},
        source=SOURCE,
    resources:
        mem_mb=1000,
    log:
        f"{LOGS}/report/latex_tables.log",
    benchmark:
        f"{BENCH}/latex_tables.tsv"
    script:
        "../scripts/report_latex.py"


rule scorecard:
    input:
        tables=REPORT_TABLES,
        summary=f"{RESULTS}/clean/summary.csv",
        dataset=canonical_dir(),
    output:
        csv=report(
            f"{RESULTS}/scorecard.csv",
            caption="../report/report_scorecard.rst",
            category="Scorecard",
            labels={"table": "scorecard"},
        ),
        md=f"{RESULTS}/scorecard.md",
    params:
        produced=[p[len(RESULTS) + 1 :] for p in REPORT_TABLES] + ["clean/summary.csv"],
        tolerances=REPORT_CFG.get("tolerances", {}),
        targets=REPORT_CFG.get("targets"),
        source=SOURCE,
    resources:
        mem_mb=1000,
    log:
        f"{LOGS}/report/scorecard.log",
    benchmark:
        f"{BENCH}/scorecard.tsv"
    script:
        "../scripts/report_scorecard.py"


rule rulegraph:
    input:
        dataset=canonical_dir(),
    output:
        dot=f"{RESULTS}/figures/rulegraph.dot",
        png=report(
            f"{RESULTS}/figures/rulegraph.png",
            caption="../report/report_rulegraph.rst",
            category="Pipeline",
            labels={"figure": "rulegraph"},
        ),
        svg=f"{RESULTS}/figures/rulegraph.svg",
        pdf=f"{RESULTS}/figures/rulegraph.pdf",
    params:
        snakefile=workflow.main_snakefile,
        # the rule graph changes when rules come or go: re-draw then
        rules=sorted({r.name for r in workflow.rules} | {"all", "rulegraph"}),
        source=SOURCE,
    resources:
        mem_mb=1000,
    log:
        f"{LOGS}/report/rulegraph.log",
    benchmark:
        f"{BENCH}/rulegraph.tsv"
    script:
        "../scripts/report_rulegraph.py"


EXTRA_TARGETS.extend(
    list(LATEX_OUT.values())
    + [f"{RESULTS}/scorecard.csv", f"{RESULTS}/scorecard.md"]
    + [f"{RESULTS}/figures/rulegraph.{ext}" for ext in ("dot", "png", "svg", "pdf")]
)
