"""RQ2 (§4.2): Table 4, Kruskal-Wallis + Dunn by environment, RQ2.2 Spearman; Q-Q, box plots and Figure 4."""

from stats_common import Context

from dlenergy import figures as F
from dlenergy import stats as S

ctx = Context(snakemake)
cfg = ctx.cfg
df = S.add_derived(ctx.runs)
sel = S.rq2_selection(df, cfg)
b1 = S.block1(df, cfg)
t = S.rq2_tables(ctx.runs, cfg)
arch = cfg.rq2_architecture
for name in ("table4_normality_rq2", "kruskal_dunn_rq2", "kruskal_dunn_rq2_dunn", "spearman_gpu_usage"):
    ctx.table(name, t[name])
ctx.runs_used("runs_rq2", sel, S.RQ2_VALUES)

ctx.markdown(
    "table4_normality_rq2",
    f"Table 4. Normality and equality of variances for RQ2 (architecture: {arch})",
    [("", t["table4_normality_rq2"])],
    [
        "Shapiro-Wilk W and p per environment; Levene (median-centred) across environments.",
        f"normal / equal_variances: p > alpha = {cfg.alpha}.",
        ctx.group_note(),
    ],
)
ctx.kruskal_dunn_markdown(
    "kruskal_dunn_rq2", t, f"RQ2 Kruskal-Wallis and Dunn's test by environment (architecture: {arch})"
)
ctx.markdown(
    "spearman_gpu_usage",
    "RQ2.2 One-sided Spearman correlation of GPU usage with power and energy per image",
    [("", t["spearman_gpu_usage"])],
    [
        "H1: ρ > 0 (scipy `alternative='greater'`), per environment, all block-1 architectures.",
        ctx.ci_note("ρ (runs resampled as (x, y) pairs)"),
        "tdp_w: the environment's median `max_power_w`; median_tdp_estimate_error_pct: median of "
        "(TDP × usage − measured mean power) / measured mean power (positive: TDP × usage overestimates).",
    ],
)

order = S.environment_order(sel.frame)
ctx.figure(
    "supp_qq_rq2",
    lambda: F.qq_grid(sel.frame, S.RQ2_VALUES, "environment", order, f"Normal Q-Q plots for RQ2 ({F.pretty(arch)})"),
    title="Q-Q plots for RQ2 (Table 4)",
    reason=sel.reason,
)
ctx.figure(
    "supp_box_rq2",
    lambda: F.box_grid(
        sel.frame, S.RQ2_VALUES, "environment", order, f"RQ2: distributions by environment ({F.pretty(arch)})"
    ),
    title="Box plots for RQ2 (Table 4)",
    reason=sel.reason,
)
ctx.figure(
    "fig4_gpu_usage",
    lambda: F.gpu_usage_plot(b1.frame, S.environment_order(b1.frame), S.architecture_order(b1.frame)),
    title="Figure 4: GPU usage against power and energy",
    reason=b1.reason,
)
