"""Unpack the SEAA 2023 logs that ship with the project, checked file by file against their manifest."""

from pathlib import Path

from _common import setup

from dlenergy.sources.embedded import unpack_embedded

log = setup(snakemake)
out = unpack_embedded(snakemake.input.archive, snakemake.input.manifest, snakemake.output[0])
n = sum(1 for p in Path(out).rglob("*") if p.is_file())
log.info("unpacked %s into %s: %d files, each matching %s", snakemake.input.archive, out, n, snakemake.input.manifest)
