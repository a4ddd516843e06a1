"""Trade-offs (§4.1 RQ1.2, §4.2, §5.1): medians per environment × architecture (Figure 2), energy
reductions and their F1 cost, the energy–F1 Pareto front, F1 per kWh."""

from stats_common import Context

from dlenergy import figures as F
from dlenergy import stats as S

ctx = Context(snakemake)
cfg = ctx.cfg
df = S.add_derived(ctx.runs)
b1 = S.block1(df, cfg)
t = S.tradeoff_tables(ctx.runs, cfg)
for name in ("tradeoff", "reductions", "reductions_summary"):
    ctx.table(name, t[name])
ctx.runs_used("runs_block1", b1, S.TRADEOFF_METRICS)

ctx.markdown(
    "tradeoff",
    "Trade-offs: medians per environment and architecture (Figure 2)",
    [("", t["tradeoff"])],
    [
        "Medians over runs; time per image = duration / images seen; F1 per kWh = F1 / training energy "
        "(kWh) per run, then the median.",
        ctx.ci_note("each median (the group's runs resampled)"),
        "pareto_all: on the energy-per-image/F1 Pareto front across every combination; "
        "pareto_in_environment: within its environment.",
        f"Groups with fewer than {cfg.min_group_size} runs are flagged `insufficient` and left out of the "
        "reduction summary.",
    ],
)
red = t["reductions"]
sections = [("Summary", t["reductions_summary"])]
scope1 = f"architectures in {cfg.rq1_environment}"
if "scope" in red and (red["scope"] == scope1).any():
    m = red[red["scope"] == scope1].pivot(index="from", columns="to", values="reduction")
    m = (m * 100).round(2)
    m.insert(0, "from \\ to (reduction %)", m.index)
    sections.append((f"Reduction matrix, {scope1} (%, from row to column)", m.reset_index(drop=True)))
sections.append(("All pairs", red))
ctx.markdown(
    "reductions",
    "Energy reductions between combinations and the F1 decrease they cost",
    sections,
    [
        "reduction = 1 − E_to / E_from on median energy per image; f1_decrease = (F1_from − F1_to) / F1_from "
        "(negative: F1 rises).",
        ctx.ci_note(
            "each reduction and F1 decrease (a two-sample statistic: the runs of `from` and of `to` "
            "resampled independently)"
        ),
        "Paper: 14 %–64 % from VGG16 within Cloud; best combination 80.72 % (Local ML VGG16 → Local ML "
        "MobileNet V2) with an F1 decrease of 1.34 %.",
    ],
)

tr = t["tradeoff"]
reason = b1.reason or (None if (tr["status"] != S.STATUS_SKIPPED).any() else "no runs")
env_order = S.environment_order(b1.frame)
arch_order = S.architecture_order(b1.frame)
ctx.figure(
    "fig2_tradeoff",
    lambda: F.tradeoff_bars(tr, env_order, arch_order),
    title="Figure 2: medians per architecture and environment",
    reason=reason,
)
ctx.figure(
    "fig2_pareto", lambda: F.pareto_plot(tr, env_order, arch_order), title="Energy–F1 Pareto front", reason=reason
)
