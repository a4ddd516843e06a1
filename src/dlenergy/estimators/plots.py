"""Figures 8-11 of the paper (RQ3.2-RQ3.3), in the style of :mod:`dlenergy.figures`
(colour-blind palette, markers as well as colours, deterministic PDF/PNG, a footer with the source and
the data label).  Each function returns a matplotlib figure; :func:`dlenergy.figures.save` writes it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..figures import MARKERS, PALETTE, plt, pretty, setup
from .evaluate import METHOD_LABELS


def fig8_epoch_duration(epochs: pd.DataFrame, runs: pd.DataFrame, subset: dict | None = None):
    """Box plots of the epoch duration per setting (Figure 8).

    ``subset`` (e.g. ``{"architecture": "inception_v3", "dataset": "stanford_dogs"}``, the paper's
    choice) selects runs whose settings differ in batch and input size; when it selects no run the
    figure shows every run, one box per (architecture, dataset) and environment.
    """
    setup()
    cols = ["run_id", "environment", "architecture", "dataset", "batch_size", "image_size"]
    d = epochs.merge(runs[cols], on="run_id", how="inner")
    d = d[np.isfinite(pd.to_numeric(d["duration_s"], errors="coerce"))]
    sel = d
    for k, v in (subset or {}).items():
        if k in sel:
            sel = sel[sel[k].astype(str) == str(v)]
    if len(sel):
        d = sel.copy()
        d["setting"] = [f"b{int(b)} / {int(i)} px" for b, i in zip(d["batch_size"], d["image_size"])]
        order = [
            f"b{int(b)} / {int(i)} px"
            for b, i in sorted({(int(b), int(i)) for b, i in zip(d["batch_size"], d["image_size"])})
        ]
        what = " / ".join(pretty(v) for v in (subset or {}).values())
        title = f"Epoch duration, {what}: batch size / input size"
    else:
        d = d.copy()
        d["setting"] = [f"{pretty(a)}\n{pretty(s)}" for a, s in zip(d["architecture"], d["dataset"])]
        order = sorted(d["setting"].unique())
        title = "Epoch duration per setting"
    envs = sorted(d["environment"].astype(str).unique())
    n_runs = d.groupby(["setting", "environment"])["run_id"].nunique()
    fig, ax = plt.subplots(figsize=(max(5.5, 1.1 * len(order) * max(1, len(envs)) ** 0.5 + 2), 4.2))
    import seaborn as sns

    sns.boxplot(
        data=d,
        x="setting",
        y="duration_s",
        hue="environment",
        order=order,
        hue_order=envs,
        palette=PALETTE[: len(envs)],
        ax=ax,
        fliersize=2,
        linewidth=0.8,
    )
    ax.set_xlabel("")
    ax.set_ylabel("Epoch duration (s)")
    ax.set_title(title)
    handles, labels = ax.get_legend_handles_labels()
    labels = [f"{pretty(lab)} (runs: {int(n_runs.xs(lab, level='environment').sum())})" for lab in labels]
    ax.legend(handles, labels, title="Environment", fontsize=8, title_fontsize=8, loc="best")
    if d["duration_s"].max() / max(d["duration_s"].min(), 1e-9) > 30:
        ax.set_yscale("log")
    fig.tight_layout()
    return fig


def fig9_stabilizing(curve: pd.DataFrame, summary: pd.DataFrame, share: float = 0.9):
    """Cumulative share of runs stable by epoch n per environment (Figure 9)."""
    setup()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    groups = [g for g in curve["group"].unique() if g != "all"]
    for i, g in enumerate(groups):
        c = curve[curve["group"] == g]
        ax.step(
            c["epoch"],
            100 * c["share_stable"],
            where="post",
            color=PALETTE[i % len(PALETTE)],
            marker=MARKERS[i % len(MARKERS)],
            markersize=3.5,
            linewidth=1.4,
            label=f"{pretty(g)} (n={int(c['n_runs'].iloc[0])})",
        )
    c = curve[curve["group"] == "all"]
    if len(c):
        ax.step(
            c["epoch"],
            100 * c["share_stable"],
            where="post",
            color="0.15",
            linestyle="--",
            linewidth=1.4,
            label=f"all runs (n={int(c['n_runs'].iloc[0])})",
        )
    ax.axhline(100 * share, color="0.5", linewidth=0.8, linestyle=":")
    s_all = summary[summary["group"] == "all"]
    if len(s_all):
        e = int(s_all["epoch_for_share"].iloc[0])
        ax.axvline(e, color="#a6361c", linewidth=1.0, linestyle="-.")
        ax.annotate(
            f"{share * 100:.0f} % stable by epoch {e}",  # rounded as the line is drawn: 0.29 is 29 %, not 28 %
            (e, 100 * share),
            xytext=(6, -16),
            textcoords="offset points",
            fontsize=8,
            color="#a6361c",
            bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=1.5),
        )
    ax.set_xlabel("Epoch n (stabilizing epoch <= n)")
    ax.set_ylabel("Runs stable by epoch n (%)")
    ax.set_ylim(0, 102)
    ax.set_title("Stabilizing epoch of the GPU power (FLUSS)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def fig10_online(sweep: pd.DataFrame, stabilizing_epoch: int, window: int):
    """RMSE of the online methods vs window size and vs stabilizing epoch (Figure 10)."""
    setup()
    fig, axes = plt.subplots(2, 1, figsize=(6.4, 7.0))
    names = {"power_based": "Power-based (eq. 1)", "epoch_energy_based": "Epoch-energy-based (eq. 2)"}
    for ax, sw, xcol, xlabel in (
        (axes[0], "window", "window", "Window size w (epochs)"),
        (axes[1], "stabilizing_epoch", "stabilizing_epoch", "Stabilizing epoch (window start)"),
    ):
        for i, (m, lab) in enumerate(names.items()):
            s = sweep[(sweep["sweep"] == sw) & (sweep["method"] == m)].sort_values(xcol)
            s = s[s["n_runs"] > 0]
            ax.plot(s[xcol], s["rmse_kj"], marker=MARKERS[i], color=PALETTE[i], linewidth=1.4, markersize=4, label=lab)
            r = sweep[(sweep["sweep"] == "random_start") & (sweep["method"] == m)]
            if sw == "window" and len(r) and np.isfinite(r["rmse_kj"].iloc[0]):
                ax.axhline(
                    r["rmse_kj"].iloc[0],
                    color=PALETTE[i],
                    linestyle=":",
                    linewidth=1.0,
                    label=f"{lab.split(' (')[0]}, w={window} at random start",
                )
        ax.set_xlabel(xlabel)
        ax.set_ylabel("RMSE (kJ)")
        ax.set_ylim(bottom=0)
    axes[0].set_title(f"Window from the stabilizing epoch ({stabilizing_epoch})")
    axes[1].set_title(f"Window of w = {window} epochs from the stabilizing epoch")
    axes[1].axvline(stabilizing_epoch, color="0.5", linestyle="-.", linewidth=0.8)
    axes[0].legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def fig11_predicted_vs_true(preds: pd.DataFrame, table: pd.DataFrame):
    """Predicted vs true energy per method, with y = x and the fitted line (Figure 11)."""
    setup()
    methods = list(dict.fromkeys(preds["method"]))
    nc = 4 if len(methods) > 4 else max(len(methods), 1)
    nr = int(np.ceil(len(methods) / nc))
    fig, axes = plt.subplots(nr, nc, figsize=(3.0 * nc, 3.0 * nr + 0.3), squeeze=False)
    rmse = table.set_index("method")["rmse_kj"].to_dict()
    for k, m in enumerate(methods):
        ax = axes[k // nc, k % nc]
        p = preds[(preds["method"] == m)]
        p = p[np.isfinite(p["predicted_kj"]) & np.isfinite(p["true_kj"])]
        ax.scatter(
            p["true_kj"],
            p["predicted_kj"],
            s=14,
            color="0.3",
            marker=MARKERS[k % len(MARKERS)],
            edgecolor="none",
            alpha=0.75,
            label="runs",
        )
        if len(p):
            lo = float(min(p["true_kj"].min(), p["predicted_kj"].min(), 0))
            hi = float(max(p["true_kj"].max(), p["predicted_kj"].max())) * 1.05
            xs = np.array([lo, hi])
            ax.plot(xs, xs, color="#d55e00", linewidth=1.0, label="y = x")
            if len(p) >= 2 and np.ptp(p["true_kj"]) > 0:
                b, a = np.polyfit(p["true_kj"], p["predicted_kj"], 1)
                a = round(float(a), 1) + 0.0  # the sign of the intercept as printed: -2e-16 is "+ 0.0", not "- 0.0"
                ax.plot(
                    xs,
                    a + b * xs,
                    color="#0072b2",
                    linewidth=1.0,
                    linestyle="--",
                    label=f"fit: {b:.2f} x {'+' if a >= 0 else '-'} {abs(a):.1f}",
                )
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.legend(fontsize=6.5, loc="upper left")
        ax.set_title(f"{METHOD_LABELS.get(m, m)}\nRMSE {rmse.get(m, np.nan):.2f} kJ (n={len(p)})", fontsize=8.5)
        ax.set_xlabel("True energy (kJ)", fontsize=8)
        ax.set_ylabel("Predicted energy (kJ)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_aspect("equal", adjustable="box")
    for k in range(len(methods), nr * nc):
        axes[k // nc, k % nc].axis("off")
    fig.suptitle("Predicted vs true energy on the held-out runs", fontweight="bold")
    fig.tight_layout()
    return fig
