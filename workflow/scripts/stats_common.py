"""Shared plumbing of the stats_* rule scripts (not a rule script itself): read the cleaned runs,
the ``stats:`` config and the data label; write labelled CSV, Markdown and figures."""

from __future__ import annotations

import pandas as pd


from _context import ScriptContext

from dlenergy import stats as S
from dlenergy.io import LABEL_COLUMN, write_csv

#: columns of the runs_<analysis>.csv audit files (those present), before the analysed variables
ID_COLUMNS = ["run_id", "environment", "architecture", "dataset", "batch_size", "image_size", "total_ram_gb", "gflops"]


class Context(ScriptContext):
    def __init__(self, smk):
        super().__init__(smk)
        self.runs = pd.read_parquet(smk.input.runs).drop(columns=[LABEL_COLUMN], errors="ignore")
        self.cfg = S.StatsConfig.from_dict(smk.params.stats)
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

    def runs_used(self, name: str, sel: S.Selection, values: list[str]) -> None:
        cols = [c for c in ID_COLUMNS if c in sel.frame] + [v for v in values if v in sel.frame and v not in ID_COLUMNS]
        df = sel.frame[cols].sort_values("run_id", kind="stable") if "run_id" in sel.frame else sel.frame[cols]
        df = df.assign(selection=sel.description)
        self.table(name, df)

    def kruskal_dunn_markdown(self, name: str, tables: dict, title: str) -> None:
        """The Markdown of a Kruskal-Wallis table and its Dunn pairs (``<name>`` and ``<name>_dunn``)."""
        k = tables[name]
        nd = [
            f"{r.variable}: {r.not_different}"
            for r in k.itertuples()
            if isinstance(r.not_different, str) and r.not_different
        ]
        self.markdown(
            name,
            title,
            [("Kruskal-Wallis", k), ("Dunn's post-hoc pairs", tables[f"{name}_dunn"])],
            [
                "η² = (H − k + 1) / (n − k); Cliff's δ and Dunn's z beside each pair's p-value.",
                self.padj_note(),
                self.ci_note("Cliff's δ (the two groups resampled independently)"),
                self.group_note(),
                "Not significantly different: " + ("; ".join(nd) if nd else "none"),
            ],
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
