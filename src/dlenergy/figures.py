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
import matplotlib.transforms
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
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
    plt.rcParams.update(
        {
            "pdf.fonttype": 42,
            "ps.fonttype": 42,
            "savefig.dpi": 200,
            "savefig.bbox": "tight",
            "axes.titleweight": "bold",
            "axes.titlesize": 11,
            "legend.frameon": False,
            "svg.hashsalt": "dlenergy",
        }
    )


def colors(keys: list) -> dict:
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}


#: gap (points) between the figure's content and its footer, and between footer parts
FOOTER_GAP_PT = 4.0


def _to_points(fig, pixels: float) -> float:
    return pixels * 72.0 / fig.dpi


def footer(fig, source: str, label: str | None, note: str | None = None) -> list:
    """Write the footer below everything the figure draws: the source (and ``note``) at the left, the
    data label at the right, or on a line of its own under the source when the two would overlap.

    The footer is placed from the figure's tight bounding box (so it never overprints tick labels or
    legends that reach below the axes) and from the rendered widths of its two parts.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A finished figure (laid out: nothing moves afterwards).
    source : str
        The pipeline source, e.g. ``"sample"``.
    label : str or None
        The dataset's label; a synthetic one is written as a bold red ``SYNTHETIC DATA — …``.
    note : str, optional
        Appended to the source part.

    Returns
    -------
    list of matplotlib.text.Text
        The footer's texts, source part first.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(3, 2))
    >>> texts = footer(fig, "sample", "synthetic sample (simulated data, not real measurements)")
    >>> [t.get_text()[:14] for t in texts]
    ['source: sample', 'SYNTHETIC DATA']
    >>> overlapping(texts, fig)
    []
    """
    from matplotlib.transforms import offset_copy

    renderer = fig.canvas.get_renderer()
    content = fig.get_tightbbox(renderer)  # inches, before the footer exists
    w, h = fig.get_size_inches()
    x0, x1, y0 = content.x0 / w, content.x1 / w, content.y0 / h
    below = offset_copy(fig.transFigure, fig=fig, y=-FOOTER_GAP_PT, units="points")
    parts = [f"source: {source}", *([note] if note else [])]
    texts = [fig.text(x0, y0, " · ".join(parts), ha="left", va="top", fontsize=7, color="0.35", transform=below)]
    if label:
        synthetic = "synthetic" in label.lower() or "simulated" in label.lower()
        right = fig.text(
            x1,
            y0,
            f"{'SYNTHETIC DATA — ' if synthetic else 'data: '}{label}",
            ha="right",
            va="top",
            fontsize=8 if synthetic else 7,
            color="#a6361c" if synthetic else "0.35",
            fontweight="bold" if synthetic else "normal",
            transform=below,
        )
        texts.append(right)
        left_box, right_box = (t.get_window_extent(renderer) for t in texts)
        if _to_points(fig, right_box.x0 - left_box.x1) < 2 * FOOTER_GAP_PT:  # would touch: a line of its own
            down = 2 * FOOTER_GAP_PT + _to_points(fig, left_box.height)
            right.set_transform(offset_copy(fig.transFigure, fig=fig, y=-down, units="points"))
            right.set_x(x0)
            right.set_horizontalalignment("left")
    return texts


def _text_extent(artist, renderer):
    """Window extent of ``artist``; of an annotation's text alone, without its leader line."""
    import matplotlib.text

    if isinstance(artist, matplotlib.text.Annotation):
        artist.update_positions(renderer)
        return matplotlib.text.Text.get_window_extent(artist, renderer)
    return artist.get_window_extent(renderer)


