"""RQ3.1 batch and input size (§4.3): mean energy, power and duration (Figures 5 and 6)."""

from stats_common import Context

from dlenergy import figures as F
from dlenergy import stats as S

ctx = Context(snakemake)
cfg = ctx.cfg
df = S.add_derived(ctx.runs)
sel = S.batch_input_selection(df, cfg)
t = S.batch_input_tables(ctx.runs, cfg)
ctx.table("batch_input", t["batch_input"])
ctx.runs_used("runs_batch_input", sel, ["energy_kj", "mean_gpu_power_w", "duration_min"])
ctx.markdown(
    "batch_input",
    "RQ3.1 Batch and input size: energy, power and duration (Figures 5–6)",
    [("", t["batch_input"])],
    ["Means and medians over runs per environment × dataset × batch size × input size."],
)
ctx.figure(
    "fig5_batch_input_energy",
    lambda: F.batch_input_plot(sel.frame, ["energy_kj"], "Impact of batch and input size on energy"),
    title="Figure 5: batch and input size against energy",
    reason=sel.reason,
)
ctx.figure(
    "fig6_batch_input_power_time",
    lambda: F.batch_input_plot(
        sel.frame,
        ["mean_gpu_power_w", "duration_min"],
        "Impact of batch and input size on average power and training duration",
    ),
    title="Figure 6: batch and input size against power and duration",
    reason=sel.reason,
)
