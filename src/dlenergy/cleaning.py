"""Cleaning as the paper does it (§3.7 and its replication package), each step a ledger stage.

Stages, in order (each sees only the runs the previous ones kept):

1. ``ingest``   – bad input found while ingesting (no logs, logs without a row, unreadable logs)
2. ``failed``   – return code ≠ 0
3. ``missing``  – a missing value in a column the analysis needs
4. ``short``    – fewer than ``min_epochs`` measured epochs (runs with epoch markers only)
5. ``sampling`` – sampling period longer than the shortest epoch (runs with epoch markers only)
6. ``outlier``  – Isolation Forest per (environment, architecture, dataset) group, contamination
   0.1 and a seed from config

Every excluded run gets one ledger row ``run_id, stage, reason``; :func:`summary` counts runs in
and out per stage (the paper's 1,630 → 1,225).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sklearn.ensemble import IsolationForest

from .ingest import LEDGER_COLUMNS

STAGES = ["ingest", "failed", "missing", "short", "sampling", "outlier"]


@dataclass
class CleaningConfig:
    min_epochs: int = 20
    required_columns: tuple[str, ...] = (
        "environment",
        "gpu_model",
        "architecture",
        "dataset",
        "batch_size",
        "image_size",
        "training_size",
        "total_ram_gb",
        "gflops",
        "energy_j",
        "gpu_energy_j",
        "duration_s",
        "energy_per_image_j",
        "mean_gpu_power_w",
        "gpu_usage_pct",
    )
    outlier_group: tuple[str, ...] = ("environment", "architecture", "dataset")
    outlier_features: tuple[str, ...] = ("energy_per_image_j", "duration_s", "mean_gpu_power_w", "gpu_usage_pct")
    contamination: float = 0.1
    min_group_size: int = 10
    n_estimators: int = 200
    seed: int = 42

    @classmethod
    def from_dict(cls, d: dict | None) -> CleaningConfig:
        d = dict(d or {})
        for k in ("required_columns", "outlier_group", "outlier_features"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


@dataclass
class CleaningResult:
    runs: pd.DataFrame
    epochs: pd.DataFrame
    excluded: pd.DataFrame
    summary: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def clean(
    runs: pd.DataFrame,
    epochs: pd.DataFrame,
    ingest_ledger: pd.DataFrame | None = None,
    config: CleaningConfig | None = None,
) -> CleaningResult:
    cfg = config or CleaningConfig()
    ledger: list[pd.DataFrame] = []
    counts: list[dict] = []
    notes: list[str] = []
    ing = ingest_ledger if ingest_ledger is not None else pd.DataFrame(columns=LEDGER_COLUMNS)
    n0 = len(runs) + len(ing)
    counts.append({"stage": "ingest", "runs_in": n0, "excluded": len(ing), "runs_out": len(runs)})
    if len(ing):
        ledger.append(ing[LEDGER_COLUMNS])
    cur = runs.copy()

    def drop(stage: str, mask: pd.Series, reasons: pd.Series | str):
        nonlocal cur
        mask = mask.fillna(False).astype(bool)
        n_in = len(cur)
        if mask.any():
            r = reasons[mask] if isinstance(reasons, pd.Series) else pd.Series(reasons, index=cur.index[mask])
            ledger.append(
                pd.DataFrame(
                    {"run_id": cur.loc[mask, "run_id"].to_numpy(), "stage": stage, "reason": r.astype(str).to_numpy()}
                )
            )
        cur = cur.loc[~mask]
        counts.append({"stage": stage, "runs_in": n_in, "excluded": int(mask.sum()), "runs_out": len(cur)})

    # failed
    rc = cur["return_code"]
    drop("failed", rc.isna() | (rc != 0), "return code " + rc.astype("string").fillna("missing"))

    # missing values
    req = [c for c in cfg.required_columns if c in cur.columns]
    isna = cur[req].isna()
    miss_reason = (
        isna.apply(lambda r: "missing value(s) in " + ", ".join(r.index[r]), axis=1)
        if len(cur)
        else pd.Series(dtype=str)
    )
    drop("missing", isna.any(axis=1), miss_reason)

    # too few epochs (only runs with epoch markers)
    has_ep = cur["has_epoch_markers"].astype(bool)
    short = has_ep & (cur["epochs_measured"] < cfg.min_epochs)
    drop("short", short, cur["epochs_measured"].astype(str).radd("only ").add(f" measured epochs (< {cfg.min_epochs})"))

    # sampling period longer than the shortest epoch
    has_ep = cur["has_epoch_markers"].astype(bool)
    coarse = has_ep & (cur["sampling_period_s"] > cur["min_epoch_duration_s"])
    drop(
        "sampling",
        coarse,
        "sampling period "
        + cur["sampling_period_s"].round(3).astype(str)
        + " s > shortest epoch "
        + cur["min_epoch_duration_s"].round(3).astype(str)
        + " s",
    )

    # Isolation Forest per group
    flags = pd.Series(False, index=cur.index)
    reason = pd.Series("", index=cur.index, dtype=object)
    feats = [f for f in cfg.outlier_features if f in cur.columns]
    groups = [g for g in cfg.outlier_group if g in cur.columns]
    if len(cur) and feats:
        for key, g in cur.groupby(groups, sort=True, dropna=False):
            if len(g) < cfg.min_group_size:
                notes.append(
                    f"outlier stage skipped for group {key}: {len(g)} runs < min_group_size {cfg.min_group_size}"
                )
                continue
            X = g[feats].to_numpy(dtype="float64")
            forest = IsolationForest(
                n_estimators=cfg.n_estimators, contamination=cfg.contamination, random_state=cfg.seed
            ).fit(X)
            pred = forest.predict(X) == -1
            score = forest.score_samples(X)
            flags.loc[g.index[pred]] = True
            reason.loc[g.index[pred]] = [
                f"Isolation Forest outlier in group {dict(zip(groups, key if isinstance(key, tuple) else (key,)))} "
                f"(score {s:.3f}, contamination {cfg.contamination})"
                for s in score[pred]
            ]
    drop("outlier", flags, reason)

    excluded = pd.concat(ledger, ignore_index=True) if ledger else pd.DataFrame(columns=LEDGER_COLUMNS)
    excluded["stage"] = pd.Categorical(excluded["stage"], categories=STAGES, ordered=True)
    excluded = excluded.sort_values(["stage", "run_id"], kind="stable").reset_index(drop=True)
    excluded["stage"] = excluded["stage"].astype(str)
    clean_epochs = epochs.loc[epochs["run_id"].isin(cur["run_id"])].reset_index(drop=True)
    summ = pd.DataFrame(counts)
    summ.loc[len(summ)] = {"stage": "total", "runs_in": n0, "excluded": n0 - len(cur), "runs_out": len(cur)}
    return CleaningResult(cur.reset_index(drop=True), clean_epochs, excluded, summ, notes)