def overlapping(artists: list, fig=None, pad_pt: float = 0.0) -> list[tuple]:
    """Pairs of ``artists`` (texts, patches, ...) whose rendered bounding boxes overlap.

    ``pad_pt`` grows every box by that many points first (a minimum clearance).  Invisible artists
    and empty texts are ignored; an annotation counts with its text only (not its leader line).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plt.figure()
    >>> a, b = fig.text(0.1, 0.5, "first"), fig.text(0.1, 0.5, "second")
    >>> len(overlapping([a, b], fig))
    1
    """
    fig = fig or artists[0].get_figure()
    renderer = fig.canvas.get_renderer()
    pad = pad_pt * fig.dpi / 72.0
    live = [a for a in artists if a.get_visible() and (not hasattr(a, "get_text") or a.get_text())]
    boxes = [_text_extent(a, renderer).padded(pad) for a in live]
    return [
        (live[i], live[j]) for i in range(len(live)) for j in range(i + 1, len(live)) if boxes[i].overlaps(boxes[j])
    ]


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
    fig.patches.append(
        matplotlib.patches.Rectangle(
            (0.01, 0.04), 0.98, 0.92, transform=fig.transFigure, fill=False, edgecolor="0.8", linewidth=0.8
        )
    )
    fig.text(0.5, 0.72, title, ha="center", va="center", fontsize=13, fontweight="bold")
    fig.text(
        0.5,
        0.38,
        "Not computed for this source:\n" + textwrap.fill(reason, 85),
        ha="center",
        va="center",
        fontsize=8.5,
        color="0.25",
    )
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
                ax.text(
                    0.5,
                    0.5,
                    f"n={len(x)}: no Q-Q plot" if len(x) < MIN_N else "constant values",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    color="0.4",
                )
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


#: fewest runs for which a group gets a box; smaller groups show their runs and a median line only
MIN_BOX_N = 5


def _boxes_and_points(ax, d: pd.DataFrame, v: str, order: list, pal: dict) -> None:
    """Every run as a point; a box (quartiles, whiskers to 1.5 IQR) for groups of >= MIN_BOX_N runs,
    a median line for smaller ones."""
    n = d.groupby("_g", observed=False).size()
    big = [g for g in order if n.get(g, 0) >= MIN_BOX_N]
    if big:
        with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib's deprecated `vert`
            warnings.simplefilter("ignore", category=matplotlib.MatplotlibDeprecationWarning)
            sns.boxplot(
                data=d[d["_g"].isin(big)],
                x="_g",
                y=v,
                hue="_g",
                order=order,
                hue_order=order,
                palette=pal,
                ax=ax,
                showfliers=False,
                legend=False,
                width=0.6,
                linewidth=1,
                dodge=False,
            )
    for i, g in enumerate(order):
        if 0 < n.get(g, 0) < MIN_BOX_N:
            ax.hlines(d.loc[d["_g"] == g, v].median(), i - 0.25, i + 0.25, color=pal[g], lw=2.2, zorder=2)
    np.random.seed(0)
    sns.stripplot(data=d, x="_g", y=v, order=order, color="0.15", size=3.5, alpha=0.75, jitter=0.16, ax=ax, zorder=3)


def box_grid(
    df: pd.DataFrame,
    variables: list[str],
    group: str,
    order: list | None = None,
    title: str = "",
    xlabel: str | None = None,
):
    """Every run as a point, per variable (panels) and group (x), with a box for each group of at least
    :data:`MIN_BOX_N` runs (a median line for smaller ones): the visual check of equal variances.

    Examples
    --------
    >>> d = pd.DataFrame({"ram": [8] * 3 + [16] * 6, "energy_kj": [1.0, 1.2, 1.1, 2, 2.1, 2.3, 1.9, 2.2, 2.0]})
    >>> fig = box_grid(d, ["energy_kj"], "ram")
    >>> from matplotlib.collections import PathCollection
    >>> sum(len(c.get_offsets()) for c in fig.axes[0].collections if isinstance(c, PathCollection))  # every run
    9
    """
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
            _boxes_and_points(ax, d, v, order, pal)
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
#: Figure 2 panels drawn as points (a dot plot), not bars: their axis does not start at 0
FIG2_POINT_PANELS = ("median_f1",)
#: suffixes of a median column's confidence-interval columns in the trade-off table
CI_SUFFIXES = ("_ci_low", "_ci_high")
CI_LEGEND = "bootstrap 95 % CI of the median"


