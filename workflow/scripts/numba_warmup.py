"""Compile stumpy's numba kernels once into the on-disk cache, so the FLUSS shards only load them."""

import json
from pathlib import Path

from _common import setup

from dlenergy.fluss import warm_numba_cache

log = setup(snakemake)
info = warm_numba_cache(snakemake.params.fluss)
log.info("numba cache %s: %s in %.1f s", info["cache"], "compiled" if info["compiled"] else "loaded", info["seconds"])
Path(snakemake.output[0]).write_text(json.dumps({**info, "versions": snakemake.params.versions}, indent=2) + "\n")
