"""The paper's conclusions, checked against this source's tables (dlenergy.claims)."""

from _common import setup

from dlenergy import claims as C
from dlenergy.io import dataset_label, write_csv, write_text

log = setup(snakemake)
p = snakemake.params
label = dataset_label(snakemake.input.dataset)
synthetic = C.is_synthetic(snakemake.input.dataset)
card = C.evaluate(p.results, synthetic=synthetic)
write_csv(card, snakemake.output.csv, label)
write_text(C.to_markdown(card, p.source, label), snakemake.output.md)
log.info("claims of %s (%s): %s", p.source, "synthetic" if synthetic else "real data", C.counts(card))
for r in card.itertuples():
    log.info("%s: %s | %s", r.claim_id, r.verdict, r.evidence)
