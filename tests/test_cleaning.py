"""Cleaning against the simulator's ground truth: every planted defect at its stage, nothing else at a rule stage."""

from __future__ import annotations

import pandas as pd
import pytest

from dlenergy.cleaning import STAGES, CleaningConfig, clean
from dlenergy.ingest import combine, ingest_dataset
from dlenergy.simulate import simulate_dataset

STAGE_FOR = {
    "failed": "failed",
    "oom": "failed",
    "missing": "missing",
    "short": "short",
    "coarse_sampling": "sampling",
    "outlier": "outlier",
}
RULE_STAGES = {"ingest", "failed", "missing", "short", "sampling"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "sample"
    gt = simulate_dataset(out, seed=7, scale="sample").set_index("run_id")
    # ingest in shards, as the pipeline does
    runs, epochs, ledger = combine([ingest_dataset(out, shard=s, n_shards=3) for s in range(3)])
    return gt, runs, epochs, ledger


def test_energy_recovered_within_half_a_percent(sample):
    gt, runs, _, _ = sample
    runs = runs.set_index("run_id")
    ok = gt.index[gt.defect.isin(["none", "cut_lines", "short", "missing", "outlier"])]
    rel_gpu = (runs.loc[ok, "gpu_energy_j"] / gt.loc[ok, "gpu_energy_j"] - 1).abs()
    rel_all = (runs.loc[ok, "energy_j"] / gt.loc[ok, "energy_j"] - 1).abs()
    assert rel_gpu.max() < 0.005 and rel_all.max() < 0.005
    cut = gt.index[gt.defect == "cut_lines"]
    assert len(cut) and (runs.loc[cut, "gpu_cut_lines"] >= 1).all()


def test_each_defect_excluded_at_its_stage_and_no_clean_run_at_a_rule_stage(sample):
    gt, runs, epochs, ledger = sample
    res = clean(runs, epochs, ledger, CleaningConfig(seed=42))
    ex = res.excluded.set_index("run_id")
    assert ex.index.is_unique
    for defect, stage in STAGE_FOR.items():
        planted = gt.index[gt.defect == defect]
        assert len(planted) > 0, f"sample has no {defect} run"
        assert (ex.reindex(planted)["stage"] == stage).all(), (defect, ex.reindex(planted))
    clean_runs = gt.index[gt.defect.isin(["none", "cut_lines"])]
    wrongly = ex.reindex(clean_runs).dropna()
    assert not wrongly["stage"].isin(RULE_STAGES).any(), wrongly
    # the forest removes about its configured share, planted outliers among them
    n_out = (ex["stage"] == "outlier").sum()
    assert n_out >= (gt.defect == "outlier").sum()
    # summary adds up, stage by stage
    s = res.summary.set_index("stage")
    assert list(s.index) == STAGES + ["total"]
    assert (s["runs_in"] - s["excluded"] == s["runs_out"]).all()
    assert s.loc["total", "runs_out"] == len(res.runs) == len(gt) - len(ex)
    assert set(res.epochs.run_id) == set(res.runs.run_id)


def test_seeded_forest_is_deterministic_and_seed_matters(sample):
    _, runs, epochs, ledger = sample
    a = clean(runs, epochs, ledger, CleaningConfig(seed=1)).excluded
    b = clean(runs, epochs, ledger, CleaningConfig(seed=1)).excluded
    pd.testing.assert_frame_equal(a, b)
    # another seed grows other trees: the outliers' scores (in their reasons) are not the same
    c = clean(runs, epochs, ledger, CleaningConfig(seed=2)).excluded
    out_a, out_c = (x.loc[x["stage"] == "outlier", "reason"].tolist() for x in (a, c))
    assert out_a and out_c and out_a != out_c
    # and another number of trees too (the configured 200, not scikit-learn's default 100)
    d = clean(runs, epochs, ledger, CleaningConfig(seed=1, n_estimators=100)).excluded
    assert d.loc[d["stage"] == "outlier", "reason"].tolist() != out_a


def _outliers_per_group(res, runs, cfg) -> list[tuple[int, int]]:
    """(runs in the group, runs the forest flagged) for every group the outlier stage looked at."""
    out = set(res.excluded.loc[res.excluded["stage"] == "outlier", "run_id"])
    before = set(res.runs["run_id"]) | out  # the runs that reached the outlier stage
    seen = runs[runs["run_id"].isin(before)]
    sizes = seen.groupby(list(cfg.outlier_group), dropna=False)["run_id"].agg(list)
    return [(len(ids), len(out.intersection(ids))) for ids in sizes if len(ids) >= cfg.min_group_size]


@pytest.mark.parametrize("contamination", [0.05, 0.3])
def test_forest_flags_its_configured_share_of_each_group(sample, contamination):
    """contamination is the share of each group the forest flags (its score quantile): about
    contamination x n runs of a group of n, whatever the share, not a fixed or automatic threshold."""
    _, runs, epochs, ledger = sample
    cfg = CleaningConfig(contamination=contamination)
    groups = _outliers_per_group(clean(runs, epochs, ledger, cfg), runs, cfg)
    assert len(groups) >= 2 and sum(n for n, _ in groups) >= 40
    for n, flagged in groups:
        assert abs(flagged - contamination * n) <= 1, (n, flagged, contamination)


def test_min_epochs_boundary_keeps_a_run_with_exactly_min_epochs(sample):
    """A run with min_epochs measured epochs is kept; one fewer is excluded as short."""
    gt, runs, epochs, ledger = sample
    cfg = CleaningConfig()
    ok = runs[runs["run_id"].isin(gt.index[gt.defect == "none"]) & runs["has_epoch_markers"].astype(bool)]
    ids = ok.sort_values("run_id")["run_id"].iloc[:3].tolist()
    n_ep = dict(zip(ids, [cfg.min_epochs - 1, cfg.min_epochs, cfg.min_epochs + 1]))
    edited = runs.assign(epochs_measured=runs["run_id"].map(n_ep).fillna(runs["epochs_measured"]))
    ex = clean(edited, epochs, ledger, cfg).excluded.set_index("run_id")["stage"]
    assert ex.get(ids[0]) == "short"
    assert ex.get(ids[1]) != "short" and ex.get(ids[2]) != "short"


def test_sampling_period_boundary(sample):
    """A run sampled more coarsely than its shortest epoch is excluded; one sampled at exactly it is not."""
    gt, runs, epochs, ledger = sample
    ok = runs[runs["run_id"].isin(gt.index[gt.defect == "none"]) & runs["has_epoch_markers"].astype(bool)]
    ids = ok.sort_values("run_id")["run_id"].iloc[:2].tolist()
    shortest = runs.set_index("run_id").loc[ids, "min_epoch_duration_s"]
    period = {ids[0]: shortest[ids[0]] * 1.2, ids[1]: shortest[ids[1]]}
    edited = runs.assign(sampling_period_s=runs["run_id"].map(period).fillna(runs["sampling_period_s"]))
    ex = clean(edited, epochs, ledger, CleaningConfig()).excluded.set_index("run_id")["stage"]
    assert ex.get(ids[0]) == "sampling" and ex.get(ids[1]) != "sampling"


def test_small_groups_are_skipped_with_a_note(sample):
    _, runs, epochs, ledger = sample
    res = clean(runs, epochs, ledger, CleaningConfig(min_group_size=10_000))
    assert "outlier" not in set(res.excluded.stage)
    assert any("min_group_size" in n for n in res.notes)


def test_each_stage_says_why_and_the_ingest_ledger_is_counted(sample):
    """The ledger's reason names the rule and the run's own numbers; the ingest stage counts its rows."""
    gt, runs, epochs, _ = sample
    bad_log = pd.DataFrame({"run_id": ["unreadable-run"], "stage": ["ingest"], "reason": ["gpu.csv: bad header"]})
    failed = runs.loc[runs["return_code"].ne(0), "run_id"].iloc[0]
    runs = runs.assign(return_code=runs["return_code"].astype("Int64").mask(runs["run_id"] == failed))
    res = clean(runs, epochs, bad_log, CleaningConfig())
    assert res.excluded.set_index("run_id").loc[failed, "reason"] == "return code missing"
    ex = res.excluded.set_index("run_id")
    assert ex.loc["unreadable-run"].tolist() == ["ingest", "gpu.csv: bad header"]
    s = res.summary.set_index("stage")
    assert s.loc["ingest"].tolist() == [len(runs) + 1, 1, len(runs)] and s.loc["total", "runs_in"] == len(runs) + 1
    r = runs.set_index("run_id")
    for rid, row in ex.drop(index="unreadable-run").iterrows():
        why = row["reason"]
        if row["stage"] == "failed":
            rc = r.loc[rid, "return_code"]
            assert why == f"return code {'missing' if pd.isna(rc) else int(rc)}"
        elif row["stage"] == "short":
            assert why == f"only {r.loc[rid, 'epochs_measured']} measured epochs (< 20)"
        elif row["stage"] == "sampling":
            assert why.startswith(f"sampling period {round(r.loc[rid, 'sampling_period_s'], 3)} s > shortest epoch")
        elif row["stage"] == "missing":
            assert why.startswith("missing value(s) in ") and r.loc[rid, why[20:].split(", ")].isna().all()
        else:
            assert row["stage"] == "outlier" and why.startswith("Isolation Forest outlier in group")
    none = clean(runs, epochs, None, CleaningConfig()).summary.set_index("stage")
    assert none.loc["ingest"].tolist() == [len(runs), 0, len(runs)]


def test_result_tables_keep_their_columns_and_the_ledger_is_in_stage_order(sample):
    gt, runs, epochs, ledger = sample
    res = clean(runs, epochs, ledger, CleaningConfig())
    ex = res.excluded
    assert list(ex.columns) == ["run_id", "stage", "reason"] and ex.index.tolist() == list(range(len(ex)))
    order = [STAGES.index(s) for s in ex["stage"]]
    assert ex["stage"].map(type).eq(str).all() and order == sorted(order)
    for _, part in ex.groupby("stage", sort=False):
        assert part["run_id"].tolist() == sorted(part["run_id"])
    assert list(res.runs.columns) == list(runs.columns) and res.runs.index.tolist() == list(range(len(res.runs)))
    assert list(res.epochs.columns) == list(epochs.columns) and res.epochs.index.tolist() == list(
        range(len(res.epochs))
    )
    # nothing to exclude: an empty ledger with its columns; no outlier features: no outlier stage
    fine = runs[runs["run_id"].isin(gt.index[gt.defect == "none"])]
    quiet = clean(fine, epochs, None, CleaningConfig(min_group_size=10_000))
    assert quiet.excluded.empty and list(quiet.excluded.columns) == ["run_id", "stage", "reason"]
    assert len(quiet.runs) == len(fine)
    nofeat = clean(runs, epochs, ledger, CleaningConfig(outlier_features=()))
    assert "outlier" not in set(nofeat.excluded["stage"])
