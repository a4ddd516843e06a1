# Energy estimators (RQ3.2, RQ3.3): FLUSS, online and offline methods, Table 8-10, Figures 8-11.
# All logic lives in dlenergy.fluss and dlenergy.estimators; the est_* scripts only read, call, write.
# A source that cannot support an analysis (no epoch markers, too few runs) still gets its tables
# (one row: skipped, and why), placeholder figures and placeholder model files, so `rule all` works.

EST_CFG = config.get("estimators", {})


EST_TABLES = f"{RESULTS}/tables"
EST_FIGURES = f"{RESULTS}/figures"
EST_MODELS = f"{RESULTS}/models"
EST_WORK = f"{RESULTS}/estimators"
EST_CLEAN = {"runs": f"{RESULTS}/clean/runs.parquet", "epochs": f"{RESULTS}/clean/epochs.parquet"}


EST_RULES = {
    "est_epoch_stability": analysis_outputs(
        "est", "RQ3.2 epoch stability", tables=["epoch_duration"], figures=["fig8_epoch_duration"]
    ),
    "est_stabilizing": analysis_outputs(
        "est",
        "RQ3.2 stabilizing epoch",
        tables=["stabilizing_epochs", "stabilizing_summary"],
        extra_csv=["stabilizing_cumulative"],
        figures=["fig9_stabilizing_epoch"],
    ),
    "est_online_sweep": analysis_outputs(
        "est", "RQ3.2 online estimators", tables=["online_window_sweep"], figures=["fig10_online_window"]
    ),
    "est_offline": {
        **analysis_outputs(
            "est",
            "RQ3.2 offline estimators",
            tables=["table8_power_regressors_cv", "table9_epoch_energy_regressors_cv"],
        ),
        "power_model": f"{EST_MODELS}/offline_power.joblib",
        "power_schema": f"{EST_MODELS}/offline_power.json",
        "epoch_model": f"{EST_MODELS}/offline_epoch_energy.joblib",
        "epoch_schema": f"{EST_MODELS}/offline_epoch_energy.json",
    },
    "est_compare": analysis_outputs(
        "est",
        "RQ3.3 comparison",
        tables=["table10_test_rmse"],
        extra_csv=["table10_test_predictions"],
        figures=["fig11_predicted_vs_true"],
    ),
}


rule numba_warmup:
    # stumpy's numba kernels compile once, here, before the FLUSS shards load them from the disk cache
    # (cold: ~2 min on 2 cores; the params follow the versions and the cache folder, a rerun trigger)
    output:
        "results/numba_warmup.json",
    log:
        "logs/numba_warmup.log",
    benchmark:
        "results/benchmarks/numba_warmup.tsv"
    conda:
        "../envs/dlenergy.yaml"
    params:
        versions=numba_versions(),
        cache=str(numba_cache_dir()),
        fluss=EST_CFG.get("fluss", {}),
    script:
        "../scripts/numba_warmup.py"


rule est_fluss_shard:
    input:
        warm="results/numba_warmup.json",
        # the ingest shard, not the cleaned tables: adding a run re-segments only its own shard
        runs=f"{RESULTS}/shards/{{shard}}/runs.parquet",
        epochs=f"{RESULTS}/shards/{{shard}}/epochs.parquet",
    output:
        f"{EST_WORK}/fluss/{{shard}}.parquet",
    log:
        f"{LOGS}/estimators/fluss_{{shard}}.log",
    benchmark:
        f"{BENCH}/est_fluss_{{shard}}.tsv"
    conda:
        "../envs/dlenergy.yaml"
    threads: int(EST_CFG.get("fluss", {}).get("threads", 1))
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        library=LIBRARY,
        dataset=dataset_of,
        fluss=EST_CFG.get("fluss", {}),
        n_shards=N_SHARDS,
        ingest=config.get("ingest", {}),
    script:
        "../scripts/est_fluss_shard.py"


