"""Outlier-seed sensitivity (dlenergy.robustness): robustness.csv/.md, every seed's values, the figure."""

import time

from _common import setup

import pandas as pd

from dlenergy import figures as F
from dlenergy import robustness as R
from dlenergy import scorecard as SC
from dlenergy import stats as S
from dlenergy.cleaning import CleaningConfig
from dlenergy.io import LABEL_COLUMN, dataset_label, write_csv, write_parquet, write_text

log = setup(snakemake)
p, out = snakemake.params, snakemake.output
label = dataset_label(snakemake.input.dataset)
strip = lambda df: df.drop(columns=[LABEL_COLUMN], errors="ignore")
runs = strip(pd.read_parquet(snakemake.input.runs))
ledger = strip(pd.read_csv(snakemake.input.ledger, dtype=str, keep_default_na=False))
cleaning = CleaningConfig.from_dict({"seed": p.seed, **p.cleaning})
rcfg = R.RobustnessConfig.from_dict(p.robustness)
t0 = time.perf_counter()
summary, values, notes = R.robustness(
    runs,
    ledger,
    cleaning,
    S.StatsConfig.from_dict(p.stats),
    rcfg,
    seed=p.seed,
    targets=SC.read_targets(p.targets),
    tolerances=p.tolerances,
    n_jobs=snakemake.threads,
    verbose=10,
)  # progress: in the log
log.info(
    "%d seeds x %s on %d worker(s): %.1f s; %s",
    rcfg.n_seeds,
    list(rcfg.variants),
    snakemake.threads,
    time.perf_counter() - t0,
    "; ".join(notes),
)
write_csv(summary, out.robustness, label)
write_parquet(values, out.seeds, label)
write_text(R.to_markdown(summary, p.source, label, notes), out.robustness_md)
F.setup()
F.draw_or_placeholder(
    lambda: R.seeds_figure(values, summary, p.tolerances),
    title="Outlier-seed sensitivity of the paper's numbers",
    reason=None,
    pdf=out.robustness_seeds_pdf,
    png=out.robustness_seeds_png,
    source=p.source,
    label=label,
    note=f"{rcfg.n_seeds} seeds from {p.seed}",
    log=log,
)
