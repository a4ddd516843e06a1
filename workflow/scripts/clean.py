from _common import setup

import pandas as pd

from dlenergy.cleaning import CleaningConfig, clean
from dlenergy.io import LABEL_COLUMN, dataset_label, write_csv, write_parquet
from dlenergy.sources import ANALYSES, capabilities

log = setup(snakemake)
label = dataset_label(snakemake.input.dataset)
strip = lambda df: df.drop(columns=[LABEL_COLUMN], errors="ignore")
runs = strip(pd.read_parquet(snakemake.input.runs))
epochs = strip(pd.read_parquet(snakemake.input.epochs))
ledger = strip(pd.read_csv(snakemake.input.ledger, dtype=str, keep_default_na=False))
cfg = CleaningConfig.from_dict({"seed": snakemake.params.seed, **snakemake.params.cleaning})
res = clean(runs, epochs, ledger, cfg)
for note in res.notes:
    log.info(note)
log.info("cleaning summary:\n%s", res.summary.to_string(index=False))
write_parquet(res.runs, snakemake.output.runs, label)
write_parquet(res.epochs, snakemake.output.epochs, label)
write_csv(res.excluded, snakemake.output.excluded, label)
write_csv(res.summary, snakemake.output.summary, label)

# which analyses this source's cleaned runs can support; the others are skipped by name, with the reason
caps = capabilities(res.runs)
analyses = pd.DataFrame(
    {
        "analysis": list(caps),
        "needs": [ANALYSES[k].format(min_regression_runs=10) for k in caps],
        "supported": [v is None for v in caps.values()],
        "reason_skipped": [v or "" for v in caps.values()],
    }
)
log.info("analyses:\n%s", analyses.to_string(index=False))
write_csv(analyses, snakemake.output.analyses, label)
