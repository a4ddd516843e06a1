from _common import setup

import pandas as pd

from dlenergy.ingest import combine
from dlenergy.io import dataset_label, write_csv, write_parquet

log = setup(snakemake)
parts = [
    (pd.read_parquet(r), pd.read_parquet(e), pd.read_csv(l, dtype=str, keep_default_na=False))
    for r, e, l in zip(snakemake.input.runs, snakemake.input.epochs, snakemake.input.ledgers)
]
runs, epochs, ledger = combine(parts)
label = dataset_label(snakemake.input.dataset)
log.info("%d runs, %d epochs, %d ingest ledger entries (label: %s)", len(runs), len(epochs), len(ledger), label)
write_parquet(runs, snakemake.output.runs, label)
write_parquet(epochs, snakemake.output.epochs, label)
write_csv(ledger, snakemake.output.ledger, label)
