# The paper's conclusions as a checklist (dlenergy.claims): every claim of dlenergy/data/claims.yaml
# decided by this source's tables -> results/<source>/claims.csv and claims.md.
# Reads only tables the included rule files declare (plus tables/robustness.csv when a rule makes it),
# so it runs on every source; claims a source cannot decide are "not testable with this data" (and why).

from dlenergy.claims import ROBUSTNESS_TABLE, load_claims, tables_of


# light, local job (no cluster submission under a SLURM profile)
localrules:
    claims,


CLAIM_TABLES = sorted(tables_of(load_claims()) | {ROBUSTNESS_TABLE})


rule claims:
    input:
        tables=claims_inputs,
        dataset=dataset_of,
    output:
        csv=registered(f"{RESULTS}/claims.csv", "../report/report_claims.rst", "Claims", table="claims"),
        md=f"{RESULTS}/claims.md",
    log:
        f"{LOGS}/report/claims.log",
    benchmark:
        f"{BENCH}/claims.tsv"
    conda:
        "../envs/dlenergy.yaml"
    resources:
        mem_mb=1000,
    params:
        library=LIBRARY,
        results=lambda wc: f"results/{wc.source}",
        source=source_of,
    script:
        "../scripts/claims.py"


EXTRA_TARGETS.extend([f"{RESULTS}/claims.csv", f"{RESULTS}/claims.md"])
