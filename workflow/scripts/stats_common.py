"""Shared plumbing of the stats_* rule scripts (not a rule script itself): read the cleaned runs,
the ``stats:`` config and the data label; write labelled CSV, Markdown and figures."""

from __future__ import annotations

import pandas as pd

import logging

from _common import setup

from dlenergy import figures as F
from dlenergy import stats as S
from dlenergy.io import LABEL_COLUMN, dataset_label, write_csv, write_text

#: columns of the runs_<analysis>.csv audit files (those present), before the analysed variables
ID_COLUMNS = ["run_id", "environment", "architecture", "dataset", "batch_size", "image_size", "total_ram_gb", "gflops"]


class Context:
    def __init__(self, smk):
        self.smk = smk
        self.log = setup(smk)
        logging.getLogger("fontTools").setLevel(logging.WARNING)
        self.label = dataset_label(smk.input.dataset)
        self.source = smk.params.source
        self.runs = pd.read_parquet(smk.input.runs).drop(columns=[LABEL_COLUMN], errors="ignore")
        self.cfg = S.StatsConfig.from_dict(smk.params.stats)
        F.setup()
        self.log.info(
            "%d cleaned runs of source %s; stats config %s; data label %s",
            len(self.runs),
            self.source,
            self.cfg,
            self.label,
        )

    def table(self, name: str, df: pd.DataFrame) -> None:
        write_csv(df, self.smk.output[name], self.label)
        self.log.info(
            "%s: %d row(s)\n%s", name, len(df), df.drop(columns=["analysis", "subset"], errors="ignore").to_string()
        )

    def markdown(self, name: str, title: str, sections, notes=None) -> None:
        notes = list(notes or [])
        text = S.markdown_document(title, sections, label=self.label, source=self.source, notes=notes)
        write_text(text, self.smk.output[f"{name}_md"])

    def runs_used(self, name: str, sel: S.Selection, values: list[str]) -> None:
        cols = [c for c in ID_COLUMNS if c in sel.frame] + [v for v in values if v in sel.frame and v not in ID_COLUMNS]
        df = sel.frame[cols].sort_values("run_id", kind="stable") if "run_id" in sel.frame else sel.frame[cols]
        df = df.assign(selection=sel.description)
        self.table(name, df)

    def figure(self, name: str, make, *, title: str, reason: str | None = None, note: str | None = None) -> None:
        """Draw with ``make()``; a skipped analysis (``reason``) or a drawing error gives a placeholder."""
        F.draw_or_placeholder(
            make,
            title=title,
            reason=reason,
            pdf=self.smk.output[f"{name}_pdf"],
            png=self.smk.output[f"{name}_png"],
            source=self.source,
            label=self.label,
            note=note,
            log=self.log,
        )

    def padj_note(self) -> str:
        return (
            f"Dunn's post-hoc p-values adjusted with **{self.cfg.p_adjust_name}** "
            f"(config `stats.p_adjust`); alpha = {self.cfg.alpha}."
        )

    def ci_note(self, what: str) -> str:
        """How the bootstrap CIs beside ``what`` were drawn (config ``stats.bootstrap`` and ``seed``)."""
        b = self.cfg.boot
        if b is None:
            return f"No confidence intervals for {what}: `stats.bootstrap.n_resamples` is 0."
        return (
            f"[CI]: {b.describe()} for {what}; `ci_note` names any interval that is degenerate "
            "(every resample gives the same value) or falls back to the percentile method."
        )

    def group_note(self) -> str:
        return f"Groups with fewer than {self.cfg.min_group_size} runs are left out of the tests and named in `note`."
