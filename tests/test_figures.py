"""Figures: what a reader sees is measured on the rendered figure (text extents from the renderer, the
drawn error-bar segments, the points and boxes), on known tables: the real SEAA 2023 medians, the
synthetic sample's, and tables built here with known confidence intervals."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.text import Text

from dlenergy import SYNTHETIC_LABEL
from dlenergy import figures as F
from dlenergy.estimators.plots import fig9_stabilizing

matplotlib.use("Agg")
plt = F.plt

# Figure 2 medians (environment, architecture, energy per image J, F1, on the Pareto front) as the pipeline
# computes them: on the real SEAA 2023 logs, and on the synthetic sample (where "NASNet Mobile · Local N"
# was printed over "NASNet Mobile · Local ML")
SEAA2023 = [
    ("local_ml_engineer", "mobilenet_v2", 0.0807, 0.9723, True),
    ("local_ml_engineer", "nasnet_mobile", 0.1854, 0.9757, True),
    ("local_ml_engineer", "resnet50", 0.2132, 0.7806, False),
    ("local_ml_engineer", "xception", 0.2678, 0.9822, True),
    ("local_ml_engineer", "vgg16", 0.4189, 0.9862, False),
    ("cloud", "mobilenet_v2", 0.1426, 0.9730, True),
    ("cloud", "nasnet_mobile", 0.3381, 0.9764, False),
    ("cloud", "resnet50", 0.2767, 0.9568, False),
    ("cloud", "xception", 0.3400, 0.9845, True),
    ("cloud", "vgg16", 0.3938, 0.9870, True),
]
SAMPLE = [
    ("local_normal_user", "mobilenet_v2", 0.1038, 0.9666, False),
    ("local_normal_user", "nasnet_mobile", 0.1985, 0.9768, True),
    ("local_ml_engineer", "mobilenet_v2", 0.0794, 0.9716, True),
    ("local_ml_engineer", "nasnet_mobile", 0.2078, 0.9805, True),
    ("local_ml_engineer", "resnet50", 0.2438, 0.9629, False),
    ("local_ml_engineer", "xception", 0.3099, 0.9785, False),
    ("local_ml_engineer", "vgg16", 0.3853, 0.9928, True),
    ("cloud", "mobilenet_v2", 0.1441, 0.9496, False),
    ("cloud", "nasnet_mobile", 0.3467, 0.9824, True),
    ("cloud", "resnet50", 0.2413, 0.9593, False),
    ("cloud", "xception", 0.3401, 0.9800, False),
    ("cloud", "vgg16", 0.3739, 0.9869, True),
]
ARCHS = ["mobilenet_v2", "nasnet_mobile", "resnet50", "xception", "vgg16"]


def tradeoff_table(rows) -> pd.DataFrame:
    t = pd.DataFrame(
        rows, columns=["environment", "architecture", "median_energy_per_image_j", "median_f1", "pareto_all"]
    )
    t["median_gpu_usage_pct"] = 50.0 + 10 * np.arange(len(t)) % 45
    t["median_time_per_image_ms"] = 1.0 + 0.1 * np.arange(len(t))
    return t


def envs_of(t: pd.DataFrame) -> list:
    return list(dict.fromkeys(t["environment"]))


@pytest.fixture(autouse=True)
def _style():
    F.setup()
    yield
    plt.close("all")


def texts_of(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def extent(artist):
    return artist.get_window_extent(artist.get_figure().canvas.get_renderer())


# ---------------------------------------------------------------------------------------------- footer


def curve_and_summary():
    rows = []
    for g, n, shares in (
        ("cloud", 50, [0, 0.14, 0.26, 0.48, 0.6, 0.68, 0.72, 0.84, 0.9, 0.92, 0.96, 0.98, 0.98, 0.98, 1]),
        ("local_ml_engineer", 37, [0, 0.19, 0.32, 0.38, 0.51, 0.65, 0.78, 0.84, 0.86, 0.97, 0.97, 1, 1, 1, 1]),
        ("all", 87, [0, 0.16, 0.28, 0.42, 0.55, 0.66, 0.75, 0.84, 0.88, 0.94, 0.96, 0.99, 0.99, 0.99, 1]),
    ):
        rows += [{"group": g, "epoch": e, "share_stable": s, "n_runs": n} for e, s in enumerate(shares)]
    summary = pd.DataFrame([{"group": "all", "n_runs": 87, "epoch_for_share": 9}])
    return pd.DataFrame(rows), summary


def narrow_figure():
    fig, ax = plt.subplots(figsize=(3.0, 2.2))
    ax.plot([0, 1], [0, 1])
    ax.set_xticks([0, 0.5, 1], ["a long tick label", "another", "third"], rotation=30)  # reaches below the axes
    fig.tight_layout()
    return fig


FIGURES = {
    "fig9 (6.4 in)": lambda: fig9_stabilizing(*curve_and_summary()),
    "narrow, rotated ticks": narrow_figure,
    "placeholder": lambda: F.placeholder("Figure 7", "no allocated-RAM experiment in this source"),
    "fig2 (11 in)": lambda: F.tradeoff_bars(tradeoff_table(SAMPLE), envs_of(tradeoff_table(SAMPLE)), ARCHS),
}


@pytest.mark.parametrize("name", FIGURES)
@pytest.mark.parametrize("label", [SYNTHETIC_LABEL, "SEAA 2023 real measurements"])
def test_footer_overlaps_nothing_at_any_size(name, label):
    fig = FIGURES[name]()
    fig.canvas.draw()  # lays out legends, so that every text has its place
    before = texts_of(fig)
    content = fig.get_tightbbox(fig.canvas.get_renderer()).transformed(fig.dpi_scale_trans)
    foot = F.footer(fig, "sample", label, note="FLUSS m=10, excl. 2, 50 pts/epoch")
    assert foot[0].get_text() == "source: sample · FLUSS m=10, excl. 2, 50 pts/epoch"
    assert foot[1].get_text().endswith(label)
    for t in foot:  # below everything the figure draws
        assert extent(t).y1 <= content.y0 + 0.5
    for dpi in (fig.dpi, 200):  # the renderer's resolution and the saved PNG's
        fig.set_dpi(dpi)
        fig.canvas.draw()
        assert F.overlapping(foot, fig) == []
        assert [pair for pair in F.overlapping(foot + before, fig) if pair[0] in foot or pair[1] in foot] == []


def test_footer_stays_on_one_line_when_there_is_room():
    fig, ax = plt.subplots(figsize=(11, 4))
    left, right = F.footer(fig, "seaa2023", "SEAA 2023 real measurements")
    assert right.get_horizontalalignment() == "right"
    assert abs(extent(left).y1 - extent(right).y1) < 1.0
    fig9 = fig9_stabilizing(*curve_and_summary())
    left, right = F.footer(fig9, "sample", SYNTHETIC_LABEL, note="FLUSS m=10, excl. 2, 50 pts/epoch")
    assert extent(right).y1 < extent(left).y0  # too long for one line on Figure 9: the label goes below


def test_saved_figure_holds_its_footer(tmp_path):
    fig = fig9_stabilizing(*curve_and_summary())
    F.save(fig, tmp_path / "f.pdf", tmp_path / "f.png", source="sample", label=SYNTHETIC_LABEL)
    png = plt.imread(tmp_path / "f.png")
    # the bottom rows of the PNG hold the red label: pixels of its colour (#a6361c) near the bottom edge
    red = (np.abs(png[..., 0] - 0xA6 / 255) < 0.1) & (np.abs(png[..., 1] - 0x36 / 255) < 0.1)
    rows = np.nonzero(red.any(axis=1))[0]
    assert len(rows) and rows.max() > 0.9 * png.shape[0]


# ---------------------------------------------------------------------------------------------- Figure 2


@pytest.mark.parametrize("rows", [SEAA2023, SAMPLE], ids=["seaa2023", "sample"])
def test_pareto_labels_never_overlap(rows):
    t = tradeoff_table(rows)
    fig = F.pareto_plot(t, envs_of(t), ARCHS)
    ax = fig.axes[0]
    labels = [a for a in ax.texts if "·" in a.get_text()]
    front = t[t["pareto_all"]]
    assert sorted(a.get_text() for a in labels) == sorted(
        f"{F.pretty(r.architecture)} · {F.pretty(r.environment)}" for r in front.itertuples()
    )
    for a in labels:  # each label annotates its own point
        r = front[
            [f"{F.pretty(x.architecture)} · {F.pretty(x.environment)}" == a.get_text() for x in front.itertuples()]
        ].iloc[0]
        assert a.xy == pytest.approx((r.median_energy_per_image_j, r.median_f1))
    fig.canvas.draw()
    assert F.overlapping(labels, fig) == []
    assert F.overlapping(labels + [ax.title, ax.xaxis.label, ax.yaxis.label] + ax.get_legend().get_texts(), fig) == []
    frame = ax.get_window_extent()
    points = ax.transData.transform(t[["median_energy_per_image_j", "median_f1"]].to_numpy())
    for a in labels:
        box = extent(a)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
        assert not any(box.contains(x, y) for x, y in points)  # no label over a point


def test_fig2_f1_is_drawn_as_points_and_bars_start_at_zero():
    t = tradeoff_table(SEAA2023)
    fig = F.tradeoff_bars(t, envs_of(t), ARCHS)
    axes = dict(zip([c for c, _ in F.FIG2_PANELS], fig.axes))
    f1 = axes["median_f1"]
    assert [p for p in f1.patches if isinstance(p, Rectangle) and p.get_height() > 0] == []
    drawn = np.sort(np.concatenate([ln.get_ydata() for ln in f1.lines if ln.get_marker() not in (None, "None", "")]))
    assert drawn == pytest.approx(np.sort(t["median_f1"].to_numpy()))
    for col in ("median_energy_per_image_j", "median_gpu_usage_pct", "median_time_per_image_ms"):
        bars = [p for p in axes[col].patches if isinstance(p, Rectangle)]
        assert len(bars) == len(t) and all(p.get_y() == 0 for p in bars)
        assert axes[col].get_ylim()[0] <= 0
        assert np.sort([p.get_height() for p in bars]) == pytest.approx(np.sort(t[col].to_numpy()))


def with_ci(t: pd.DataFrame) -> pd.DataFrame:
    """Known intervals: asymmetric, one not covering its median, one missing (NaN)."""
    t = t.copy()
    for k, col in enumerate(c for c, _ in F.FIG2_PANELS):
        t[f"{col}_ci_low"] = t[col] * (0.9 - 0.01 * k) - 0.001 * np.arange(len(t))
        t[f"{col}_ci_high"] = t[col] * (1.05 + 0.01 * k)
    t.loc[1, "median_f1_ci_low"] = t.loc[1, "median_f1"] * 1.01  # an interval above its median
    t.loc[2, "median_gpu_usage_pct_ci_high"] = np.nan
    return t


def bar_segments(ax) -> list[tuple[float, float, float]]:
    """(x, low, high) of every vertical error bar drawn in ``ax``."""
    out = []
    for c in ax.containers:
        if isinstance(c, ErrorbarContainer):
            for seg in c.lines[2][0].get_segments():
                if len(seg) == 0:  # a NaN error (one run): nothing drawn
                    continue
                (x0, y0), (x1, y1) = seg
                assert x0 == x1
                out.append((x0, min(y0, y1), max(y0, y1)))
    return sorted(out)


def test_fig2_error_bars_are_the_table_intervals():
    t = with_ci(tradeoff_table(SEAA2023))
    envs = envs_of(t)
    fig = F.tradeoff_bars(t, envs, ARCHS)
    width = 0.8 / len(envs)
    x = t["architecture"].map(ARCHS.index) - 0.4 + width * (t["environment"].map(envs.index) + 0.5)
    for ax, (col, _) in zip(fig.axes, F.FIG2_PANELS):
        lo, hi = t[f"{col}_ci_low"], t[f"{col}_ci_high"]
        ok = lo.notna() & hi.notna()
        expected = sorted(zip(x[ok], lo[ok], hi[ok]))
        assert np.array(bar_segments(ax)) == pytest.approx(np.array(expected)), col
        if col != "median_f1":  # each error bar stands on its bar
            centres = sorted(p.get_x() + p.get_width() / 2 for p in ax.patches if isinstance(p, Rectangle))
            assert centres == pytest.approx(sorted(x))
    assert F.CI_LEGEND in [tx.get_text() for tx in fig.legends[0].get_texts()]


def test_fig2_without_ci_columns_draws_no_error_bars():
    t = tradeoff_table(SAMPLE)
    fig = F.tradeoff_bars(t, envs_of(t), ARCHS)
    assert all(bar_segments(ax) == [] for ax in fig.axes)
    assert F.CI_LEGEND not in [tx.get_text() for tx in fig.legends[0].get_texts()]
    fig = F.pareto_plot(t, envs_of(t), ARCHS)
    assert not any(isinstance(c, ErrorbarContainer) for c in fig.axes[0].containers)


def test_pareto_error_bars_are_the_table_intervals():
    t = with_ci(tradeoff_table(SAMPLE))
    fig = F.pareto_plot(t, envs_of(t), ARCHS)
    ax = fig.axes[0]
    horizontal, vertical = [], []
    for c in ax.containers:
        if isinstance(c, ErrorbarContainer):
            for (x0, y0), (x1, y1) in c.lines[2][0].get_segments():
                (horizontal if y0 == y1 else vertical).append((x0, y0, x1, y1) if y0 == y1 else (x0, y0, y1))
    e, f1 = t["median_energy_per_image_j"], t["median_f1"]
    expect_h = sorted(zip(t["median_energy_per_image_j_ci_low"], f1, t["median_energy_per_image_j_ci_high"], f1))
    expect_v = sorted(zip(e, t["median_f1_ci_low"], t["median_f1_ci_high"]))
    assert np.array(sorted(horizontal)) == pytest.approx(np.array(expect_h))
    assert np.array(sorted((x, min(a, b), max(a, b)) for x, a, b in vertical)) == pytest.approx(
        np.array([(x, min(a, b), max(a, b)) for x, a, b in expect_v])
    )
    assert F.CI_LEGEND in [tx.get_text() for tx in ax.get_legend().get_texts()]
    labels = [a for a in ax.texts if "·" in a.get_text()]
    fig.canvas.draw()
    assert F.overlapping(labels, fig) == []


# ---------------------------------------------------------------------------------------------- Figures 6, 7


def batch_runs() -> pd.DataFrame:
    rows, k = [], 0
    for batch in (32, 256):
        for size in (75, 128):
            n = 1 if (batch, size) == (256, 128) else 3
            for _ in range(n):
                k += 1
                rows.append(
                    {
                        "environment": "cloud",
                        "dataset": "caltech101",
                        "batch_size": batch,
                        "image_size": size,
                        "mean_gpu_power_w": 100.0 + batch / 8 + size + 7.0 * (k % 3),
                        "duration_min": 10.0 - batch / 64 + (k % 3),
                    }
                )
    return pd.DataFrame(rows)


def test_fig6_error_bars_are_one_sd_and_the_legend_says_so():
    df = batch_runs()
    fig = F.batch_input_plot(df, ["mean_gpu_power_w", "duration_min"], "Figure 6")
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts()).replace("\n", " ")
    assert "± 1 SD over the runs" in legend and "none for a single run" in legend
    for ax, y in zip(fig.axes, ["mean_gpu_power_w", "duration_min"]):
        g = df.groupby(["image_size", "batch_size"])[y].agg(["mean", "std", "size"])
        expected = sorted((float(b == 256), m - s, m + s) for (_, b), (m, s, n) in g.iterrows() if n >= 2)
        assert np.array(bar_segments(ax)) == pytest.approx(np.array(expected))  # single-run point: no bar


def test_fig7_shows_every_run_and_boxes_only_from_five_runs():
    ram = [8] * 2 + [16] * 4 + [32] * 6
    df = pd.DataFrame(
        {
            "ram_gb": ram,
            "energy_kj": 100.0 + np.arange(12) ** 1.5,
            "duration_min": 9.0 + np.arange(12) % 4,
            "ram_used_gb": np.array(ram) * 0.6,
        }
    )
    fig = F.ram_boxes(df, "ram_gb", [8, 16, 32])
    for ax, col in zip(fig.axes, ["energy_kj", "duration_min", "ram_used_gb"]):
        pts = np.concatenate(
            [np.asarray(c.get_offsets(), dtype="float64") for c in ax.collections if isinstance(c, PathCollection)]
        )
        assert len(pts) == len(df)
        assert np.sort(pts[:, 1]) == pytest.approx(np.sort(df[col].to_numpy()))
        assert len([p for p in ax.patches if isinstance(p, PathPatch)]) == 1  # the 6-run group only
        medians = [seg for c in ax.collections if not isinstance(c, PathCollection) for seg in c.get_segments()]
        assert sorted(s[0][1] for s in medians) == pytest.approx(
            sorted(df.loc[df["ram_gb"] == g, col].median() for g in (8, 16))
        )
