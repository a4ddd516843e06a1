# dlenergy: from raw GPU/CPU power logs of DL training runs to the tables, figures and energy
# estimates of del Rey et al. (2024).  All logic lives in src/dlenergy; rules stay thin.
import sys
from pathlib import Path

import yaml
from snakemake.utils import min_version, validate

from dlenergy.config import ConfigError, check_config, coerce_to_schema

min_version("9.0")


configfile: "config.yaml"


# --config ingest='{n_shards: 8}' arrives as strings: typed by the schema before it is validated
SCHEMA = "workflow/schemas/config.schema.yaml"
_schema = yaml.safe_load((Path(workflow.basedir) / SCHEMA).read_text())
config.update(coerce_to_schema(dict(config), _schema))
try:  # one line naming the key, before Snakemake's own validation fills in the defaults
    check_config(config, _schema)
except ConfigError as exc:
    sys.exit(f"dlenergy: {exc}")


validate(config, SCHEMA)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/clean.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/estimators.smk"
include: "workflow/rules/robustness.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),


onstart:
    preflight_downloads(SOURCES)
    print_first_run_note(SOURCES)


onsuccess:
    print_closing_lines(SOURCES)


onerror:
    print_failures()
