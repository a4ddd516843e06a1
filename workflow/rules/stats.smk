# Statistics and trade-offs (RQ1, RQ2, RQ3.1): Tables 3-7, Figures 2-7.
# One rule per analysis over the cleaned runs of any source; all logic in dlenergy.stats / dlenergy.figures.
# A source that cannot support an analysis still gets its table (one row: skipped, and why) and a
# placeholder figure, so `rule all` works on every source.

# the master seed travels with the stats section: the bootstrap CIs are seeded by it
STATS_CFG = {**config.get("stats", {}), "seed": config["seed"]}
STATS_TABLES = f"{RESULTS}/tables"
STATS_FIGURES = f"{RESULTS}/figures"


STATS_RULES = {
    "stats_rq1": analysis_outputs(
        "stats",
        "RQ1",
        tables=["table3_normality_rq1", "kruskal_dunn_rq1", "table6_spearman_flops"],
        extra_csv=["kruskal_dunn_rq1_dunn", "runs_rq1"],
        figures=["supp_qq_rq1", "supp_box_rq1", "fig3_flops"],
    ),
    "stats_rq2": analysis_outputs(
        "stats",
        "RQ2",
        tables=["table4_normality_rq2", "kruskal_dunn_rq2", "spearman_gpu_usage"],
        extra_csv=["kruskal_dunn_rq2_dunn", "runs_rq2"],
        figures=["supp_qq_rq2", "supp_box_rq2", "fig4_gpu_usage"],
    ),
    "stats_tradeoff": analysis_outputs(
        "stats",
        "Trade-offs",
        tables=["tradeoff", "reductions"],
        extra_csv=["reductions_summary", "runs_block1"],
        figures=["fig2_tradeoff", "fig2_pareto"],
    ),
    "stats_ram": analysis_outputs(
        "stats",
        "RQ3.1 allocated RAM",
        tables=["table5_normality_ram", "table7_kruskal_ram"],
        extra_csv=["table7_kruskal_ram_dunn", "runs_ram"],
        figures=["fig7_ram", "supp_qq_ram", "supp_box_ram"],
    ),
    "stats_batch_input": analysis_outputs(
        "stats",
        "RQ3.1 batch and input size",
        tables=["batch_input"],
        extra_csv=["runs_batch_input"],
        figures=["fig5_batch_input_energy", "fig6_batch_input_power_time"],
    ),
}


rule stats_rq1:
    input:
        runs=f"{RESULTS}/clean/runs.parquet",
        dataset=dataset_of,
    output:
        **STATS_RULES["stats_rq1"],
    log:
        f"{LOGS}/stats/rq1.log",
    benchmark:
        f"{BENCH}/stats_rq1.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=1500,
    params:
        library=LIBRARY,
        stats=STATS_CFG,
        source=source_of,
    script:
        "../scripts/stats_rq1.py"


rule stats_rq2:
    input:
        runs=f"{RESULTS}/clean/runs.parquet",
        dataset=dataset_of,
    output:
        **STATS_RULES["stats_rq2"],
    log:
        f"{LOGS}/stats/rq2.log",
    benchmark:
        f"{BENCH}/stats_rq2.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=1500,
    params:
        library=LIBRARY,
        stats=STATS_CFG,
        source=source_of,
    script:
        "../scripts/stats_rq2.py"


rule stats_tradeoff:
    input:
        runs=f"{RESULTS}/clean/runs.parquet",
        dataset=dataset_of,
    output:
        **STATS_RULES["stats_tradeoff"],
    log:
        f"{LOGS}/stats/tradeoff.log",
    benchmark:
        f"{BENCH}/stats_tradeoff.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=1500,
    params:
        library=LIBRARY,
        stats=STATS_CFG,
        source=source_of,
    script:
        "../scripts/stats_tradeoff.py"


rule stats_ram:
    input:
        runs=f"{RESULTS}/clean/runs.parquet",
        dataset=dataset_of,
    output:
        **STATS_RULES["stats_ram"],
    log:
        f"{LOGS}/stats/ram.log",
    benchmark:
        f"{BENCH}/stats_ram.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=1500,
    params:
        library=LIBRARY,
        stats=STATS_CFG,
        source=source_of,
    script:
        "../scripts/stats_ram.py"


rule stats_batch_input:
    input:
        runs=f"{RESULTS}/clean/runs.parquet",
        dataset=dataset_of,
    output:
        **STATS_RULES["stats_batch_input"],
    log:
        f"{LOGS}/stats/batch_input.log",
    benchmark:
        f"{BENCH}/stats_batch_input.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=1500,
    params:
        library=LIBRARY,
        stats=STATS_CFG,
        source=source_of,
    script:
        "../scripts/stats_batch_input.py"


EXTRA_TARGETS.extend(str(p) for outs in STATS_RULES.values() for p in outs.values())
