"""Figures of RQ1, RQ2 and RQ3.1 (paper Figures 2–7, Q-Q and box plots of §3.7).

Publication style: seaborn "colorblind" palette (and hatches/markers, so nothing depends on colour
alone), units on every axis, n per group in the tick labels.  Output is deterministic: PDFs without a
creation date, PNGs without the software tag, seeded jitter; two runs give byte-identical files.
Every figure carries a footer with the source and, for a synthetic source, its data label.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy import stats as ss

from .io import _atomic
from .stats import LABELS, MIN_N, ordered_groups

PALETTE = sns.color_palette("colorblind")
HATCHES = ["", "//", "..", "xx", "\\\\", "++", "oo", "--"]
MARKERS = ["o", "s", "D", "^", "v", "P", "X", "*", "<", ">"]

PRETTY = {
    "mobilenet_v2": "MobileNet V2",
    "nasnet_mobile": "NASNet Mobile",
    "resnet50": "ResNet50",
    "xception": "Xception",
    "vgg16": "VGG16",
    "inception_v3": "Inception V3",
    "local_normal_user": "Local N",
    "local_ml_engineer": "Local ML",
    "cloud": "Cloud",
    "caltech101": "Caltech101",
    "stanford_dogs": "Stanford Dogs",
    "chesslive": "Chesslive",
}


def pretty(name) -> str:
    if isinstance(name, (float, np.floating)) and float(name).is_integer():
        name = int(name)
    s = str(name)
    return PRETTY.get(s, s.replace("_", " ") if not s.isdigit() else s)


def label_of(col: str) -> str:
    return LABELS.get(col, col.replace("_", " "))


def setup() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.15)
    plt.rcParams.update({
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
        "savefig.dpi": 200,
        "savefig.bbox": "tight",
        "axes.titleweight": "bold",
        "axes.titlesize": 11,
        "legend.frameon": False,
        "svg.hashsalt": "dlenergy",
    })


def colors(keys: list) -> dict:
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}


def footer(fig, source: str, label: str | None, note: str | None = None) -> None:
    parts = [f"source: {source}"]
    if note:
        parts.append(note)
    fig.text(0.01, -0.01, " · ".join(parts), ha="left", va="top", fontsize=7, color="0.35")
    if label:
        synthetic = "synthetic" in label.lower() or "simulated" in label.lower()
        fig.text(0.99, -0.01, f"{'SYNTHETIC DATA — ' if synthetic else 'data: '}{label}", ha="right", va="top",
                 fontsize=8 if synthetic else 7, color="#a6361c" if synthetic else "0.35",
                 fontweight="bold" if synthetic else "normal")


def save(fig, pdf: str | Path, png: str | Path, *, source: str, label: str | None, note: str | None = None) -> None:
    """Write ``fig`` as PDF and PNG, atomically and deterministically, then close it."""
    footer(fig, source, label, note)
    # the tight bounding box (which takes the footer in) once for both files, instead of one extra
    # draw per file with savefig.bbox = "tight"
    bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    _atomic(Path(pdf), lambda tmp: fig.savefig(tmp, format="pdf", bbox_inches=bbox, metadata={"CreationDate": None}))
    _atomic(Path(png), lambda tmp: fig.savefig(tmp, format="png", bbox_inches=bbox, metadata={"Software": None}))
    plt.close(fig)


def placeholder(title: str, reason: str):
    """A figure that says the analysis was skipped and why (a source that cannot support it)."""
    fig = plt.figure(figsize=(8, 3))
    # a light frame over the whole figure keeps the text centred under the tight bounding box
    fig.patches.append(matplotlib.patches.Rectangle((0.01, 0.04), 0.98, 0.92, transform=fig.transFigure,
                                                    fill=False, edgecolor="0.8", linewidth=0.8))
    fig.text(0.5, 0.72, title, ha="center", va="center", fontsize=13, fontweight="bold")
    fig.text(0.5, 0.38, "Not computed for this source:\n" + textwrap.fill(reason, 85), ha="center", va="center",
             fontsize=8.5, color="0.25")
    return fig


def _ticks(df: pd.DataFrame, group: str, order: list) -> list[str]:
    n = df.groupby(group).size()
    return [f"{pretty(g)}\n(n={int(n.get(g, 0))})" for g in order]


def _finite(df: pd.DataFrame, col: str) -> pd.DataFrame:
    v = pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series(np.nan, index=df.index)
    return df.loc[np.isfinite(v)].assign(**{col: v[np.isfinite(v)]})


# ----------------------------------------------------------------------------------------------
# supporting figures of Tables 3–5


def qq_grid(df: pd.DataFrame, variables: list[str], group: str, order: list | None = None, title: str = ""):
    """Normal Q-Q plot of each variable (rows) in each group (columns)."""
    order = order or ordered_groups(df[group])
    nr, nc = len(variables), max(len(order), 1)
    fig, axes = plt.subplots(nr, nc, figsize=(2.3 * nc + 0.6, 2.2 * nr + 0.6), squeeze=False)
    for i, v in enumerate(variables):
        d = _finite(df, v)
        for j, g in enumerate(order):
            ax = axes[i, j]
            x = np.sort(d.loc[d[group] == g, v].to_numpy(dtype="float64"))
            if len(x) < MIN_N or np.ptp(x) == 0:
                ax.text(0.5, 0.5, f"n={len(x)}: no Q-Q plot" if len(x) < MIN_N else "constant values",
                        ha="center", va="center", transform=ax.transAxes, color="0.4")
            else:
                (osm, osr), (slope, icpt, _) = ss.probplot(x, dist="norm")
                ax.scatter(osm, osr, s=12, color=PALETTE[0], edgecolor="none", alpha=0.85)
                ax.plot(osm, slope * osm + icpt, color=PALETTE[3], lw=1.2)
            if i == 0:
                ax.set_title(f"{pretty(g)} (n={len(x)})", fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{label_of(v)}\nsample quantiles", fontsize=8)
            if i == nr - 1:
                ax.set_xlabel("theoretical quantiles", fontsize=8)
            ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


def box_grid(df: pd.DataFrame, variables: list[str], group: str, order: list | None = None, title: str = "",
             xlabel: str | None = None):
    """Box plot (with runs as points) of each variable across groups: visual check of equal variances."""
    order = order or ordered_groups(df[group])
    nv = len(variables)
    ncol = nv if nv <= 3 else 2
    nrow = -(-nv // ncol)
    w = max(3.2, 0.8 * len(order) + 1.2)
    fig, axes = plt.subplots(nrow, ncol, figsize=(w * ncol, 3.6 * nrow), squeeze=False)
    for ax in axes.flat[nv:]:
        ax.set_visible(False)
    pal = colors(order)
    for ax, v in zip(axes.flat, variables):
        d = _finite(df, v)
        d = d[d[group].isin(order)].copy()
        d["_g"] = pd.Categorical(d[group], categories=order)
        if d.empty:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        else:
            with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib's deprecated `vert`
                warnings.simplefilter("ignore", category=matplotlib.MatplotlibDeprecationWarning)
                sns.boxplot(data=d, x="_g", y=v, hue="_g", order=order, hue_order=order, palette=pal, ax=ax,
                            showfliers=False, legend=False, width=0.6, linewidth=1, dodge=False)
            np.random.seed(0)
            sns.stripplot(data=d, x="_g", y=v, order=order, color="0.15", size=2.5, alpha=0.6, jitter=0.18, ax=ax)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(_ticks(d, group, order), fontsize=8)
        ax.set_xlabel(xlabel if xlabel is not None else label_of(group))
        ax.set_ylabel(label_of(v))
    if title:
        fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# Figure 2: medians per architecture and environment, and the energy–F1 Pareto front

FIG2_PANELS = [
    ("median_energy_per_image_j", "(a) Energy per image (J)"),
    ("median_gpu_usage_pct", "(b) GPU usage (%)"),
    ("median_time_per_image_ms", "(c) Time per image (ms)"),
    ("median_f1", "(d) F1 score"),
]


def tradeoff_bars(tradeoff: pd.DataFrame, env_order: list, arch_order: list, title: str = ""):
    """Figure 2: median energy per image, GPU usage, time per image and F1 per architecture (ascending
    FLOPs) and environment (colour and hatch)."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    pal = colors(env_order)
    nenv = max(len(env_order), 1)
    width = 0.8 / nenv
    for ax, (col, name) in zip(axes.flat, FIG2_PANELS):
        for i, env in enumerate(env_order):
            t = tradeoff[tradeoff["environment"] == env].set_index("architecture")
            xs, ys = [], []
            for j, a in enumerate(arch_order):
                if a in t.index and np.isfinite(t.loc[a, col]):
                    xs.append(j - 0.4 + width * (i + 0.5))
                    ys.append(t.loc[a, col])
            ax.bar(xs, ys, width=width * 0.95, color=pal[env], hatch=HATCHES[i % len(HATCHES)], edgecolor="0.2",
                   linewidth=0.6, label=pretty(env))
        ax.set_xticks(range(len(arch_order)))
        ax.set_xticklabels([pretty(a) for a in arch_order], rotation=20, ha="right")
        ax.set_title(name, loc="left")
        ax.set_ylabel(name.split(") ", 1)[1])
        if col == "median_f1":
            lo = np.nanmin(tradeoff[col]) if tradeoff[col].notna().any() else 0
            ax.set_ylim(max(0.0, lo - 0.05), 1.0)
    h, lab = axes[0, 0].get_legend_handles_labels()
    fig.legend(h, lab, loc="upper center", ncol=nenv, bbox_to_anchor=(0.5, 1.0), title="Training environment")
    fig.suptitle(title or "Medians per architecture (ascending FLOPs) and training environment", y=1.05,
                 fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def pareto_plot(tradeoff: pd.DataFrame, env_order: list, arch_order: list):
    """Median energy per image vs median F1 per environment × architecture, with the Pareto front."""
    fig, ax = plt.subplots(figsize=(8, 5.5))
    pal = colors(env_order)
    mk = {a: MARKERS[i % len(MARKERS)] for i, a in enumerate(arch_order)}
    t = tradeoff.dropna(subset=["median_energy_per_image_j", "median_f1"])
    for r in t.itertuples():
        ax.scatter(r.median_energy_per_image_j, r.median_f1, s=70, color=pal.get(r.environment, "0.5"),
                   marker=mk.get(r.architecture, "o"), edgecolor="black" if r.pareto_all else "none",
                   linewidth=1.2, zorder=3)
    front = t[t["pareto_all"].astype(bool)].sort_values("median_energy_per_image_j")
    if len(front) > 1:
        ax.step(front["median_energy_per_image_j"], front["median_f1"], where="post", color="0.3", lw=1, ls="--",
                zorder=2, label="Pareto front (all)")
    for r in front.itertuples():
        ax.annotate(f"{pretty(r.architecture)} · {pretty(r.environment)}", (r.median_energy_per_image_j, r.median_f1),
                    textcoords="offset points", xytext=(4, 7), fontsize=7, color="0.25", rotation=35,
                    rotation_mode="anchor")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], ls="", marker="s", color=pal[e], markersize=8, label=pretty(e)) for e in env_order]
    handles += [Line2D([], [], ls="", marker=mk[a], color="0.4", markersize=7, label=pretty(a)) for a in arch_order]
    if len(front) > 1:
        handles.append(Line2D([], [], color="0.3", ls="--", label="Pareto front"))
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    ax.set_xlabel("Median energy per image (J)")
    ax.set_ylabel("Median F1 score")
    ax.set_title("Energy–F1 trade-off (outlined: on the Pareto front)")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# Figure 3: energy and GPU usage against FLOPs


