"""Integrated GPU energy (the pipeline's number) against the board's cumulative energy counter, per
run and per epoch, for the runs whose GPU logs carry the counter (dlenergy.energy.counter_check)."""

from _common import setup

import pandas as pd

from dlenergy.energy import COUNTER_CHECK_COLUMNS, counter_check
from dlenergy.io import LABEL_COLUMN, dataset_label, write_csv, write_text
from dlenergy.stats import markdown_document, skipped

log = setup(snakemake)
label = dataset_label(snakemake.input.dataset)
source = snakemake.params.source
strip = lambda df: df.drop(columns=[LABEL_COLUMN], errors="ignore")
runs = strip(pd.read_parquet(snakemake.input.runs))
epochs = strip(pd.read_parquet(snakemake.input.epochs))
table = counter_check(runs, epochs)
notes = [
    "integrated_energy_j: trapezoidal integral of power.draw (the energy every analysis uses); counter_energy_j: "
    "the board's cumulative energy counter (NVML total energy) over the same span; "
    "difference_pct = 100 (integrated - counter) / counter.",
    "span 'training window': the counter is in gpu.csv (`total_energy_consumption [mJ]`, as `dlenergy measure` "
    "writes it) and is read at the window's bounds; span 'epochs with a counter reading at both ends': the "
    "training code logged the counter at each epoch end (epochs.csv, e.g. `nvml_energy_mJ`), so epochs 1..N-1 "
    "are compared, both sides summed over them.",
    "epoch_ratio_*: per-epoch integrated / counter energy (median, min, max over the run's epochs).",
    "All ingested runs, before cleaning (failed runs included; see return_code).",
]
if table.empty:
    reason = (
        f"none of the {len(runs)} ingested runs of source '{source}' has the board's energy counter, in its GPU "
        "log (`total_energy_consumption [mJ]`, written by `dlenergy measure` through NVML on Volta and newer "
        "GPUs) or read at its epoch ends (epochs.csv column nvml_energy_mJ)"
    )
    table = skipped("energy_check", reason, ["analysis", "status", "note", *COUNTER_CHECK_COLUMNS])
    log.info("skipped: %s", reason)
else:
    d = table["difference_pct"]
    notes.insert(
        0, f"{len(table)} run(s): difference median {d.median():+.2f} %, range {d.min():+.2f} % to {d.max():+.2f} %."
    )
    log.info("energy vs counter:\n%s", table.to_string())
write_csv(table, snakemake.output.energy_check, label, float_format="%.6g")
write_text(
    markdown_document(
        "GPU energy: integrated power against the board's energy counter",
        [("", table)],
        label=label,
        source=source,
        notes=notes,
    ),
    snakemake.output.energy_check_md,
)
