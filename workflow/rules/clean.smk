# Cleaning with an exclusion ledger (paper §3.7), then J/image is already in runs.parquet.


rule clean:
    input:
        runs=f"{RESULTS}/runs.parquet",
        epochs=f"{RESULTS}/epochs.parquet",
        ledger=f"{RESULTS}/ingest_ledger.csv",
        dataset=dataset_of,
    output:
        runs=f"{RESULTS}/clean/runs.parquet",
        epochs=f"{RESULTS}/clean/epochs.parquet",
        excluded=registered(
            f"{RESULTS}/clean/excluded.csv", "../report/report_clean_excluded.rst", "Cleaning", table="excluded"
        ),
        summary=registered(
            f"{RESULTS}/clean/summary.csv", "../report/report_clean_summary.rst", "Cleaning", table="summary"
        ),
        analyses=registered(
            f"{RESULTS}/clean/analyses.csv", "../report/report_clean_analyses.rst", "Cleaning", table="analyses"
        ),
    log:
        f"{LOGS}/clean.log",
    benchmark:
        f"{BENCH}/clean.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=2000,
    params:
        library=LIBRARY,
        cleaning=config.get("cleaning", {}),
        seed=config["seed"],
    script:
        "../scripts/clean.py"
