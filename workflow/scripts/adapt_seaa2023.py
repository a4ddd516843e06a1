from pathlib import Path

from _common import setup

from dlenergy.sources.embedded import verify_tree
from dlenergy.sources.seaa2023 import convert_seaa2023

log = setup(snakemake)
if snakemake.params.manifest:  # the embedded copy: every file checked against its manifest before use
    verify_tree(snakemake.input.raw, snakemake.params.manifest)
    log.info("%s matches %s", snakemake.input.raw, snakemake.params.manifest)
ledger = convert_seaa2023(snakemake.input.raw, snakemake.output[0])
runs = sum(1 for _ in open(Path(snakemake.output[0]) / "runs.csv")) - 1
log.info(
    "converted %d SEAA 2023 runs from %s to %s; %d not converted (source_ledger.csv)",
    runs,
    snakemake.input.raw,
    snakemake.output[0],
    len(ledger),
)
for reason, n in ledger["reason"].str.replace(r"run \d+", "run N", regex=True).value_counts().head(20).items():
    log.info("  %d x %s", n, reason)
Path(snakemake.output.stamp).write_text(f"converted from {snakemake.input.raw}\n")
