"""Table 10 and Figure 11: every estimator on the held-out 30 % of the runs: RMSE, MAE (kJ), MAPE (%)."""

from pathlib import Path

from est_common import Context, skipped

import pandas as pd

from dlenergy.estimators import (
    CarbontrackerEstimator,
    GreenAlgorithmsEstimator,
    MLCO2Estimator,
    OnlineEpochEnergyEstimator,
    OnlinePowerEstimator,
    load_offline_estimator,
)
from dlenergy.estimators.evaluate import METHOD_LABELS, compare
from dlenergy.estimators.plots import fig11_predicted_vs_true
from dlenergy.io import write_csv

ctx = Context(snakemake)
on = ctx.cfg.get("online", {})
window, start = int(on.get("window", 5)), on.get("start", "stabilizing")
s0, s0_note = ctx.stabilizing_epoch()
split = pd.read_csv(snakemake.input.split)
test_ids = set(split.loc[split["split"] == "test", "run_id"].astype(str))
epochs_reason = ctx.no_epochs_reason()
pop = ctx.epoch_runs if epochs_reason is None else ctx.runs
test = pop[pop["run_id"].astype(str).isin(test_ids)].reset_index(drop=True)
cols = ["method", "label", "n_runs", "n_missing", "rmse_kj", "mae_kj", "mape_pct", "bias_kj", "paper_rmse_kj"]
reason = ctx.few_runs_reason(len(pop), "cleaned runs") if len(ctx.runs) else "the source has no cleaned runs"

if reason is None:
    models_dir = Path(snakemake.input.power_schema).parent
    train = pop[~pop["run_id"].astype(str).isin(test_ids)].reset_index(drop=True)
    methods, skipped_rows, ep = {}, [], None
    if epochs_reason is None:
        ep = ctx.epochs[ctx.epochs["run_id"].isin(test["run_id"])]
        common = dict(window=window, start=start, stabilizing_epoch=s0, random_state=ctx.seed)
        methods["online_power_based"] = OnlinePowerEstimator(**common)
        methods["online_epoch_energy_based"] = OnlineEpochEnergyEstimator(**common)
    else:
        for m in ("online_power_based", "online_epoch_energy_based", "carbontracker"):
            skipped_rows.append({"method": m, "label": METHOD_LABELS[m], "note": f"skipped: {epochs_reason}"})
    for name, kind in (
        ("offline_power_based", "offline_power"),
        ("offline_epoch_energy_based", "offline_epoch_energy"),
    ):
        try:
            methods[name] = load_offline_estimator(models_dir, kind)  # fitted by est_offline on the training runs
        except FileNotFoundError as exc:
            skipped_rows.append({"method": name, "label": METHOD_LABELS[name], "note": f"skipped: {exc}"})
    methods["green_algorithms"] = GreenAlgorithmsEstimator()
    methods["mlco2"] = MLCO2Estimator()
    if epochs_reason is None:
        methods["carbontracker"] = CarbontrackerEstimator()
    for name, est in methods.items():  # the formulas learn nothing: fit validates the training runs' table
        if not name.startswith("offline_"):
            est.fit(train, train["energy_j"].to_numpy())
    table, preds = compare(methods, test, test["energy_j"].to_numpy(), epochs=ep)
    table["note"] = ""
    if skipped_rows:
        table = pd.concat([table, pd.DataFrame(skipped_rows)], ignore_index=True)
    table = table[cols + ["note"]]
else:
    table = skipped("table10_test_rmse", reason, cols)
    preds = pd.DataFrame(columns=["method", "run_id", "true_kj", "predicted_kj"])
ctx.table("table10_test_rmse", table)
write_csv(preds, snakemake.output["table10_test_predictions"], ctx.label, float_format="%.6g")
notes = [
    f"Held-out runs: {len(test)} (test_size {ctx.cfg.get('test_size', 0.3)}, seed {ctx.seed}).",
    f"Online: window w = {window} epochs, start = {start}, stabilizing epoch {s0} ({s0_note}).",
    "Offline: the models saved by Tables 8/9, x the measured duration (power) or number of epochs (epoch energy).",
    "Green Algorithms: (TDP x mean GPU usage + total RAM GB x 0.3725 W/GB) x duration; MLCO2: TDP x duration "
    "(TDP from dlenergy/data/gpu_specs.csv); Carbontracker: energy of the first epoch x epochs.",
    "paper_rmse_kj: Table 10 of the paper (its data, not this source's).",
]
ctx.markdown(
    "table10_test_rmse", "Table 10. Error of the estimation methods on the held-out runs", [("", table)], notes
)
ctx.figure(
    "fig11_predicted_vs_true",
    lambda: fig11_predicted_vs_true(preds, table),
    title="Figure 11: predicted vs true energy",
    reason=reason,
)