def ci_bounds(table: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The confidence interval of ``col`` (columns ``col_ci_low``, ``col_ci_high``) as two arrays, or
    ``None`` when the table has no such columns.

    Examples
    --------
    >>> t = pd.DataFrame({"median_f1": [0.9], "median_f1_ci_low": [0.88], "median_f1_ci_high": [0.93]})
    >>> ci_bounds(t, "median_f1")
    (array([0.88]), array([0.93]))
    >>> ci_bounds(t, "median_gpu_usage_pct") is None
    True
    """
    lo, hi = (f"{col}{s}" for s in CI_SUFFIXES)
    if lo not in table or hi not in table:
        return None
    return (
        pd.to_numeric(table[lo], errors="coerce").to_numpy(dtype="float64"),
        pd.to_numeric(table[hi], errors="coerce").to_numpy(dtype="float64"),
    )


def interval_bars(ax, pos, lo, hi, *, horizontal: bool = False, color="0.15", **kw):
    """Error bars spanning exactly ``lo``..``hi`` at positions ``pos`` (vertical; ``horizontal``: along x).

    Drawn from the interval's centre and half-width, so a bound on either side of the point estimate
    (an asymmetric or even non-covering interval) is drawn where it is.  Non-finite bounds draw nothing.
    Returns the ``ErrorbarContainer``, or ``None`` when nothing is finite.
    """
    pos, lo, hi = (np.asarray(v, dtype="float64") for v in (pos, lo, hi))
    ok = np.isfinite(pos) & np.isfinite(lo) & np.isfinite(hi)
    if not ok.any():
        return None
    mid, half = (lo[ok] + hi[ok]) / 2, np.abs(hi[ok] - lo[ok]) / 2
    xy, err = ((mid, pos[ok]), {"xerr": half}) if horizontal else ((pos[ok], mid), {"yerr": half})
    return ax.errorbar(
        *xy,
        **err,
        fmt="none",
        ecolor=color,
        elinewidth=kw.pop("lw", 0.9),
        capsize=kw.pop("capsize", 2.5),
        zorder=kw.pop("zorder", 4),
        **kw,
    )


def _fig2_panel(ax, tradeoff: pd.DataFrame, col: str, env_order: list, arch_order: list) -> bool:
    """One panel of Figure 2: bars (dots for F1) per architecture × environment; True if CIs drawn."""
    pal, width = colors(env_order), 0.8 / max(len(env_order), 1)
    points, drew_ci = col in FIG2_POINT_PANELS, False
    for i, env in enumerate(env_order):
        t = tradeoff[(tradeoff["environment"] == env) & tradeoff["architecture"].isin(arch_order)]
        t = t.assign(_x=t["architecture"].map({a: j for j, a in enumerate(arch_order)}) - 0.4 + width * (i + 0.5))
        t = t[np.isfinite(pd.to_numeric(t[col], errors="coerce"))]
        if points:
            ax.plot(
                t["_x"],
                t[col],
                ls="",
                marker=MARKERS[i % len(MARKERS)],
                ms=7,
                color=pal[env],
                markeredgecolor="0.2",
                markeredgewidth=0.6,
                zorder=3,
                label=pretty(env),
            )
        else:
            ax.bar(
                t["_x"],
                t[col],
                width=width * 0.95,
                color=pal[env],
                hatch=HATCHES[i % len(HATCHES)],
                edgecolor="0.2",
                linewidth=0.6,
                label=pretty(env),
            )
        ci = ci_bounds(t, col)
        if ci is not None and interval_bars(ax, t["_x"], *ci) is not None:
            drew_ci = True
    if points:  # a dot plot: the axis need not start at 0; it shows every point and its interval
        ax.margins(y=0.15)
        ax.grid(axis="x", visible=False)
    return drew_ci


def tradeoff_bars(tradeoff: pd.DataFrame, env_order: list, arch_order: list, title: str = ""):
    """Figure 2: median energy per image, GPU usage, time per image (bars, from 0) and F1 (points) per
    architecture (ascending FLOPs) and environment (colour, hatch and marker).

    Where the table has ``X_ci_low``/``X_ci_high`` for a median column ``X``, the panel draws that
    interval as error bars (and the legend says what they are).

    Examples
    --------
    >>> t = pd.DataFrame({"environment": ["cloud"], "architecture": ["vgg16"], "median_energy_per_image_j": [0.4],
    ...                   "median_gpu_usage_pct": [90.0], "median_time_per_image_ms": [2.0], "median_f1": [0.95]})
    >>> fig = tradeoff_bars(t, ["cloud"], ["vgg16"])
    >>> [ax.get_title(loc="left") for ax in fig.axes]
    ['(a) Energy per image (J)', '(b) GPU usage (%)', '(c) Time per image (ms)', '(d) F1 score']
    """
    from matplotlib.legend_handler import HandlerTuple

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    drew_ci = False
    for ax, (col, name) in zip(axes.flat, FIG2_PANELS):
        drew_ci |= _fig2_panel(ax, tradeoff, col, env_order, arch_order)
        ax.set_xticks(range(len(arch_order)))
        ax.set_xticklabels([pretty(a) for a in arch_order], rotation=20, ha="right")
        ax.set_title(name, loc="left")
        ax.set_ylabel(name.split(") ", 1)[1])
    pal = colors(env_order)
    handles = [
        (
            matplotlib.patches.Patch(facecolor=pal[e], hatch=HATCHES[i % len(HATCHES)], edgecolor="0.2"),
            Line2D([], [], ls="", marker=MARKERS[i % len(MARKERS)], color=pal[e], markeredgecolor="0.2"),
        )
        for i, e in enumerate(env_order)
    ]
    labels = [pretty(e) for e in env_order]
    if drew_ci:
        handles.append(Line2D([], [], color="0.15", marker="|", markersize=12, ls="", markeredgewidth=1.2))
        labels.append(CI_LEGEND)
    fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=len(handles),
        bbox_to_anchor=(0.5, 1.0),
        title="Training environment",
        handler_map={tuple: HandlerTuple(ndivide=None, pad=0.6)},
    )
    fig.suptitle(
        title or "Medians per architecture (ascending FLOPs) and training environment", y=1.05, fontweight="bold"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


#: label positions tried around a point (unit directions, in order of preference) and distances (points)
LABEL_DIRECTIONS = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
LABEL_RADII_PT = (6.0, 14.0, 24.0, 36.0, 50.0, 66.0, 84.0)
#: least space (points) between two placed labels
LABEL_CLEARANCE_PT = 2.0


def _overlap_area(box, others) -> float:
    """Area of ``box`` over the boxes ``others``."""
    area = 0.0
    for o in others:
        i = matplotlib.transforms.Bbox.intersection(box, o)
        area += i.width * i.height if i is not None else 0.0
    return area


def _outside_area(box, frame) -> float:
    inside = matplotlib.transforms.Bbox.intersection(box, frame)
    return box.width * box.height - (inside.width * inside.height if inside is not None else 0.0)


def _labelled(ax, xy, text: str, offset, leader: bool, **kw):
    ux, uy = np.sign(offset[0]), np.sign(offset[1])
    ha = {1: "left", -1: "right", 0: "center"}[int(ux)]
    va = {1: "bottom", -1: "top", 0: "center"}[int(uy)]
    arrow = dict(arrowstyle="-", color="0.45", lw=0.6, shrinkA=0.5, shrinkB=5) if leader else None
    return ax.annotate(text, xy, xytext=offset, textcoords="offset points", ha=ha, va=va, arrowprops=arrow, **kw)


def _best_offset(ax, point, text: str, hard: list, soft: list, frame, **kw) -> tuple:
    """The free (else least covering) label position around ``point``: (cost, offset, leader, box).

    Covering a ``hard`` box (a point, a placed label) or leaving the axes costs far more than
    covering a ``soft`` one (a line, an error bar)."""
    renderer, best = ax.figure.canvas.get_renderer(), None
    for radius in LABEL_RADII_PT:
        for ux, uy in LABEL_DIRECTIONS:
            offset = (ux * radius, uy * radius * (0.6 if ux else 1.0))
            ann = _labelled(ax, point, text, offset, False, **kw)
            box = ann.get_window_extent(renderer)
            ann.remove()
            cost = 1e3 * (_overlap_area(box, hard) + _outside_area(box, frame)) + _overlap_area(box, soft)
            if best is None or cost < best[0]:
                best = (cost, offset, radius > LABEL_RADII_PT[0], box)
            if cost == 0:
                return best
    return best


def place_labels(ax, xy, texts: list[str], obstacles=(), soft=(), marker_pt: float = 6.0, **kw) -> list:
    """Label the data points ``xy`` with ``texts``: each label clear of the others, of every point and
    of the ``obstacles`` (display-space ``Bbox`` of markers), inside the axes, and clear of the ``soft``
    boxes (lines, error bars) wherever a position allows.

    Positions around each point are tried nearest first (:data:`LABEL_DIRECTIONS` ×
    :data:`LABEL_RADII_PT`); the first free one wins, else the one covering least.  A label away from
    its point gets a leader line.  Place labels after the layout is final (``tight_layout``).

    Returns
    -------
    list of matplotlib.text.Annotation

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.scatter([1, 1.001], [1, 1.001])
    >>> labels = place_labels(ax, [(1, 1), (1.001, 1.001)], ["a long first label", "a long second label"])
    >>> overlapping(labels)
    []
    """
    ax.get_xlim(), ax.get_ylim()  # brings pending autoscaling into transData
    frame = ax.get_window_extent(ax.figure.canvas.get_renderer())
    r = marker_pt * ax.figure.dpi / 72.0
    hard = [
        matplotlib.transforms.Bbox.from_extents(x - r, y - r, x + r, y + r)
        for x, y in ax.transData.transform(np.asarray(xy, dtype="float64").reshape(-1, 2))
    ] + list(obstacles)
    kw = {"fontsize": 7.5, "color": "0.2", **kw}
    out = []
    for point, text in zip(xy, texts):
        _, offset, leader, box = _best_offset(ax, point, text, hard, list(soft), frame, **kw)
        out.append(_labelled(ax, point, text, offset, leader, **kw))
        hard.append(box.padded(LABEL_CLEARANCE_PT * ax.figure.dpi / 72.0))
    return out


def _segment_boxes(ax, segments, pad_pt: float = 1.5) -> list:
    """Display-space boxes of axis-aligned data segments ``[((x0, y0), (x1, y1)), ...]`` (label obstacles)."""
    ax.get_xlim(), ax.get_ylim()
    pad = pad_pt * ax.figure.dpi / 72.0
    boxes = []
    for a, b in segments:
        (x0, y0), (x1, y1) = ax.transData.transform([a, b])
        if np.isfinite([x0, y0, x1, y1]).all():
            boxes.append(
                matplotlib.transforms.Bbox.from_extents(
                    min(x0, x1) - pad, min(y0, y1) - pad, max(x0, x1) + pad, max(y0, y1) + pad
                )
            )
    return boxes


def _pareto_intervals(ax, t: pd.DataFrame, pal: dict) -> list:
    """Error bars of the energy (x) and F1 (y) CIs where the table has them; their segments."""
    segments = []
    for col, horizontal in (("median_energy_per_image_j", True), ("median_f1", False)):
        ci = ci_bounds(t, col)
        if ci is None:
            continue
        other = t["median_f1" if horizontal else "median_energy_per_image_j"].to_numpy(dtype="float64")
        for env, idx in t.groupby("environment", sort=False).indices.items():
            interval_bars(
                ax,
                other[idx],
                ci[0][idx],
                ci[1][idx],
                horizontal=horizontal,
                color=pal.get(env, "0.5"),
                lw=0.8,
                capsize=2,
                zorder=2,
                alpha=0.8,
            )
        for o, lo, hi in zip(other, *ci):
            segments.append(((lo, o), (hi, o)) if horizontal else ((o, lo), (o, hi)))
    return segments


def _front_segments(fx: np.ndarray, fy: np.ndarray) -> list:
    """The horizontal and vertical segments of the step line through the front (``where="post"``)."""
    return [((fx[i], fy[i]), (fx[i + 1], fy[i])) for i in range(len(fx) - 1)] + [
        ((fx[i + 1], fy[i]), (fx[i + 1], fy[i + 1])) for i in range(len(fx) - 1)
    ]


def _point_boxes(ax, x, y, marker_pt: float = 6.0) -> list:
    r = marker_pt * ax.figure.dpi / 72.0
    xy = ax.transData.transform(np.column_stack([x, y]).astype("float64").reshape(-1, 2))
    return [matplotlib.transforms.Bbox.from_extents(a - r, b - r, a + r, b + r) for a, b in xy]


def pareto_plot(tradeoff: pd.DataFrame, env_order: list, arch_order: list):
    """Median energy per image vs median F1 per environment × architecture, with the Pareto front.

    Points on the front are outlined and labelled, each label clear of the others and of every point,
    and of the lines and error bars wherever there is room (:func:`place_labels`); where the table has CI columns (``…_ci_low``,
    ``…_ci_high``) of the energy and F1 medians, they are drawn as error bars.
    """
    fig, ax = plt.subplots(figsize=(8, 5.5))
    pal = colors(env_order)
    mk = {a: MARKERS[i % len(MARKERS)] for i, a in enumerate(arch_order)}
    t = tradeoff.dropna(subset=["median_energy_per_image_j", "median_f1"]).reset_index(drop=True)
    for r in t.itertuples():
        ax.scatter(
            r.median_energy_per_image_j,
            r.median_f1,
            s=70,
            color=pal.get(r.environment, "0.5"),
            marker=mk.get(r.architecture, "o"),
            edgecolor="black" if r.pareto_all else "none",
            linewidth=1.2,
            zorder=3,
        )
    segments = _pareto_intervals(ax, t, pal)
    drew_ci = bool(segments)
    front = t[t["pareto_all"].astype(bool)].sort_values("median_energy_per_image_j")
    fx, fy = front["median_energy_per_image_j"].to_numpy(), front["median_f1"].to_numpy()
    if len(front) > 1:
        ax.step(fx, fy, where="post", color="0.3", lw=1, ls="--", zorder=2)
        segments += _front_segments(fx, fy)
    handles = [Line2D([], [], ls="", marker="s", color=pal[e], markersize=8, label=pretty(e)) for e in env_order]
    handles += [Line2D([], [], ls="", marker=mk[a], color="0.4", markersize=7, label=pretty(a)) for a in arch_order]
    if len(front) > 1:
        handles.append(Line2D([], [], color="0.3", ls="--", label="Pareto front"))
    if drew_ci:
        handles.append(Line2D([], [], color="0.3", marker="|", markersize=10, ls="", label=CI_LEGEND))
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    ax.set_xlabel("Median energy per image (J)")
    ax.set_ylabel("Median F1 score")
    ax.set_title("Energy–F1 trade-off (outlined and labelled: on the Pareto front)")
    ax.margins(x=0.12, y=0.12)
    fig.tight_layout()  # labels are placed in display space: the layout must not change afterwards
    rest = t[~t.index.isin(front.index)]
    place_labels(
        ax,
        list(zip(fx, fy)),
        [f"{pretty(r.architecture)} · {pretty(r.environment)}" for r in front.itertuples()],
        obstacles=_point_boxes(ax, rest["median_energy_per_image_j"], rest["median_f1"]),
        soft=_segment_boxes(ax, segments),
    )
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
            ax.scatter(
                [s["gflops"].median()],
                [s[y].median()],
                s=80,
                color=pal[a],
                edgecolor="black",
                marker="D",
                zorder=4,
                label=f"{pretty(a)} (n={len(s)})",
            )
        if d["gflops"].nunique() >= 2:
            k, b = np.polyfit(d["gflops"], d[y], 1)
            xx = np.linspace(d["gflops"].min(), d["gflops"].max(), 50)
            ax.plot(xx, k * xx + b, color="0.3", lw=1.2, ls="--", label="linear fit (all runs)")
        r = spearman[spearman["y"] == y]
        if len(r) and np.isfinite(r["rho"].iloc[0]):
            ax.text(
                0.02,
                0.97,
                f"Spearman ρ = {r['rho'].iloc[0]:.2f}, one-sided p = {r['p_value'].iloc[0]:.2g}",
                transform=ax.transAxes,
                va="top",
                fontsize=8,
                bbox=dict(facecolor="white", edgecolor="0.8", boxstyle="round,pad=0.3"),
            )
        ax.set_xlabel("GFLOPs (forward pass)")
        ax.set_ylabel(label_of(y))
    axes[-1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title="median per architecture")
    fig.suptitle(f"Energy per image, GPU usage and average power against FLOPs ({pretty(env_name)})", fontweight="bold")
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
                    ax.scatter(
                        s["gpu_usage_pct"],
                        s[y],
                        s=14,
                        alpha=0.7,
                        color=pal[a],
                        edgecolor="none",
                        marker=MARKERS[arch_order.index(a) % len(MARKERS)],
                        label=pretty(a),
                    )
            if i == 0:
                tdp = d["max_power_w"].median()
                if np.isfinite(tdp):
                    xx = np.array([0.0, 100.0])
                    ax.plot(xx, tdp * xx / 100.0, color="0.25", lw=1.2, ls="--", label=f"TDP × usage (TDP {tdp:.0f} W)")
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


#: what the error bars of Figures 5 and 6 are (legend and caption)
SD_LEGEND = "error bars: ± 1 SD over the runs at that point (none for a single run)"


def _lines(ax, d: pd.DataFrame, y: str, sizes: list, pal: dict):
    """Mean ± 1 SD of ``y`` per batch size (x) for each input size; no error bar where one run."""
    batches = sorted(d["batch_size"].dropna().unique())
    pos = {b: i for i, b in enumerate(batches)}
    for k, s in enumerate(sizes):
        g = d[d["image_size"] == s].groupby("batch_size")[y].agg(["mean", "std", "size"]).reset_index()
        if g.empty:
            continue
        ax.errorbar(
            g["batch_size"].map(pos),
            g["mean"],
            yerr=g["std"].where(g["size"] >= 2),
            marker=MARKERS[k % len(MARKERS)],
            color=pal[s],
            capsize=3,
            lw=1.3,
            ms=5,
            label=f"{int(s)}×{int(s)} px",
        )
    ax.set_xticks(range(len(batches)))
    ax.set_xticklabels([str(int(b)) for b in batches])
    ax.set_xlabel("Batch size")


def batch_input_plot(df: pd.DataFrame, rows: list[str], title: str):
    """Mean (± 1 SD over runs, :data:`SD_LEGEND`) of each ``rows`` variable by batch size (x) and input
    size (colour), one column per environment × dataset."""
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
    h.append(Line2D([], [], color="0.3", marker="|", markersize=10, markeredgewidth=1.2, ls=""))
    lab.append(textwrap.fill(SD_LEGEND, 26))
    fig.legend(h, lab, loc="center left", bbox_to_anchor=(1.0, 0.5), title="Input size (mean)", fontsize=8)
    fig.suptitle(title, fontweight="bold")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# Figure 7: allocated RAM


def ram_boxes(df: pd.DataFrame, ram_column: str, order: list):
    fig = box_grid(
        df,
        ["energy_kj", "duration_min", "ram_used_gb"],
        ram_column,
        order,
        title="Effect of allocated RAM",
        xlabel="Allocated RAM (GB)",
    )
    for ax, t in zip(fig.axes, ["(a) total energy", "(b) training duration", "(c) average RAM used"]):
        ax.set_title(t, loc="left")
    fig.tight_layout()
    return fig


def draw_or_placeholder(
    make,
    *,
    title: str,
    reason: str | None,
    pdf,
    png,
    source: str,
    label: str | None = None,
    note: str | None = None,
    log=None,
) -> None:
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
