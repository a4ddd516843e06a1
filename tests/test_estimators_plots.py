"""Figures 8-11 of the estimators (``dlenergy.estimators.plots``): what each figure draws, read back from
matplotlib's artists (the lines' data, the scatter offsets, the box medians, titles, legends, axis limits
and scales), on small tables built here whose expected figures are worked out by hand in the comments.
Only the Snakemake end-to-end run drew these figures before; these tests pin what a reader sees."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from scipy.stats import linregress

from dlenergy.estimators.plots import (
    fig8_epoch_duration,
    fig9_stabilizing,
    fig10_online,
    fig11_predicted_vs_true,
)
from dlenergy.figures import MARKERS, PALETTE, plt

matplotlib.use("Agg")

RUN_COLS = ["run_id", "environment", "architecture", "dataset", "batch_size", "image_size"]
DOGS = {"architecture": "inception_v3", "dataset": "stanford_dogs"}


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def xy(line) -> list:
    return line.get_xydata().tolist()


def near(line, expected) -> bool:
    """The line's (x, y) points equal ``expected`` up to rounding."""
    return np.allclose(line.get_xydata(), expected, rtol=1e-12, atol=1e-12)


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def box_medians(ax, envs: list[str]) -> dict:
    """{(x tick label, environment): median} of the drawn boxes (seaborn: one container per hue level, in
    hue order; a median line spans its box, so its centre is the box's x position)."""
    ticks = {round(float(x)): t.get_text() for x, t in zip(ax.get_xticks(), ax.get_xticklabels())}
    out = {}
    for env, cont in zip(envs, ax.containers, strict=True):
        for med in cont.medians:
            (x0, y0), (x1, y1) = med.get_xydata()
            assert y0 == y1
            out[(ticks[round((x0 + x1) / 2)], env)] = y0
    return out


# ----------------------------------------------------------------------------------------- Figure 8


def fig8_tables():
    runs = pd.DataFrame(
        [
            ("r1", "cloud", "inception_v3", "stanford_dogs", 16, 224),
            ("r2", "local_ml_engineer", "inception_v3", "stanford_dogs", 8, 224),
            ("r3", "cloud", "inception_v3", "stanford_dogs", 16, 96),
            ("r4", "cloud", "vgg16", "caltech101", 32, 128),  # not in the subset
            ("r5", "local_ml_engineer", "inception_v3", "stanford_dogs", 16, 96),
            ("r6", "cloud", "inception_v3", "stanford_dogs", 16, 224),
            ("r7", "local_ml_engineer", "inception_v3", "stanford_dogs", 64, 64),  # only a NaN duration
        ],
        columns=RUN_COLS,
    )
    epochs = pd.DataFrame(
        [
            ("r4", 400.0),  # VGG16 first, then local ML: the boxes and the legend are still sorted
            ("r2", 5.0), ("r2", 7.0), ("r2", np.nan),
            ("r1", 10.0), ("r1", 12.0), ("r1", 20.0), ("r1", np.inf),
            ("r3", 9.0),
            ("r5", 6.0), ("r5", 8.0),
            ("r6", 14.0),
            ("r7", np.nan),
            ("r99", 1000.0),  # no such run: the inner merge drops it
        ],
        columns=["run_id", "duration_s"],
    )  # fmt: skip
    return epochs, runs


