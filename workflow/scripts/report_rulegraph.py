"""The pipeline overview figure: `snakemake --rulegraph` drawn with matplotlib (dlenergy.rulegraph)."""

import logging
import os
import tempfile
from pathlib import Path

from _common import setup

import yaml

from dlenergy import figures as F
from dlenergy import rulegraph as R
from dlenergy.io import _atomic, dataset_label, write_text

log = setup(snakemake)
logging.getLogger("fontTools").setLevel(logging.WARNING)
out = snakemake.output
source = snakemake.params.source
label = dataset_label(snakemake.params.dataset)

# the same configuration as this run (config.yaml merged with --config), for a read-only --rulegraph
with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
    yaml.safe_dump({**dict(snakemake.config), "source": source}, fh)  # this source's graph
    configfile = fh.name
try:
    dot = R.rulegraph_dot(snakemake.params.snakefile, os.getcwd(), configfile)
    log.info("rule graph: %d rules", len(R.parse_dot(dot)[0]))
finally:
    os.unlink(configfile)
write_text(dot, out.dot)

F.setup()
fig = R.draw(dot)
F.footer(fig, source, label, note="drawn from `snakemake --rulegraph` (rulegraph.dot) by dlenergy.rulegraph")
for path, fmt in ((out.svg, "svg"), (out.pdf, "pdf"), (out.png, "png")):
    meta = {"CreationDate": None} if fmt == "pdf" else ({"Date": None} if fmt == "svg" else {"Software": None})
    _atomic(Path(path), lambda tmp, fmt=fmt, meta=meta: fig.savefig(tmp, format=fmt, metadata=meta))
