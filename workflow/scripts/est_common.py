"""Shared plumbing of the est_* rule scripts (not a rule script itself): read the cleaned runs and
epochs, the ``estimators:`` config and the data label; write labelled CSV, Markdown and figures, or
a one-row "skipped, because ..." table and a placeholder figure when the source cannot support an
analysis."""

from __future__ import annotations


import numpy as np
import pandas as pd
from _context import ScriptContext

from dlenergy.estimators import training_data_info
from dlenergy.estimators.evaluate import paper_stabilizing_epoch
from dlenergy.io import LABEL_COLUMN, write_csv
from dlenergy.stats import skipped as stats_skipped


def skipped(analysis: str, reason: str, columns: list[str] | None = None) -> pd.DataFrame:
    return stats_skipped(analysis, reason, list(dict.fromkeys(["analysis", "status", "note", *(columns or [])])))


def is_skipped(df: pd.DataFrame) -> bool:
    return "status" in df and (df["status"] == "skipped").all() and len(df) > 0


class Context(ScriptContext):
    def __init__(self, smk, *, need_epochs: bool = True):
        super().__init__(smk)
        self.cfg = dict(smk.params.estimators or {})
        self.seed = int(smk.params.seed)
        self.data_info = training_data_info(smk.input.dataset, self.source)  #: source, label, real or synthetic
        strip = lambda df: df.drop(columns=[LABEL_COLUMN], errors="ignore")
        self.runs = strip(pd.read_parquet(smk.input.runs)).sort_values("run_id", kind="stable").reset_index(drop=True)
        self.epochs = strip(pd.read_parquet(smk.input.epochs)) if "epochs" in smk.input.keys() else None
        has_ep = self.runs.get("has_epoch_markers", pd.Series(True, index=self.runs.index)).astype(bool)
        self.epoch_runs = self.runs[has_ep & (self.runs["epochs_measured"] > 0)].reset_index(drop=True)
        self.min_runs = int(self.cfg.get("min_runs", 20))
        self.log.info(
            "source %s: %d cleaned runs, %d with epoch markers; data label %s",
            self.source,
            len(self.runs),
            len(self.epoch_runs),
            self.label,
        )

    # -- why an analysis cannot run ----------------------------------------------------------
    def no_epochs_reason(self) -> str | None:
        if len(self.runs) == 0:
            return "the source has no cleaned runs"
        if len(self.epoch_runs) == 0:
            return (
                f"none of the {len(self.runs)} cleaned runs of source '{self.source}' has epoch markers "
                "(runs/<run_id>/epochs.csv), so epochs, stabilizing epochs and epoch energies are unknown"
            )
        return None

    def few_runs_reason(self, n: int | None = None, what: str = "cleaned runs with epoch markers") -> str | None:
        n = len(self.epoch_runs) if n is None else n
        if n < self.min_runs:
            return (
                f"{n} {what} in source '{self.source}'; the train/test split and 5-fold cross-validation "
                f"need at least estimators.min_runs = {self.min_runs}"
            )
        return None

    # -- the stabilizing epoch used downstream -----------------------------------------------
    def stabilizing_epoch(self) -> tuple[int, str]:
        online = self.cfg.get("online", {})
        want = online.get("stabilizing_epoch", "fluss")
        if want != "fluss":
            return int(want), f"estimators.online.stabilizing_epoch = {int(want)} (config)"
        summary = pd.read_csv(self.smk.input.stabilizing)
        row = summary[summary.get("group", pd.Series(dtype=str)) == "all"] if "group" in summary else summary.iloc[0:0]
        if len(row) and np.isfinite(row["epoch_for_share"].iloc[0]):
            e = int(row["epoch_for_share"].iloc[0])
            share = float(row["share"].iloc[0])
            return e, f"FLUSS: {share:.0%} of {int(row['n_runs'].iloc[0])} runs are stable by epoch {e}"
        paper = paper_stabilizing_epoch()  # §4.3: "we will use epoch ten as the stabilizing point"
        return paper, f"FLUSS gave no stabilizing epoch for this source; the paper's epoch {paper}"

    # -- writing -------------------------------------------------------------------------------
    def table(self, name: str, df: pd.DataFrame) -> None:
        write_csv(df, self.smk.output[name], self.label, float_format="%.6g")
        self.log.info("%s: %d row(s)\n%s", name, len(df), df.to_string(max_rows=60))