def flops_scatter(df: pd.DataFrame, spearman: pd.DataFrame, arch_order: list, env_name: str):
    ys = ["energy_per_image_j", "gpu_usage_pct", "mean_gpu_power_w"]
    fig, axes = plt.subplots(1, len(ys), figsize=(15, 4.4))
    pal = colors(arch_order)
    for ax, y in zip(axes, ys):
        d = _finite(_finite(df, "gflops"), y)
        for a in arch_order:
            s = d[d["architecture"] == a]
            if s.empty:
                continue
            ax.scatter(s["gflops"], s[y], s=14, alpha=0.45, color=pal[a], edgecolor="none")
            ax.scatter([s["gflops"].median()], [s[y].median()], s=80, color=pal[a], edgecolor="black",
                       marker="D", zorder=4, label=f"{pretty(a)} (n={len(s)})")
        if d["gflops"].nunique() >= 2:
            k, b = np.polyfit(d["gflops"], d[y], 1)
            xx = np.linspace(d["gflops"].min(), d["gflops"].max(), 50)
            ax.plot(xx, k * xx + b, color="0.3", lw=1.2, ls="--", label="linear fit (all runs)")
        r = spearman[spearman["y"] == y]
        if len(r) and np.isfinite(r["rho"].iloc[0]):
            ax.text(0.02, 0.97, f"Spearman ρ = {r['rho'].iloc[0]:.2f}, one-sided p = {r['p_value'].iloc[0]:.2g}",
                    transform=ax.transAxes, va="top", fontsize=8,
                    bbox=dict(facecolor="white", edgecolor="0.8", boxstyle="round,pad=0.3"))
        ax.set_xlabel("GFLOPs (forward pass)")
        ax.set_ylabel(label_of(y))
    axes[-1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title="median per architecture")
    fig.suptitle(f"Energy per image, GPU usage and average power against FLOPs ({pretty(env_name)})",
                 fontweight="bold")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# Figure 4: GPU usage against power and energy, with the TDP × usage line


