"""RQ1 (§4.1): Table 3, Kruskal-Wallis + Dunn by architecture, Table 6; Q-Q, box plots and Figure 3."""

from stats_common import Context

from dlenergy import figures as F
from dlenergy import stats as S

ctx = Context(snakemake)
cfg = ctx.cfg
df = S.add_derived(ctx.runs)
sel = S.rq1_selection(df, cfg)
t = S.rq1_tables(ctx.runs, cfg)
env = cfg.rq1_environment
for name in ("table3_normality_rq1", "kruskal_dunn_rq1", "kruskal_dunn_rq1_dunn", "table6_spearman_flops"):
    ctx.table(name, t[name])
ctx.runs_used("runs_rq1", sel, S.RQ1_KRUSKAL + ["gflops"])

ctx.markdown(
    "table3_normality_rq1",
    f"Table 3. Normality and equality of variances for RQ1 (environment: {env})",
    [("", t["table3_normality_rq1"])],
    [
        "Shapiro-Wilk W and p per architecture; Levene (median-centred) W and p across architectures "
        "(repeated on each row of a variable).",
        f"normal / equal_variances: p > alpha = {cfg.alpha}.",
        ctx.group_note(),
    ],
)
ctx.kruskal_dunn_markdown(
    "kruskal_dunn_rq1", t, f"RQ1 Kruskal-Wallis and Dunn's test by architecture (environment: {env})"
)
ctx.markdown(
    "table6_spearman_flops",
    f"Table 6. One-sided Spearman correlation with GFLOPs (environment: {env})",
    [("", t["table6_spearman_flops"])],
    [
        "H1: ρ > 0 (scipy `alternative='greater'`).",
        ctx.ci_note("ρ (runs resampled as (x, y) pairs)"),
        "The paper's Table 6 has the first two rows; average GPU power is Figure 3's third panel.",
    ],
)

reason = sel.reason
order = S.architecture_order(sel.frame)
title_env = F.pretty(env)
ctx.figure(
    "supp_qq_rq1",
    lambda: F.qq_grid(sel.frame, S.RQ1_VALUES, "architecture", order, f"Normal Q-Q plots for RQ1 ({title_env})"),
    title="Q-Q plots for RQ1 (Table 3)",
    reason=reason,
)
ctx.figure(
    "supp_box_rq1",
    lambda: F.box_grid(
        sel.frame, S.RQ1_KRUSKAL, "architecture", order, f"RQ1: distributions by architecture ({title_env})"
    ),
    title="Box plots for RQ1 (Table 3)",
    reason=reason,
)
ctx.figure(
    "fig3_flops",
    lambda: F.flops_scatter(sel.frame, t["table6_spearman_flops"], order, env),
    title="Figure 3: energy, GPU usage and power against FLOPs",
    reason=reason,
)
