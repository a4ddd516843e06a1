# Ingest: per-run and per-epoch energy, one job per shard of runs, then one aggregate.


rule ingest_shard:
    input:
        # not the dataset folder: its stamp, so a new run re-runs only its own shard (see shard_digest)
        stamp=shard_input,
    output:
        runs=f"{RESULTS}/shards/{{shard}}/runs.parquet",
        epochs=f"{RESULTS}/shards/{{shard}}/epochs.parquet",
        ledger=f"{RESULTS}/shards/{{shard}}/ledger.csv",
    log:
        f"{LOGS}/ingest/{{shard}}.log",
    benchmark:
        f"{BENCH}/ingest_{{shard}}.tsv"
    conda:
        "../envs/dlenergy.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        library=LIBRARY,
        dataset=dataset_of,
        digest=shard_digest,
        n_shards=N_SHARDS,
        ingest=config.get("ingest", {}),
    script:
        "../scripts/ingest_shard.py"


rule aggregate:
    input:
        runs=expand(f"{RESULTS}/shards/{{shard}}/runs.parquet", shard=SHARDS, allow_missing=True),
        epochs=expand(f"{RESULTS}/shards/{{shard}}/epochs.parquet", shard=SHARDS, allow_missing=True),
        ledgers=expand(f"{RESULTS}/shards/{{shard}}/ledger.csv", shard=SHARDS, allow_missing=True),
        dataset=dataset_of,
    output:
        runs=f"{RESULTS}/runs.parquet",
        epochs=f"{RESULTS}/epochs.parquet",
        ledger=f"{RESULTS}/ingest_ledger.csv",
    log:
        f"{LOGS}/aggregate.log",
    benchmark:
        f"{BENCH}/aggregate.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=2000,
    params:
        library=LIBRARY,
    script:
        "../scripts/aggregate.py"


# Integrated GPU energy against the board's own energy counter, for logs that carry one
# (`dlenergy measure` with NVML writes it); a skipped row with the reason otherwise.
ENERGY_CHECK = analysis_outputs("report", "Ingest", tables=["energy_check"])


rule energy_check:
    input:
        runs=f"{RESULTS}/runs.parquet",
        epochs=f"{RESULTS}/epochs.parquet",
        dataset=dataset_of,
    output:
        **ENERGY_CHECK,
    log:
        f"{LOGS}/energy_check.log",
    benchmark:
        f"{BENCH}/energy_check.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=1000,
    params:
        library=LIBRARY,
        source=source_of,
    script:
        "../scripts/energy_check.py"


EXTRA_TARGETS.extend(str(p) for p in ENERGY_CHECK.values())