def gpu_usage_plot(df: pd.DataFrame, env_order: list, arch_order: list):
    ne = max(len(env_order), 1)
    fig, axes = plt.subplots(2, ne, figsize=(4.6 * ne + 1.5, 7.2), squeeze=False)
    pal = colors(arch_order)
    for j, env in enumerate(env_order):
        d = df[df["environment"] == env]
        for i, y in enumerate(["mean_gpu_power_w", "energy_per_image_j"]):
            ax = axes[i, j]
            for a in arch_order:
                s = d[d["architecture"] == a]
                if len(s):
                    ax.scatter(s["gpu_usage_pct"], s[y], s=14, alpha=0.7, color=pal[a], edgecolor="none",
                               marker=MARKERS[arch_order.index(a) % len(MARKERS)], label=pretty(a))
            if i == 0:
                tdp = d["max_power_w"].median()
                if np.isfinite(tdp):
                    xx = np.array([0.0, 100.0])
                    ax.plot(xx, tdp * xx / 100.0, color="0.25", lw=1.2, ls="--",
                            label=f"TDP × usage (TDP {tdp:.0f} W)")
                ax.set_title(f"{pretty(env)} (n={len(d)})")
            ax.set_xlabel("GPU usage (%)")
            ax.set_ylabel(label_of(y))
            ax.set_xlim(0, 100)
    h, lab = [], []
    for ax in axes[0]:
        for hh, ll in zip(*ax.get_legend_handles_labels()):
            if ll not in lab and not ll.startswith("TDP"):
                h.append(hh)
                lab.append(ll)
    from matplotlib.lines import Line2D

    h.append(Line2D([], [], color="0.25", ls="--"))
    lab.append("TDP × GPU usage (common estimators)")
    fig.legend(h, lab, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, markerscale=1.8)
    fig.suptitle("GPU usage against average power (top) and energy per image (bottom)", fontweight="bold")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# Figures 5–6: batch and input size