rule est_stabilizing:
    input:
        **EST_CLEAN,
        shards=expand(f"{EST_WORK}/fluss/{{shard}}.parquet", shard=SHARDS, allow_missing=True),
        dataset=dataset_of,
    output:
        **EST_RULES["est_stabilizing"],
    log:
        f"{LOGS}/estimators/stabilizing.log",
    benchmark:
        f"{BENCH}/est_stabilizing.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=1500,
    params:
        library=LIBRARY,
        estimators=EST_CFG,
        seed=config["seed"],
        source=source_of,
    script:
        "../scripts/est_stabilizing.py"


rule est_epoch_stability:
    input:
        **EST_CLEAN,
        dataset=dataset_of,
    output:
        **EST_RULES["est_epoch_stability"],
    log:
        f"{LOGS}/estimators/epoch_stability.log",
    benchmark:
        f"{BENCH}/est_epoch_stability.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=1500,
    params:
        library=LIBRARY,
        estimators=EST_CFG,
        seed=config["seed"],
        source=source_of,
    script:
        "../scripts/est_epoch_stability.py"


rule est_split:
    input:
        **EST_CLEAN,
        dataset=dataset_of,
    output:
        f"{EST_WORK}/split.csv",
    log:
        f"{LOGS}/estimators/split.log",
    benchmark:
        f"{BENCH}/est_split.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=1000,
    params:
        library=LIBRARY,
        estimators=EST_CFG,
        seed=config["seed"],
        source=source_of,
    script:
        "../scripts/est_split.py"


rule est_online_sweep:
    input:
        **EST_CLEAN,
        split=f"{EST_WORK}/split.csv",
        stabilizing=f"{EST_TABLES}/stabilizing_summary.csv",
        dataset=dataset_of,
    output:
        **EST_RULES["est_online_sweep"],
    log:
        f"{LOGS}/estimators/online_sweep.log",
    benchmark:
        f"{BENCH}/est_online_sweep.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=2000,
    params:
        library=LIBRARY,
        estimators=EST_CFG,
        seed=config["seed"],
        source=source_of,
    script:
        "../scripts/est_online_sweep.py"


rule est_offline:
    input:
        **EST_CLEAN,
        split=f"{EST_WORK}/split.csv",
        stabilizing=f"{EST_TABLES}/stabilizing_summary.csv",
        dataset=dataset_of,
    output:
        **EST_RULES["est_offline"],
    log:
        f"{LOGS}/estimators/offline.log",
    benchmark:
        f"{BENCH}/est_offline.tsv"
    conda:
        "../envs/dlenergy.yaml"
    # the regressor search runs n_jobs = the job's threads (scaled down to --cores by Snakemake)
    threads: int(EST_CFG.get("offline", {}).get("n_jobs", 1))
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        library=LIBRARY,
        estimators=EST_CFG,
        seed=config["seed"],
        source=source_of,
    script:
        "../scripts/est_offline.py"


rule est_compare:
    input:
        **EST_CLEAN,
        split=f"{EST_WORK}/split.csv",
        stabilizing=f"{EST_TABLES}/stabilizing_summary.csv",
        power_model=f"{EST_MODELS}/offline_power.joblib",
        power_schema=f"{EST_MODELS}/offline_power.json",
        epoch_model=f"{EST_MODELS}/offline_epoch_energy.joblib",
        epoch_schema=f"{EST_MODELS}/offline_epoch_energy.json",
        dataset=dataset_of,
    output:
        **EST_RULES["est_compare"],
    log:
        f"{LOGS}/estimators/compare.log",
    benchmark:
        f"{BENCH}/est_compare.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=2000,
    params:
        library=LIBRARY,
        estimators=EST_CFG,
        seed=config["seed"],
        source=source_of,
    script:
        "../scripts/est_compare.py"


EXTRA_TARGETS.extend(str(p) for outs in EST_RULES.values() for p in outs.values())