def test_fig8_subset_boxes_sorted_by_batch_then_size():
    epochs, runs = fig8_tables()
    fig = fig8_epoch_duration(epochs, runs, DOGS)
    ax = fig.axes[0]
    fig.canvas.draw()
    # settings of the finite subset rows: (16,224) r1 r6, (8,224) r2, (16,96) r3 r5; numeric order
    # (8,224) < (16,96) < (16,224) (a string sort would put "b16" first); r7 (NaN only) gives no box
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b8 / 224 px", "b16 / 96 px", "b16 / 224 px"]
    # medians: r1+r6 = {10, 12, 20, 14} -> 13; r2 = {5, 7} -> 6; r3 = {9}; r5 = {6, 8} -> 7
    assert box_medians(ax, ["cloud", "local_ml_engineer"]) == {
        ("b16 / 96 px", "cloud"): 9.0,
        ("b16 / 224 px", "cloud"): 13.0,
        ("b8 / 224 px", "local_ml_engineer"): 6.0,
        ("b16 / 96 px", "local_ml_engineer"): 7.0,
    }
    assert ax.get_title() == "Epoch duration, Inception V3 / Stanford Dogs: batch size / input size"
    # cloud: r1 r3 r6 (r4 is not in the subset); local ML: r2 r5 (r7 has no finite epoch)
    assert legend_texts(ax) == ["Cloud (runs: 3)", "Local ML (runs: 2)"]
    assert ax.get_legend().get_title().get_text() == "Environment"
    assert ax.get_ylabel() == "Epoch duration (s)" and ax.get_xlabel() == ""
    assert ax.get_yscale() == "linear"  # finite durations 5..20: ratio 4
    # width max(5.5, 1.1 * 3 settings * sqrt(2 environments) + 2) = 6.667 in, height 4.2 in
    assert fig.get_size_inches() == pytest.approx((1.1 * 3 * math.sqrt(2) + 2, 4.2))


def test_fig8_one_environment_width_from_the_settings_alone():
    runs = pd.DataFrame(
        [(f"r{b}", "cloud", "inception_v3", "stanford_dogs", b, 224) for b in (8, 16, 32, 64)], columns=RUN_COLS
    )
    epochs = pd.DataFrame({"run_id": runs["run_id"], "duration_s": [4.0, 3.0, 2.0, 1.0]})
    fig = fig8_epoch_duration(epochs, runs, DOGS)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [f"b{b} / 224 px" for b in (8, 16, 32, 64)]
    assert fig.get_size_inches() == pytest.approx((1.1 * 4 * 1 + 2, 4.2))  # sqrt(1 environment) = 1: 6.4 in


