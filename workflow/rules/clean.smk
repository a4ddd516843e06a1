# Cleaning with an exclusion ledger (paper §3.7), then J/image is already in runs.parquet.


rule clean:
    input:
        runs=f"{RESULTS}/runs.parquet",
        epochs=f"{RESULTS}/epochs.parquet",
        ledger=f"{RESULTS}/ingest_ledger.csv",
        dataset=canonical_dir(),
    output:
        runs=f"{RESULTS}/clean/runs.parquet",
        epochs=f"{RESULTS}/clean/epochs.parquet",
        excluded=report(
            f"{RESULTS}/clean/excluded.csv",
            caption="../report/report_clean_excluded.rst",
            category="Cleaning",
            labels={"table": "excluded"},
        ),
        summary=report(
            f"{RESULTS}/clean/summary.csv",
            caption="../report/report_clean_summary.rst",
            category="Cleaning",
            labels={"table": "summary"},
        ),
        analyses=report(
            f"{RESULTS}/clean/analyses.csv",
            caption="../report/report_clean_analyses.rst",
            category="Cleaning",
            labels={"table": "analyses"},
        ),
    params:
        library=LIBRARY,
        cleaning=config.get("cleaning", {}),
        seed=config["seed"],
    resources:
        mem_mb=2000,
    log:
        f"{LOGS}/clean.log",
    benchmark:
        f"{BENCH}/clean.tsv"
    script:
        "../scripts/clean.py"
