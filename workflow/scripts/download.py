"""Fetch a source's published archive (pooch, checksum required, resumable)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir)))
from _common import setup

from dlenergy.sources.download import fetch, source_spec

log = setup(snakemake)
spec = source_spec(snakemake.params.source, snakemake.params.src_cfg)
out = Path(snakemake.output.archive)
log.info("fetching %s (known_hash %s) to %s", spec.url, spec.known_hash, out)
path = fetch(spec.url, spec.known_hash, out.parent, out.name)
log.info("verified %s (%d bytes)", path, path.stat().st_size)
