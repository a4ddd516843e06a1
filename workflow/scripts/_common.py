"""Shared set-up of the rule scripts: log to the rule's log file, fail loudly."""

import logging
import sys


def setup(snakemake):
    log = snakemake.log[0] if snakemake.log else None
    handlers = [logging.FileHandler(log, mode="w")] if log else [logging.StreamHandler(sys.stderr)]
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers, force=True
    )
    if log:
        sys.stderr = open(log, "a")
    return logging.getLogger(snakemake.rule)
