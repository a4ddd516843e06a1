# Outlier-seed sensitivity (issue 14): the outlier stage (Isolation Forest) re-run for `robustness.n_seeds`
# seeds under three variants (the configured stage, the authors' procedure, no removal), and every
# RQ1/RQ2/RQ3.1 statistic and Figure 2 median recomputed per seed.  All logic in dlenergy.robustness.
# It costs minutes on 2 cores, so it is its own target unless `robustness.in_default_run` is true:
#   .venv/bin/snakemake --cores 2 results/seaa2023/tables/robustness.csv
# Once robustness.csv exists, the scorecard reads it (an input: kept up to date by later runs) and
# gives the verdict "within outlier-seed range".  Included before report.smk.

ROBUST_CFG = config.get("robustness", {}) or {}
ROBUSTNESS_CSV = f"{RESULTS}/tables/robustness.csv"
ROBUSTNESS_OUT = {
    **analysis_outputs("robustness", "Outlier-seed sensitivity", tables=["robustness"], figures=["robustness_seeds"]),
    "seeds": f"{RESULTS}/tables/robustness_seeds.parquet",
}


rule robustness:
    input:
        runs=f"{RESULTS}/runs.parquet",
        ledger=f"{RESULTS}/ingest_ledger.csv",
        dataset=dataset_of,
    output:
        **ROBUSTNESS_OUT,
    log:
        f"{LOGS}/robustness.log",
    benchmark:
        f"{BENCH}/robustness.tsv"
    conda:
        "../envs/dlenergy.yaml"
    # joblib workers over the seeds (Snakemake caps threads at --cores)
    threads: int(ROBUST_CFG.get("threads", 8))
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        library=LIBRARY,
        source=source_of,
        seed=config["seed"],
        cleaning=config.get("cleaning", {}),
        stats=config.get("stats", {}),
        robustness=ROBUST_CFG,
        tolerances=REPORT_CFG.get("tolerances", {}),
        targets=REPORT_CFG.get("targets"),
    script:
        "../scripts/robustness.py"


if ROBUST_CFG.get("in_default_run", False):
    EXTRA_TARGETS.extend(str(p) for p in ROBUSTNESS_OUT.values())
