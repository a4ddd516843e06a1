"""Reproduction scorecard: the paper's headline numbers against this source's tables (dlenergy.scorecard)."""

from pathlib import Path

from _common import setup

from dlenergy import scorecard as S
from dlenergy.io import dataset_label, is_synthetic, write_csv, write_text

log = setup(snakemake)
p = snakemake.params
label = dataset_label(snakemake.input.dataset)
results = Path(snakemake.input.summary).parents[1]  # results/<source>/ (clean/summary.csv is in it)
# tables/robustness.csv (workflow/rules/robustness.smk) when this run has it: verdict "within outlier-seed range"
robustness = getattr(snakemake.input, "robustness", None) or None
card = S.build_scorecard(
    results,
    p.targets,
    p.tolerances,
    produced=p.produced,
    config=dict(snakemake.config),
    synthetic=is_synthetic(snakemake.input.dataset),
    robustness=robustness,
    robustness_variants=tuple(p.robustness_variants),
)
log.info("outlier-seed ranges: %s", robustness or "none (tables/robustness.csv is not built)")
write_csv(card, snakemake.output.csv, label)
write_text(S.to_markdown(card, p.source, label), snakemake.output.md)
c = S.counts(card)
log.info("scorecard of %s: %s", p.source, c)
for r in card[card.verdict.isin([S.FAIL, S.WITHIN_SEEDS])].itertuples():
    log.info(
        "%s: %s paper %s reproduced %s (%s) %s",
        r.verdict,
        r.key,
        r.paper,
        r.reproduced,
        r.tolerance,
        r.note if r.verdict == S.WITHIN_SEEDS else "",
    )
