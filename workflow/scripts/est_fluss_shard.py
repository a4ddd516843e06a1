"""FLUSS stabilizing epoch of the runs of one shard (parallel stumpy.stump; numba cache on disk)."""

import time

from _common import setup

import pandas as pd

from dlenergy.fluss import FlussParams, enable_stumpy_cache, stabilizing_epochs
from dlenergy.io import LABEL_COLUMN, dataset_label, write_parquet

log = setup(snakemake)
t0 = time.perf_counter()
label = dataset_label(snakemake.params.dataset)
strip = lambda df: df.drop(columns=[LABEL_COLUMN], errors="ignore")
runs = strip(pd.read_parquet(snakemake.input.runs))
epochs = strip(pd.read_parquet(snakemake.input.epochs))
if "has_epoch_markers" in runs:
    runs = runs[runs["has_epoch_markers"].astype(bool)]
params = FlussParams.from_dict({**(snakemake.params.fluss or {}), "threads": snakemake.threads})
cache = enable_stumpy_cache()
log.info("numba cache: %s; FLUSS %s; %d numba thread(s)", cache, params, snakemake.threads)
shard = int(snakemake.wildcards.shard)
df = stabilizing_epochs(
    snakemake.params.dataset,
    runs,
    epochs,
    params,
    shard=shard,
    n_shards=snakemake.params.n_shards,
    ingest=dict(snakemake.params.ingest),
)
write_parquet(df, snakemake.output[0], label)
log.info(
    "shard %03d: %d runs, statuses %s; %.2f s in all",
    shard,
    len(df),
    df["status"].value_counts().to_dict(),
    time.perf_counter() - t0,
)
