# The paper's conclusions as a checklist (dlenergy.claims): every claim of dlenergy/data/claims.yaml
# decided by this source's tables -> results/<source>/claims.csv and claims.md.
# Reads only tables the included rule files declare (plus tables/robustness.csv when a rule makes it),
# so it runs on every source; claims a source cannot decide are "not testable with this data" (and why).

from dlenergy.claims import ROBUSTNESS_TABLE, load_claims, tables_of

# light, local job (no cluster submission under a SLURM profile)
localrules:
    claims,


CLAIM_TABLES = sorted(tables_of(load_claims()) | {ROBUSTNESS_TABLE})


def claims_inputs(wildcards):
    """The declared tables (results/<source>/tables/<name>.csv) that the claims read, and the
    outlier-seed ranges (tables/robustness.csv) when this run makes them or they exist."""
    declared = set(declared_tables())
    tables = [t for t in (f"{RESULTS}/tables/{name}.csv" for name in CLAIM_TABLES) if t in declared]
    extra = robustness_for_scorecard(wildcards)
    return [t.format(source=wildcards.source) for t in tables] + ([extra] if extra else [])


rule claims:
    input:
        tables=claims_inputs,
        dataset=dataset_of,
    output:
        csv=registered(f"{RESULTS}/claims.csv", "../report/report_claims.rst", "Claims", table="claims"),
        md=f"{RESULTS}/claims.md",
    params:
        library=LIBRARY,
        results=lambda wc: f"results/{wc.source}",
        source=source_of,
    resources:
        mem_mb=1000,
    log:
        f"{LOGS}/report/claims.log",
    benchmark:
        f"{BENCH}/claims.tsv"
    script:
        "../scripts/claims.py"


EXTRA_TARGETS.extend([f"{RESULTS}/claims.csv", f"{RESULTS}/claims.md"])
