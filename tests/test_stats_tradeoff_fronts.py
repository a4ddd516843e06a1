"""`stats.tradeoff_table` on tiny hand-made tables: the skipped row (no runs / no grouping column), the
``min_n`` boundary of ``status`` and its ``note``, and the ``analysis``/``subset`` columns.

Every expected value is worked out by hand in the comments next to it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dlenergy import stats as S

METRICS = [
    "energy_per_image_j",
    "gpu_usage_pct",
    "time_per_image_ms",
    "f1",
    "f1_per_kwh",
    "mean_gpu_power_w",
    "energy_kj",
]
BY = ["environment", "architecture"]


def _table() -> pd.DataFrame:
    # cloud/a: two runs (energy per image 10, 20 J; F1 .8, .9); cloud/b: one run (5 J, F1 .5)
    df = pd.DataFrame({"environment": "cloud", "architecture": ["a", "a", "b"], "gflops": 1.0})
    for m in METRICS:
        df[m] = [1.0, 2.0, 7.0]
    df["energy_per_image_j"] = [10.0, 20.0, 5.0]
    df["f1"] = [0.8, 0.9, 0.5]
    return df


def test_status_and_note_at_the_min_n_boundary_with_analysis_and_subset():
    got = S.tradeoff_table(_table(), min_n=2, analysis="fig2", subset="dataset == x")
    assert list(got.columns) == ["analysis", "subset"] + BY + S.TRADEOFF_COLUMNS[2:]
    assert got["architecture"].tolist() == ["a", "b"]
    assert got["n"].tolist() == [2, 1]
    # medians: a (10 + 20) / 2 = 15 J, (.8 + .9) / 2 = .85; b 5 J, .5; neither dominates the other
    assert got["median_energy_per_image_j"].tolist() == [15.0, 5.0]
    assert got["pareto_all"].tolist() == [True, True]
    assert got["pareto_in_environment"].tolist() == [True, True]
    # n = 2 = min_n is enough (>=); n = 1 is not, and the note names min_n
    assert got["status"].tolist() == ["ok", "insufficient"]
    assert got["note"].tolist() == ["", "n < 2: median of too few runs to compare"]
    assert got["analysis"].tolist() == ["fig2", "fig2"]
    assert got["subset"].tolist() == ["dataset == x", "dataset == x"]
    # one run less in a: both groups too small, the same note on both
    got = S.tradeoff_table(_table().iloc[1:], min_n=2)
    assert got["status"].tolist() == ["insufficient", "insufficient"]
    assert got["note"].tolist() == ["n < 2: median of too few runs to compare"] * 2
    assert got["analysis"].tolist() == ["tradeoff"] * 2 and got["subset"].tolist() == ["", ""]


def test_no_runs_is_one_skipped_row_with_the_analysis_and_subset():
    cols = ["analysis", "subset"] + BY + S.TRADEOFF_COLUMNS[2:]
    got = S.tradeoff_table(_table().iloc[0:0], analysis="fig2", subset="environment == cloud")
    want = {c: np.nan for c in cols}
    want.update(analysis="fig2", subset="environment == cloud", status="skipped", note="skipped: no runs")
    pd.testing.assert_frame_equal(got, pd.DataFrame([want], columns=cols))


def test_runs_without_a_grouping_column_are_one_skipped_row():
    got = S.tradeoff_table(_table().drop(columns=BY), analysis="fig2", subset="s")
    assert list(got.columns) == ["analysis", "subset"] + S.TRADEOFF_COLUMNS[2:]
    assert len(got) == 1
    row = got.iloc[0]
    assert (row["analysis"], row["subset"], row["status"]) == ("fig2", "s", "skipped")
    assert row["note"].startswith("skipped: no grouping column among ")
    assert np.isnan(row["n"]) and np.isnan(row["median_energy_per_image_j"])


def test_a_group_without_environment_is_on_its_own_environment_front():
    """Runs whose environment is missing form one group (as a missing architecture does), on its own front."""
    df = pd.DataFrame(
        {
            "environment": ["cloud", "cloud", np.nan, np.nan],
            "architecture": ["a", "b", "a", "a"],
            "gflops": [1.0, 2.0, 1.0, 1.0],
            "energy_per_image_j": [1.0, 2.0, 3.0, 3.5],
            "f1": [0.5, 0.9, 0.7, 0.8],
            "time_per_image_ms": [1.0, 1.0, 1.0, 1.0],
        }
    )
    t = S.tradeoff_table(S.add_derived(df), min_n=1)
    assert t["pareto_in_environment"].tolist() == [True, True, True]
    assert t["pareto_all"].tolist() == [True, True, False]  # (3.25 J, 0.75) is dominated by (2 J, 0.9)
