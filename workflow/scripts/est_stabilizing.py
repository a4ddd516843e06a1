"""Figure 9 and the stabilizing-epoch tables: per-run FLUSS results, the share of runs stable by epoch
n per environment, and the epoch by which `stable_share` of the runs are stable."""

from est_common import Context, skipped

import pandas as pd

from dlenergy.estimators.plots import fig9_stabilizing
from dlenergy.fluss import STAB_COLUMNS, FlussParams, cumulative_stable, epoch_for_share
from dlenergy.io import LABEL_COLUMN

ctx = Context(snakemake)
fcfg = ctx.cfg.get("fluss", {})
share = float(fcfg.get("stable_share", 0.9))
params = FlussParams.from_dict(fcfg)
parts = [pd.read_parquet(p).drop(columns=[LABEL_COLUMN], errors="ignore") for p in snakemake.input.shards]
stab = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=STAB_COLUMNS)
# shards segment every run with epoch markers; the analysis keeps the cleaned runs only
stab = stab[stab["run_id"].isin(ctx.runs["run_id"])]
stab = stab.sort_values("run_id", kind="stable").reset_index(drop=True)

reason = ctx.no_epochs_reason()
summary_cols = ["group", "n_runs", "epoch_for_share", "share", "median_epoch", "max_epoch", "n_not_segmented"]
if reason is None and not stab["status"].isin(["ok", "no_change"]).any():
    reason = "FLUSS could not segment any run: " + "; ".join(sorted(set(stab["reason"].astype(str))))[:500]
if reason is not None:
    per_run = skipped("stabilizing_epochs", reason, STAB_COLUMNS) if stab.empty else stab
    summary = skipped("stabilizing_summary", reason, summary_cols)
    curve = skipped("stabilizing_cumulative", reason, ["group", "epoch", "share_stable"])
else:
    per_run = stab
    curve = cumulative_stable(stab, by="environment")
    summary = epoch_for_share(stab, share=share, by="environment")
ctx.table("stabilizing_epochs", per_run)
ctx.table("stabilizing_summary", summary)
ctx.table("stabilizing_cumulative", curve)

settings = (
    f"m = L = {params.subsequence_length}, {params.n_regimes} regimes, exclusion factor {params.excl_factor}; "
    f"series: {params.points_per_epoch or 'raw'} points per epoch, transform {params.transform}, "
    f"{'z-normalized' if params.normalize else 'non-normalized'} matrix profile, change at the subsequence "
    f"{params.locate}, IAC {params.iac}"
)
notes = [
    f"FLUSS ({settings}); config `estimators.fluss`.",
    "status: ok (a regime change), no_change (one regime: stable from the first epoch), too_short, no_epochs.",
]
ctx.markdown("stabilizing_epochs", "Stabilizing epoch of each run (FLUSS)", [("", per_run)], notes)
ctx.markdown(
    "stabilizing_summary",
    f"Epoch by which {share:.0%} of the runs are stable (Figure 9)",
    [("", summary)],
    notes + ["Paper (§4.3): at least 90 % of the runs are stable by epoch 10."],
)
ctx.figure(
    "fig9_stabilizing_epoch",
    lambda: fig9_stabilizing(curve, summary, share),
    title="Figure 9: stabilizing epoch (FLUSS)",
    reason=reason,
    note=f"FLUSS m={params.subsequence_length}, excl. {params.excl_factor}, {params.points_per_epoch or 'raw'} pts/epoch",
)
