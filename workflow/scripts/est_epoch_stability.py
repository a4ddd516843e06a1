"""Figure 8: epoch duration per setting (box plots), and its spread per setting."""

from est_common import Context, skipped

import numpy as np
import pandas as pd

from dlenergy.estimators.plots import fig8_epoch_duration

ctx = Context(snakemake)
reason = ctx.no_epochs_reason()
keys = ["environment", "architecture", "dataset", "batch_size", "image_size"]
cols = keys + ["n_runs", "n_epochs", "median_s", "iqr_s", "cv_pct", "cv_without_first_pct", "run_cv_median_pct"]
if reason is None:
    d = ctx.epochs.merge(ctx.epoch_runs[["run_id", *keys]], on="run_id", how="inner")
    d = d[np.isfinite(d["duration_s"])]
    rows = []
    for k, g in d.groupby(keys, sort=True):
        x = g["duration_s"].to_numpy()
        first = g.groupby("run_id")["epoch"].transform("min")
        x1 = g.loc[g["epoch"] > first, "duration_s"].to_numpy()
        run_cv = g.groupby("run_id")["duration_s"].agg(
            lambda v: np.std(v, ddof=1) / np.mean(v) * 100 if len(v) > 1 else np.nan
        )
        rows.append(
            {
                **dict(zip(keys, k)),
                "n_runs": g["run_id"].nunique(),
                "n_epochs": len(x),
                "median_s": float(np.median(x)),
                "iqr_s": float(np.subtract(*np.percentile(x, [75, 25]))),
                "cv_pct": float(np.std(x, ddof=1) / np.mean(x) * 100) if len(x) > 1 else np.nan,
                "cv_without_first_pct": float(np.std(x1, ddof=1) / np.mean(x1) * 100) if len(x1) > 1 else np.nan,
                "run_cv_median_pct": float(np.nanmedian(run_cv)) if run_cv.notna().any() else np.nan,
            }
        )
    table = pd.DataFrame(rows, columns=cols)
else:
    table = skipped("epoch_duration", reason, cols)
ctx.table("epoch_duration", table)
ctx.markdown(
    "epoch_duration",
    "Epoch duration per setting (Figure 8)",
    [("", table)],
    [
        "cv_pct: coefficient of variation of all epoch durations of the setting's runs; cv_without_first_pct: "
        "the same without each run's first epoch; run_cv_median_pct: median over runs of the within-run CV."
    ],
)
subset = ctx.cfg.get("fig8", {"architecture": "inception_v3", "dataset": "stanford_dogs"})
ctx.figure(
    "fig8_epoch_duration",
    lambda: fig8_epoch_duration(ctx.epochs, ctx.epoch_runs, subset),
    title="Figure 8: epoch duration",
    reason=reason,
)
