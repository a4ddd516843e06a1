"""Tables 8 and 9: Linear, Ridge, Kernel Ridge and SVR for average power and average epoch energy,
tuned by RandomizedSearchCV with 5-fold CV on the 70 % training split; the best (estimators.offline.
select_by) of each target is saved with its feature schema under results/<source>/models/."""

from pathlib import Path

from est_common import Context, skipped

import numpy as np
import pandas as pd

from dlenergy.estimators import OfflineEpochEnergyEstimator, OfflinePowerEstimator, write_skipped_model
from dlenergy.estimators.evaluate import paper_regressor_scores
from dlenergy.estimators.offline import MODEL_NAMES

# the paper's Tables 8 and 9 (src/dlenergy/data/paper_targets.csv)
PAPER8 = paper_regressor_scores("table8_power_regressors_cv")
PAPER9 = {
    initial: paper_regressor_scores(f"table9_epoch_energy_regressors_cv.{key}")
    for initial, key in ((True, "with_initial_epochs"), (False, "without_initial_epochs"))
}

ctx = Context(snakemake)
off = ctx.cfg.get("offline", {})
# the search's parallelism is the rule's threads (threads: from estimators.offline.n_jobs in the rule)
kw = dict(
    models=tuple(off.get("models", ["linear", "ridge", "kernel_ridge", "svr"])),
    n_iter=int(off.get("n_iter", 20)),
    cv=int(off.get("cv_folds", 5)),
    select_by=off.get("select_by", "rmse"),
    random_state=ctx.seed,
    n_jobs=int(snakemake.threads),
)
include_initial = bool(off.get("epoch_energy_include_initial", True))
models_dir = Path(snakemake.output.power_schema).parent
s0, s0_note = ctx.stabilizing_epoch()
split = pd.read_csv(snakemake.input.split)
train_ids = set(split.loc[split["split"] == "train", "run_id"].astype(str))
epochs_reason = ctx.no_epochs_reason()
pop = ctx.epoch_runs if epochs_reason is None else ctx.runs
train = pop[pop["run_id"].astype(str).isin(train_ids)].reset_index(drop=True)
power_reason = ctx.few_runs_reason(len(pop), "cleaned runs") if len(ctx.runs) else "the source has no cleaned runs"
epoch_reason = epochs_reason or ctx.few_runs_reason()
extra = {**ctx.data_info, "seed": ctx.seed}
cols8 = [
    "model",
    "label",
    "r2",
    "rmse_w",
    "mae_w",
    "r2_sd",
    "rmse_sd_w",
    "mae_sd_w",
    "selected",
    "n_train",
    "n_iter",
    "best_params",
    "paper_r2",
    "paper_rmse_w",
    "paper_mae_w",
]
cols9 = [
    "uses_initial_epochs",
    "model",
    "label",
    "r2",
    "rmse_kj",
    "mae_kj",
    "r2_sd",
    "rmse_sd_kj",
    "mae_sd_kj",
    "selected",
    "n_train",
    "n_iter",
    "best_params",
    "paper_r2",
    "paper_rmse_kj",
    "paper_mae_kj",
]


def cv_rows(est, paper, unit_div=1.0, unit="w"):
    t = est.cv_table_.copy()
    nan = {"r2": np.nan, "rmse": np.nan, "mae": np.nan}
    out = pd.DataFrame(
        {
            "model": t["model"],
            "label": t["model"].map(MODEL_NAMES),
            "r2": t["r2"],
            f"rmse_{unit}": t["rmse"] / unit_div,
            f"mae_{unit}": t["mae"] / unit_div,
            "r2_sd": t["r2_sd"],
            f"rmse_sd_{unit}": t["rmse_sd"] / unit_div,
            f"mae_sd_{unit}": t["mae_sd"] / unit_div,
            "selected": t["model"] == est.model_name_,
            "n_train": est.n_train_,
            "n_iter": t["n_iter"],
            "best_params": t["best_params"],
            "paper_r2": [paper.get(m, nan)["r2"] for m in t["model"]],
            f"paper_rmse_{unit}": [paper.get(m, nan)["rmse"] for m in t["model"]],
            f"paper_mae_{unit}": [paper.get(m, nan)["mae"] for m in t["model"]],
        }
    )
    return out


# Table 8: average power
if power_reason is None:
    yp = train["energy_j"].to_numpy()
    power = OfflinePowerEstimator(**kw).fit(train, yp)
    t8 = cv_rows(power, PAPER8)[cols8]
    power.save(models_dir, **extra)
    ctx.log.info("power model: %s (%s)", power.model_name_, power.best_params_)
else:
    t8 = skipped("table8_power_regressors_cv", power_reason, cols8)
    write_skipped_model(models_dir, "offline_power", power_reason, **extra)
ctx.table("table8_power_regressors_cv", t8)

# Table 9: average epoch energy, with and without the initial (unstable) epochs
if epoch_reason is None:
    parts = []
    ye = train["energy_j"].to_numpy()
    ep = ctx.epochs[ctx.epochs["run_id"].isin(train["run_id"])]
    for initial in (True, False):
        est = OfflineEpochEnergyEstimator(**kw, include_initial_epochs=initial, stabilizing_epoch=s0)
        est.fit(train, ye, epochs=ep)
        t = cv_rows(est, PAPER9[initial], unit_div=1e3, unit="kj")
        t.insert(0, "uses_initial_epochs", initial)
        parts.append(t)
        if initial == include_initial:
            est.save(models_dir, **extra)
            ctx.log.info("epoch-energy model (initial epochs: %s): %s (%s)", initial, est.model_name_, est.best_params_)
    t9 = pd.concat(parts, ignore_index=True)[cols9]
else:
    t9 = skipped("table9_epoch_energy_regressors_cv", epoch_reason, cols9)
    write_skipped_model(models_dir, "offline_epoch_energy", epoch_reason, **extra)
ctx.table("table9_epoch_energy_regressors_cv", t9)

common = [
    f"{kw['cv']}-fold cross-validation (shuffled, seed {ctx.seed}) on the training split "
    f"({len(train)} runs); RandomizedSearchCV with {kw['n_iter']} draws per model (estimators.offline.n_iter); "
    "each model is Pipeline(StandardScaler, model) with a standardized target.",
    "Inputs: GPU model (-> CUDA cores, memory, TDP from dlenergy/data/gpu_specs.csv), total RAM, GFLOPs, "
    "training and validation size, batch size, input size.",
    f"selected: best cross-validated {kw['select_by']} (saved to {models_dir}/).",
]
ctx.markdown(
    "table8_power_regressors_cv",
    "Table 8. Power regression models, 5-fold cross-validation",
    [("", t8)],
    common + ["Target: average power of the run (W) = energy / training duration."],
)
ctx.markdown(
    "table9_epoch_energy_regressors_cv",
    "Table 9. Epoch energy regression models, 5-fold cross-validation",
    [("", t9)],
    common
    + [
        "Target: average epoch energy (kJ); uses_initial_epochs False: mean of the epochs "
        f"from the stabilizing epoch {s0} on ({s0_note}).",
        f"Saved model: uses_initial_epochs = {include_initial} "
        "(estimators.offline.epoch_energy_include_initial; the paper's choice: True).",
    ],
)
