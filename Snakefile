# dlenergy: from raw GPU/CPU power logs of DL training runs to the tables, figures and energy
# estimates of del Rey et al. (2024).  All logic lives in src/dlenergy; rules stay thin.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/clean.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/estimators.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_targets(),
    default_target: True
