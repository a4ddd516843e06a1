# Reviewer view: reproduction scorecard, paper-ready LaTeX tables, the rule-graph figure, the run's
# summary (results/index.md) and the registrations for `snakemake --report results/report.html`.
# Included LAST: it reads the tables that the other rule files declare in EXTRA_TARGETS (never a glob
# over results/, which may be incomplete).  Logic lives in dlenergy.scorecard / .latex / .rulegraph /
# .summary.  (Its helper functions live in common.smk: declared_tables, caption_file, latex_caption, ...)


# light, local jobs (no cluster submission under a SLURM profile)
localrules:
    latex_tables,
    scorecard,
    rulegraph,
    summary_index,


REPORT_TABLES = declared_tables()
REPORT_FLAGGED = report_flagged_outputs()
#: tables no rule registers for the report (Dunn pairs, the runs behind each analysis, ...): the
#: latex_tables rule, which reads them, registers them as report-flagged inputs
SUPPLEMENTARY = {
    p: registered(
        p,
        (
            f"../report/report_supp_{Path(p).stem}.rst"
            if (REPORT_CAPTIONS / f"report_supp_{Path(p).stem}.rst").is_file()
            else "../report/report_supplementary.rst"
        ),
        "Supplementary tables",
        producing_rule(p),
        **{"table": Path(p).stem, "rule": producing_rule(p)},
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
        dataset=dataset_of,
    output:
        list(LATEX_OUT.values()),
    log:
        f"{LOGS}/report/latex_tables.log",
    benchmark:
        f"{BENCH}/latex_tables.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=1000,
    params:
        library=LIBRARY,
        names=list(LATEX_SOURCES),
        captions={name: latex_caption("clean_summary" if name == "clean_summary" else name) for name in LATEX_SOURCES},
        source=source_of,
    script:
        "../scripts/report_latex.py"


rule scorecard:
    input:
        tables=REPORT_TABLES,
        summary=f"{RESULTS}/clean/summary.csv",
        dataset=dataset_of,
        # outlier-seed ranges (workflow/rules/robustness.smk), when this run makes them or they exist
        robustness=robustness_for_scorecard,
    output:
        csv=registered(f"{RESULTS}/scorecard.csv", "../report/report_scorecard.rst", "Scorecard", table="scorecard"),
        md=f"{RESULTS}/scorecard.md",
    log:
        f"{LOGS}/report/scorecard.log",
    benchmark:
        f"{BENCH}/scorecard.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=1000,
    params:
        library=LIBRARY,
        produced=[p[len(RESULTS) + 1 :] for p in REPORT_TABLES] + ["clean/summary.csv"],
        tolerances=REPORT_CFG.get("tolerances", {}),
        targets=REPORT_CFG.get("targets"),
        robustness_variants=ROBUST_CFG.get("verdict_variants", ["configured", "authors"]),
        source=source_of,
    script:
        "../scripts/report_scorecard.py"


rule rulegraph:
    input:
        # the dataset's stamp, not its folder: the graph does not change when a run is added
        stamp=stamp_of,
    output:
        dot=f"{RESULTS}/figures/rulegraph.dot",
        png=registered(
            f"{RESULTS}/figures/rulegraph.png", "../report/report_rulegraph.rst", "Pipeline", figure="rulegraph"
        ),
        svg=f"{RESULTS}/figures/rulegraph.svg",
        pdf=f"{RESULTS}/figures/rulegraph.pdf",
    log:
        f"{LOGS}/report/rulegraph.log",
    benchmark:
        f"{BENCH}/rulegraph.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=1000,
    params:
        snakefile=workflow.main_snakefile,
        dataset=dataset_of,
        # the rule graph changes when rules come or go: re-draw then
        rules=sorted({r.name for r in workflow.rules} | {"all", "rulegraph"}),
        source=source_of,
    script:
        "../scripts/report_rulegraph.py"


EXTRA_TARGETS.extend(
    list(LATEX_OUT.values())
    + [f"{RESULTS}/scorecard.csv", f"{RESULTS}/scorecard.md"]
    + [f"{RESULTS}/figures/rulegraph.{ext}" for ext in ("dot", "png", "svg", "pdf")]
)


rule summary_index:
    # one page for the whole run: for every table and figure of the paper, where it was reproduced
    input:
        scorecards=expand(f"{RESULTS}/scorecard.csv", source=SOURCES),
        analyses=expand(f"{RESULTS}/clean/analyses.csv", source=SOURCES),
        claims=expand(f"{RESULTS}/claims.csv", source=SOURCES),
        datasets=[canonical_dir(s) for s in SOURCES],
    output:
        md=report(
            "results/index.md", caption="../report/report_index.rst", category="Summary", labels={"page": "index"}
        ),
        csv="results/index.csv",
    log:
        "logs/summary_index.log",
    benchmark:
        "results/benchmarks/summary_index.tsv"
    conda:
        "../envs/dlenergy.yaml"
    params:
        library=LIBRARY,
        sources=SOURCES,
    script:
        "../scripts/summary_index.py"