def test_fig8_subset_selecting_nothing_shows_every_run():
    epochs, runs = fig8_tables()
    fig = fig8_epoch_duration(epochs, runs, {"architecture": "resnet50"})
    ax = fig.axes[0]
    fig.canvas.draw()
    # one box per (architecture, dataset), sorted by the pretty names: "Inception V3..." < "VGG16..."
    ticks = ["Inception V3\nStanford Dogs", "VGG16\nCaltech101"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ticks
    # cloud Inception: r1 r3 r6 = {10, 12, 20, 9, 14} -> 12; cloud VGG: 400; local: {5, 7, 6, 8} -> 6.5
    assert box_medians(ax, ["cloud", "local_ml_engineer"]) == {
        (ticks[0], "cloud"): 12.0,
        (ticks[1], "cloud"): 400.0,
        (ticks[0], "local_ml_engineer"): 6.5,
    }
    assert ax.get_title() == "Epoch duration per setting"
    assert legend_texts(ax) == ["Cloud (runs: 4)", "Local ML (runs: 2)"]
    assert ax.get_yscale() == "log"  # 400 / 5 = 80 > 30
    assert fig.get_size_inches()[0] == 5.5  # 1.1 * 2 * sqrt(2) + 2 = 5.11 < 5.5


@pytest.mark.parametrize(
    ("durations", "scale"),
    [
        ([1.0, 30.0], "linear"),  # max / min = 30: not above 30
        ([1.0, 31.0], "log"),  # 31 > 30
        ([2.0, 60.0], "linear"),  # 30 again, at another scale
        ([0.0, 1e-7], "log"),  # min 0 -> divided by 1e-9: 100 > 30
    ],
)
def test_fig8_log_scale_when_durations_span_more_than_30x(durations, scale):
    runs = pd.DataFrame([("a", "cloud", "inception_v3", "stanford_dogs", 32, 224)], columns=RUN_COLS)
    epochs = pd.DataFrame({"run_id": ["a"] * len(durations), "duration_s": durations})
    fig = fig8_epoch_duration(epochs, runs, DOGS)
    ax = fig.axes[0]
    assert ax.get_yscale() == scale
    assert legend_texts(ax) == ["Cloud (runs: 1)"]
    assert fig.get_size_inches()[0] == 5.5  # 1.1 * 1 * 1 + 2 = 3.1 < 5.5


# ----------------------------------------------------------------------------------------- Figure 9


def curve_rows(group: str, n: int, shares: list[float]) -> list[dict]:
    return [{"group": group, "epoch": e, "n_runs": n, "share_stable": s} for e, s in enumerate(shares)]


def test_fig9_steps_share_line_and_annotation():
    # "all" first in the table, then local ML before cloud: the groups keep their first appearance
    curve = pd.DataFrame(
        curve_rows("all", 5, [0, 0.4, 1])
        + curve_rows("local_ml_engineer", 2, [0, 0.5, 1])
        + curve_rows("cloud", 3, [0, 1 / 3, 1])
    )
    summary = pd.DataFrame({"group": ["cloud", "all"], "epoch_for_share": [1, 2]})
    fig = fig9_stabilizing(curve, summary, share=0.8)
    ax = fig.axes[0]
    local, cloud, allruns, hline, vline = ax.get_lines()
    assert xy(local) == [[0, 0], [1, 50], [2, 100]]  # 100 * share_stable
    assert near(cloud, [[0, 0], [1, 100 / 3], [2, 100]])
    assert xy(allruns) == [[0, 0], [1, 40], [2, 100]]
    assert [ln.get_drawstyle() for ln in (local, cloud, allruns)] == ["steps-post"] * 3
    assert [local.get_marker(), cloud.get_marker()] == [MARKERS[0], MARKERS[1]]
    assert [to_rgb(local.get_color()), to_rgb(cloud.get_color())] == [PALETTE[0], PALETTE[1]]
    assert allruns.get_linestyle() == "--" and local.get_linestyle() == "-"
    assert legend_texts(ax) == ["Local ML (n=2)", "Cloud (n=3)", "all runs (n=5)"]
    assert list(hline.get_ydata()) == [80, 80]  # 100 * share
    assert list(vline.get_xdata()) == [2, 2]  # epoch_for_share of "all", not of "cloud" (1)
    (note,) = ax.texts
    assert note.get_text() == "80 % stable by epoch 2"
    assert note.xy == (2, 80)
    assert [hline.get_linestyle(), vline.get_linestyle()] == [":", "-."]
    assert ax.get_ylim() == (0, 102)
    assert ax.get_xlabel() == "Epoch n (stabilizing epoch <= n)"
    assert ax.get_ylabel() == "Runs stable by epoch n (%)"
    assert ax.get_title() == "Stabilizing epoch of the GPU power (FLUSS)"


def test_fig9_single_epoch_curve_and_full_share():
    # every run stable at epoch 3: one row per group (cumulative_stable's grid is then one epoch)
    curve = pd.DataFrame(curve_rows("cloud", 2, [1.0]) + curve_rows("all", 2, [1.0]))
    curve["epoch"] = 3
    summary = pd.DataFrame({"group": ["all"], "epoch_for_share": [3]})
    fig = fig9_stabilizing(curve, summary, share=1.0)
    ax = fig.axes[0]
    cloud, allruns, hline, vline = ax.get_lines()
    assert xy(cloud) == [[3, 100]] and xy(allruns) == [[3, 100]]
    assert legend_texts(ax) == ["Cloud (n=2)", "all runs (n=2)"]
    assert list(hline.get_ydata()) == [100, 100] and list(vline.get_xdata()) == [3, 3]
    assert ax.texts[0].get_text() == "100 % stable by epoch 3"


def test_fig9_without_all_group_has_no_marker_line():
    curve = pd.DataFrame(curve_rows("cloud", 4, [0.25, 0.75]))
    summary = pd.DataFrame({"group": ["cloud"], "epoch_for_share": [1]})
    fig = fig9_stabilizing(curve, summary)  # default share 0.9
    ax = fig.axes[0]
    cloud, hline = ax.get_lines()
    assert xy(cloud) == [[0, 25], [1, 75]]
    assert list(hline.get_ydata()) == [90, 90]
    assert len(ax.texts) == 0
    assert legend_texts(ax) == ["Cloud (n=4)"]


# ---------------------------------------------------------------------------------------- Figure 10


def sweep_table(random_power: float = 7.0) -> pd.DataFrame:
    rows = [  # sweep, method, window, stabilizing_epoch, rmse_kj, n_runs
        ("window", "power_based", 5, 10, 1.5, 4),
        ("window", "power_based", 2, 10, 4.0, 4),
        ("window", "power_based", 1, 10, np.nan, 0),  # no run: left out
        ("window", "power_based", 3, 10, 2.5, 4),
        ("window", "other_method", 2, 10, 9.0, 4),  # not one of the two drawn methods
        ("window", "epoch_energy_based", 5, 10, 1.0, 3),
        ("window", "epoch_energy_based", 2, 10, 3.0, 3),
        ("stabilizing_epoch", "power_based", 5, 10, 2.0, 4),
        ("stabilizing_epoch", "power_based", 5, 5, 6.0, 4),
        ("stabilizing_epoch", "epoch_energy_based", 5, 15, 0.8, 0),  # no run: left out
        ("stabilizing_epoch", "epoch_energy_based", 5, 10, 1.2, 1),
        ("stabilizing_epoch", "epoch_energy_based", 5, 5, 5.0, 1),
        ("random_start", "power_based", 5, 10, random_power, 4),
        ("random_start", "epoch_energy_based", 5, 10, np.nan, 0),  # not finite: no line
    ]
    return pd.DataFrame(rows, columns=["sweep", "method", "window", "stabilizing_epoch", "rmse_kj", "n_runs"])


def test_fig10_lines_sorted_by_x_with_random_start_reference():
    fig = fig10_online(sweep_table(), stabilizing_epoch=10, window=5)
    top, bottom = fig.axes
    power, power_random, energy = top.get_lines()
    # window sweep sorted by window, n_runs == 0 dropped: power (2, 4.0) (3, 2.5) (5, 1.5)
    assert xy(power) == [[2, 4.0], [3, 2.5], [5, 1.5]]
    assert xy(energy) == [[2, 3.0], [5, 1.0]]
    assert list(power_random.get_ydata()) == [7.0, 7.0]  # the random-start RMSE, only where finite
    assert power_random.get_linestyle() == ":"
    assert [power.get_marker(), energy.get_marker()] == [MARKERS[0], MARKERS[1]]
    assert legend_texts(top) == [
        "Power-based (eq. 1)",
        "Power-based, w=5 at random start",
        "Epoch-energy-based (eq. 2)",
    ]
    assert top.get_title() == "Window from the stabilizing epoch (10)"
    assert top.get_xlabel() == "Window size w (epochs)"
    assert bottom.get_legend() is None
    # stabilizing sweep: power (5, 6.0) (10, 2.0); energy (5, 5.0) (10, 1.2), epoch 15 had no run
    b_power, b_energy, b_vline = bottom.get_lines()
    assert xy(b_power) == [[5, 6.0], [10, 2.0]]
    assert xy(b_energy) == [[5, 5.0], [10, 1.2]]
    assert list(b_vline.get_xdata()) == [10, 10]
    assert bottom.get_title() == "Window of w = 5 epochs from the stabilizing epoch"
    assert bottom.get_xlabel() == "Stabilizing epoch (window start)"
    for ax in (top, bottom):
        assert ax.get_ylim()[0] == 0
        assert ax.get_ylabel() == "RMSE (kJ)"


def test_fig10_no_random_start_line_without_a_finite_value():
    sweep = sweep_table(random_power=np.nan)
    fig = fig10_online(sweep[sweep["sweep"] != "random_start"], stabilizing_epoch=3, window=4)
    top, bottom = fig.axes
    assert len(top.get_lines()) == 2  # the two methods, no reference line
    assert len(fig10_online(sweep, 3, 4).axes[0].get_lines()) == 2  # NaN random starts: none either
    assert top.get_title() == "Window from the stabilizing epoch (3)"
    assert bottom.get_title() == "Window of w = 4 epochs from the stabilizing epoch"
    assert list(bottom.get_lines()[-1].get_xdata()) == [3, 3]


# ---------------------------------------------------------------------------------------- Figure 11


def preds_of(method: str, true: list, pred: list) -> pd.DataFrame:
    return pd.DataFrame({"method": method, "true_kj": true, "predicted_kj": pred})


def test_fig11_one_panel_per_method_four_columns():
    methods = ["mlco2", "online_power_based", "green_algorithms", "my_method", "carbontracker"]
    preds = pd.concat([preds_of(m, [1.0 + k], [2.0]) for k, m in enumerate(methods)])
    table = pd.DataFrame({"method": ["carbontracker", "mlco2", "online_power_based", "green_algorithms"]})
    table["rmse_kj"] = [4.444, 0.125, 2.0, 10.0]
    fig = fig11_predicted_vs_true(preds, table)
    # 5 methods -> 4 columns, 2 rows; fig.axes is row-major, panel k is axes[k // 4, k % 4]
    assert len(fig.axes) == 8
    assert [ax.axison for ax in fig.axes] == [True] * 5 + [False] * 3
    assert [ax.get_title() for ax in fig.axes[:5]] == [
        "MLCO2\nRMSE 0.12 kJ (n=1)",  # 0.125 rounds half to even
        "Online power-based\nRMSE 2.00 kJ (n=1)",
        "Green Algorithms\nRMSE 10.00 kJ (n=1)",
        "my_method\nRMSE nan kJ (n=1)",  # no label, no table row
        "Carbontracker (1st epoch)\nRMSE 4.44 kJ (n=1)",
    ]
    # the fifth panel holds the fifth method's point (true 5, predicted 2)
    assert fig.axes[4].collections[0].get_offsets().tolist() == [[5.0, 2.0]]
    assert fig.get_suptitle() == "Predicted vs true energy on the held-out runs"
    assert fig.axes[0].get_xlabel() == "True energy (kJ)"
    assert fig.axes[0].get_ylabel() == "Predicted energy (kJ)"


@pytest.mark.parametrize("n", [1, 3, 4])
def test_fig11_fewer_methods_one_row(n):
    preds = pd.concat([preds_of(f"m{k}", [1.0], [1.0]) for k in range(n)])
    fig = fig11_predicted_vs_true(preds, pd.DataFrame({"method": [], "rmse_kj": []}))
    assert len(fig.axes) == n and all(ax.axison for ax in fig.axes)
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == [f"m{k}" for k in range(n)]


def fit_label(true, pred) -> tuple[float, float, str]:
    r = linregress(true, pred)
    sign = "+" if r.intercept >= 0 else "-"
    return r.slope, r.intercept, f"fit: {r.slope:.2f} x {sign} {abs(r.intercept):.1f}"


def test_fig11_scatter_identity_and_fitted_line():
    preds = pd.concat(
        [  # finite rows (1, 2) (2, 3) (3, 5) (4, 6); the NaN / inf rows are left out
            preds_of("offline_power_based", [1, 2, np.nan, 3, 4, 9], [2, 3, 4, 5, 6, np.inf]),
            preds_of("online_epoch_energy_based", [2, 4, 6], [-1, 3, 7]),  # exact line y = 2 x - 5
        ]
    )
    table = pd.DataFrame({"method": ["offline_power_based", "online_epoch_energy_based"], "rmse_kj": [0.5, 3]})
    fig = fig11_predicted_vs_true(preds, table)
    ax1, ax2 = fig.axes
    assert ax1.collections[0].get_offsets().tolist() == [[1, 2], [2, 3], [3, 5], [4, 6]]
    # least squares by hand: x mean 2.5, y mean 4; sum dx dy = 7, sum dx^2 = 5 -> b = 1.4, a = 4 - 3.5 = 0.5
    b, a, label = fit_label([1, 2, 3, 4], [2, 3, 5, 6])
    assert (b, a, label) == (pytest.approx(1.4), pytest.approx(0.5), "fit: 1.40 x + 0.5")
    # lo = min(1, 2, 0) = 0, hi = 1.05 * max(4, 6) = 6.3
    ident, fit = ax1.get_lines()
    assert near(ident, [[0, 0], [6.3, 6.3]])
    assert near(fit, [[0, 0.5], [6.3, 0.5 + 1.4 * 6.3]])
    assert legend_texts(ax1) == ["runs", "y = x", label]
    assert ax1.get_xlim() == pytest.approx((0, 6.3)) and ax1.get_ylim() == pytest.approx((0, 6.3))
    assert ax1.get_title() == "Offline power-based\nRMSE 0.50 kJ (n=4)"
    # second panel: lo = min(2, -1, 0) = -1, hi = 1.05 * 7 = 7.35; fit b = 2, a = -5
    ident, fit = ax2.get_lines()
    assert near(ident, [[-1, -1], [7.35, 7.35]])
    assert near(fit, [[-1, -7], [7.35, 9.7]])
    assert fit_label([2, 4, 6], [-1, 3, 7])[2] == "fit: 2.00 x - 5.0"
    assert legend_texts(ax2) == ["runs", "y = x", "fit: 2.00 x - 5.0"]
    assert ax2.get_xlim() == pytest.approx((-1, 7.35)) and ax2.get_ylim() == pytest.approx((-1, 7.35))
    assert ax2.get_title() == "Online epoch-energy-based\nRMSE 3.00 kJ (n=3)"


def test_fig11_fit_needs_two_distinct_true_values():
    preds = pd.concat(
        [
            preds_of("two", [1.0, 1.5], [1.0, 2.0]),  # two points: the line through them, y = 2 x - 1
            preds_of("one", [2.0], [3.0]),
            preds_of("flat", [2.0, 2.0], [1.0, 3.0]),  # true values constant: no slope to fit
            preds_of("none", [np.nan, 1.0], [1.0, np.inf]),  # nothing finite
        ]
    )
    fig = fig11_predicted_vs_true(preds, pd.DataFrame({"method": ["flat"], "rmse_kj": [1.0]}))
    two, one, flat, none = fig.axes
    ident, fit = two.get_lines()  # lo = 0, hi = 1.05 * 2 = 2.1
    assert near(fit, [[0, -1], [2.1, 2 * 2.1 - 1]])
    assert legend_texts(two) == ["runs", "y = x", "fit: 2.00 x - 1.0"]
    (ident,) = one.get_lines()
    assert near(ident, [[0, 0], [3.15, 3.15]])  # hi = 1.05 * max(2, 3)
    assert legend_texts(one) == ["runs", "y = x"]
    (ident,) = flat.get_lines()
    assert near(ident, [[0, 0], [3.15, 3.15]])
    assert flat.get_title() == "flat\nRMSE 1.00 kJ (n=2)"
    assert none.get_lines() == [] and none.get_legend() is None
    assert len(none.collections[0].get_offsets()) == 0
    assert none.get_title() == "none\nRMSE nan kJ (n=0)"


@pytest.mark.parametrize("share, text", [(0.29, "29 %"), (0.57, "57 %"), (0.58, "58 %"), (0.9, "90 %")])
def test_fig9_annotation_rounds_the_share_as_the_line_is_drawn(share, text):
    # 0.29 * 100 is 28.999999999999996 in floating point: the line sits at 29, so must the text
    curve = pd.DataFrame(curve_rows("cloud", 4, [0.25, 0.75]) + curve_rows("all", 4, [0.25, 0.75]))
    summary = pd.DataFrame({"group": ["all"], "epoch_for_share": [2]})
    ax = fig9_stabilizing(curve, summary, share=share).axes[0]
    assert ax.texts[0].get_text() == f"{text} stable by epoch 2"
    assert ax.get_lines()[2].get_ydata()[0] == pytest.approx(100 * share)


def test_fig11_fit_label_of_a_perfect_predictor_has_no_negative_zero():
    # predicted = true on (1, 3): slope 1, intercept 0 up to rounding (polyfit gives about -2e-16)
    preds = preds_of("offline_power_based", [1.0, 3.0], [1.0, 3.0])
    ax = fig11_predicted_vs_true(preds, pd.DataFrame({"method": [], "rmse_kj": []})).axes[0]
    assert legend_texts(ax)[2] == "fit: 1.00 x + 0.0"
    # an intercept of -0.04 prints as 0.0 too, so it takes the "+" sign; -0.06 prints as "- 0.1"
    ax = fig11_predicted_vs_true(
        preds_of("m", [1.0, 3.0], [0.96, 2.96]), pd.DataFrame({"method": [], "rmse_kj": []})
    ).axes[0]
    assert legend_texts(ax)[2] == "fit: 1.00 x + 0.0"
    ax = fig11_predicted_vs_true(
        preds_of("m", [1.0, 3.0], [0.94, 2.94]), pd.DataFrame({"method": [], "rmse_kj": []})
    ).axes[0]
    assert legend_texts(ax)[2] == "fit: 1.00 x - 0.1"
