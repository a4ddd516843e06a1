"""Unpack a verified archive atomically (checksum checked again before extracting)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))
from _common import setup

from dlenergy.sources.download import source_spec, unpack

log = setup(snakemake)
spec = source_spec(snakemake.params.source, snakemake.params.src_cfg)
out = unpack(snakemake.input.archive, snakemake.output[0], spec.known_hash, meta={"url": spec.url})
log.info("unpacked %s into %s", snakemake.input.archive, out)
