"""Unpack a downloaded archive atomically (md5 from its download record checked again first).

A failure (checksum, corrupt archive, unsafe member) is one line: in the log, and alone on stderr;
exit status 1.
"""

import sys

from _common import setup

from dlenergy.sources.download import DownloadError
from dlenergy.sources.zenodo_api import unpack_download

log = setup(snakemake)
pin = ((snakemake.params.src_cfg or {}).get("zenodo") or {}).get("known_hash")
try:
    out = unpack_download(
        snakemake.params.source, snakemake.input.archive, snakemake.output[0], pin, spec_file=snakemake.input.spec
    )
except DownloadError as exc:
    log.error("%s", exc)
    print(f"error: {exc}", file=sys.__stderr__, flush=True)
    sys.exit(1)
log.info("unpacked %s into %s", snakemake.input.archive, out)
