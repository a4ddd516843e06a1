from pathlib import Path

from _common import setup

from dlenergy.sources.zenodo import convert_zenodo

log = setup(snakemake)
ledger = convert_zenodo(snakemake.input.raw, snakemake.output[0])
runs = sum(1 for _ in open(Path(snakemake.output[0]) / "runs.csv")) - 1
log.info(
    "converted %d runs of the replication package from %s to %s; %d not converted (source_ledger.csv)",
    runs,
    snakemake.input.raw,
    snakemake.output[0],
    len(ledger),
)
for rec in ledger.head(50).to_dict("records"):
    log.info("  %s: %s", rec["run_id"], rec["reason"])
Path(snakemake.output.stamp).write_text(f"converted from {snakemake.input.raw}\n")