def _facets(df: pd.DataFrame) -> list[tuple]:
    keys = [k for k in ("environment", "dataset") if k in df]
    envs = ordered_groups(df["environment"], ["local_normal_user", "local_ml_engineer", "cloud"])
    out = []
    for e in envs:
        for ds in sorted(df.loc[df["environment"] == e, "dataset"].dropna().unique()) if "dataset" in keys else [None]:
            out.append((e, ds))
    return out


def _lines(ax, d: pd.DataFrame, y: str, sizes: list, pal: dict):
    batches = sorted(d["batch_size"].dropna().unique())
    pos = {b: i for i, b in enumerate(batches)}
    for k, s in enumerate(sizes):
        g = d[d["image_size"] == s].groupby("batch_size")[y].agg(["mean", "std", "size"]).reset_index()
        if g.empty:
            continue
        ax.errorbar(g["batch_size"].map(pos), g["mean"], yerr=g["std"].fillna(0), marker=MARKERS[k % len(MARKERS)],
                    color=pal[s], capsize=3, lw=1.3, ms=5, label=f"{int(s)}×{int(s)} px")
    ax.set_xticks(range(len(batches)))
    ax.set_xticklabels([str(int(b)) for b in batches])
    ax.set_xlabel("Batch size")


def batch_input_plot(df: pd.DataFrame, rows: list[str], title: str):
    """Mean (± SD) of each ``rows`` variable by batch size (x) and input size (colour), one column per
    environment × dataset."""
    facets = _facets(df)
    nc = max(len(facets), 1)
    fig, axes = plt.subplots(len(rows), nc, figsize=(3.6 * nc + 1.5, 3.1 * len(rows) + 0.5), squeeze=False)
    sizes = sorted(df["image_size"].dropna().unique())
    pal = colors(sizes)
    for j, (e, ds) in enumerate(facets):
        d = df[(df["environment"] == e) & ((df["dataset"] == ds) if ds is not None else True)]
        for i, y in enumerate(rows):
            ax = axes[i, j]
            _lines(ax, _finite(d, y), y, sizes, pal)
            if i == 0:
                ax.set_title(f"{pretty(e)} · {pretty(ds)} (n={len(d)})" if ds is not None else pretty(e), fontsize=9)
            ax.set_ylabel(f"Mean {label_of(y)[0].lower()}{label_of(y)[1:]}" if j == 0 else "")
    h, lab = [], []
    for ax in axes.flat:
        for hh, ll in zip(*ax.get_legend_handles_labels()):
            if ll not in lab:
                h.append(hh)
                lab.append(ll)
    fig.legend(h, lab, loc="center left", bbox_to_anchor=(1.0, 0.5), title="Input size", fontsize=8)
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# Figure 7: allocated RAM


def ram_boxes(df: pd.DataFrame, ram_column: str, order: list):
    fig = box_grid(df, ["energy_kj", "duration_min", "ram_used_gb"], ram_column, order,
                   title="Effect of allocated RAM", xlabel="Allocated RAM (GB)")
    for ax, t in zip(fig.axes, ["(a) total energy", "(b) training duration", "(c) average RAM used"]):
        ax.set_title(t, loc="left")
    fig.tight_layout()
    return fig


def draw_or_placeholder(make, *, title: str, reason: str | None, pdf, png, source: str, label: str | None = None,
                        note: str | None = None, log=None) -> None:
    """Draw with ``make()`` and save; a skipped analysis (``reason``) or a drawing error gives a placeholder.

    A figure must never fail its rule: when it cannot be drawn the placeholder says why.
    """
    if reason is None:
        try:
            fig = make()
        except Exception as exc:
            if log is not None:
                log.exception("figure %s failed; writing a placeholder", title)
            fig = placeholder(title, f"the figure could not be drawn: {type(exc).__name__}: {exc}")
    else:
        fig = placeholder(title, reason)
    save(fig, pdf, png, source=source, label=label, note=note)
