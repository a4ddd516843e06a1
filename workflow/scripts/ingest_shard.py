from _common import setup

from dlenergy.ingest import ingest_dataset
from dlenergy.io import write_csv, write_parquet

log = setup(snakemake)
shard = int(snakemake.wildcards.shard)
# the whole `ingest:` block: ram_w_per_mb, allow_external_links, plausibility thresholds
runs, epochs, ledger = ingest_dataset(
    snakemake.params.dataset, shard=shard, n_shards=snakemake.params.n_shards, config=dict(snakemake.params.ingest)
)
log.info("shard %d: %d runs, %d epochs, %d ledger entries", shard, len(runs), len(epochs), len(ledger))
write_parquet(runs, snakemake.output.runs)
write_parquet(epochs, snakemake.output.epochs)
write_csv(ledger, snakemake.output.ledger)
