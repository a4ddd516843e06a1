"""results/index.md: for every table and figure of the paper, where this run reproduced it (dlenergy.summary)."""

from _common import setup

from dlenergy import summary as S
from dlenergy.io import dataset_label, is_synthetic, write_csv, write_text

log = setup(snakemake)
sources = snakemake.params.sources
datasets = dict(zip(sources, snakemake.input.datasets))
real = {s: not is_synthetic(datasets[s]) for s in sources}
labels = {s: dataset_label(datasets[s]) or "your own measurements" for s in sources}
table = S.where_reproduced("results", real)
write_csv(table, snakemake.output.csv)
claims = S.claims_line("results", real)
write_text(
    S.to_markdown(table, labels, ".venv/bin/snakemake --report results/report.html", claims), snakemake.output.md
)
log.info(claims)
log.info("index of %d artefacts over %s", table["artifact"].nunique(), ", ".join(sources))
