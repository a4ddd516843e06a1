"""Resolve a source's pinned Zenodo record through the records API and download its archive.

pooch, md5 from the API, resumable (``.part`` kept on interruption); writes ``output.archive`` and
``output.spec`` (the file's name, link, size, md5 and the record).  A failure is one line: in the
log, and alone on stderr; exit status 1.
"""

import sys
from pathlib import Path

from _common import setup

from dlenergy.sources.download import DownloadError, SourceConfigError
from dlenergy.sources.zenodo_api import ZENODO_API, download_source

log = setup(snakemake)
archive = Path(snakemake.output.archive)
try:
    spec = download_source(
        snakemake.params.source,
        snakemake.params.src_cfg,
        archive,
        api_base=snakemake.params.get("api_base") or ZENODO_API,
        spec_file=snakemake.output.spec,
    )
except (DownloadError, SourceConfigError) as exc:
    log.error("%s", exc)
    print(f"error: {exc}", file=sys.__stderr__, flush=True)
    sys.exit(1)
log.info("verified %s: %s (%d bytes, md5 %s)", archive, spec.name, archive.stat().st_size, spec.md5)
