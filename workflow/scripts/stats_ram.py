"""RQ3.1 allocated RAM (§4.3): Table 5, Table 7 (+ Dunn), Figure 7 and the Q-Q/box plots."""

from stats_common import Context

from dlenergy import figures as F
from dlenergy import stats as S

ctx = Context(snakemake)
cfg = ctx.cfg
df = S.add_derived(ctx.runs)
sel = S.ram_selection(df, cfg)
t = S.ram_tables(ctx.runs, cfg)
for name in ("table5_normality_ram", "table7_kruskal_ram", "table7_kruskal_ram_dunn"):
    ctx.table(name, t[name])
ctx.runs_used("runs_ram", sel, S.RAM_VALUES)

ctx.markdown(
    "table5_normality_ram",
    "Table 5. Normality and equality of variances by allocated RAM (RQ3.1)",
    [("", t["table5_normality_ram"])],
    [
        "energy_kj: training energy (kJ); duration_min: training duration (min); ram_used_gb: average RAM used (GB).",
        f"normal / equal_variances: p > alpha = {cfg.alpha}.",
        ctx.group_note(),
    ],
)
k = t["table7_kruskal_ram"]
nd = [
    f"{r.variable}: {r.not_different}" for r in k.itertuples() if isinstance(r.not_different, str) and r.not_different
]
ctx.markdown(
    "table7_kruskal_ram",
    "Table 7. Kruskal-Wallis and Dunn's test by allocated RAM (RQ3.1)",
    [("Kruskal-Wallis", k), ("Dunn's post-hoc pairs", t["table7_kruskal_ram_dunn"])],
    [
        "η² = (H − k + 1) / (n − k); Cliff's δ and Dunn's z beside each pair's p-value.",
        ctx.padj_note(),
        ctx.ci_note("Cliff's δ (the two groups resampled independently)"),
        ctx.group_note(),
        "Not significantly different: " + ("; ".join(nd) if nd else "none"),
    ],
)

order = sorted(sel.frame[cfg.ram_column].dropna().unique()) if cfg.ram_column in sel.frame else []
ctx.figure(
    "fig7_ram",
    lambda: F.ram_boxes(sel.frame, cfg.ram_column, order),
    title="Figure 7: effect of allocated RAM",
    reason=sel.reason,
)
ctx.figure(
    "supp_qq_ram",
    lambda: F.qq_grid(sel.frame, S.RAM_VALUES, cfg.ram_column, order, "Normal Q-Q plots by allocated RAM (GB)"),
    title="Q-Q plots for RQ3.1 allocated RAM (Table 5)",
    reason=sel.reason,
)
ctx.figure(
    "supp_box_ram",
    lambda: F.box_grid(
        sel.frame, S.RAM_VALUES, cfg.ram_column, order, "Distributions by allocated RAM", xlabel="Allocated RAM (GB)"
    ),
    title="Box plots for RQ3.1 allocated RAM (Table 5)",
    reason=sel.reason,
)
