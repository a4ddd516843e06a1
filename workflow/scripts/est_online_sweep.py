"""Figure 10 and §4.3's online numbers: RMSE of the online estimators vs window size, vs stabilizing
epoch, and with a random window start (seeded), on the training runs."""

from est_common import Context, skipped

import pandas as pd

from dlenergy.estimators.evaluate import SWEEP_COLUMNS, online_sweep, paper_sweep_kj
from dlenergy.estimators.plots import fig10_online

ctx = Context(snakemake)
on = ctx.cfg.get("online", {})
window = int(on.get("window", 5))
reason = ctx.no_epochs_reason()
s0, s0_note = ctx.stabilizing_epoch()
if reason is None:
    split = pd.read_csv(snakemake.input.split)
    train_ids = set(split.loc[split["split"] == "train", "run_id"].astype(str))
    held_out = (split["split"] == "test").any()
    runs = ctx.epoch_runs[ctx.epoch_runs["run_id"].astype(str).isin(train_ids)] if held_out else ctx.epoch_runs
    which = (
        f"the {len(runs)} training runs (70 % split)"
        if held_out
        else f"all {len(runs)} runs with epoch markers (too few to hold any out)"
    )
    ctx.log.info("sweep on %s; stabilizing epoch %d (%s)", which, s0, s0_note)
    sweep = online_sweep(
        runs,
        ctx.epochs[ctx.epochs["run_id"].isin(runs["run_id"])],
        stabilizing_epoch=s0,
        window=window,
        windows=range(1, int(on.get("max_window", 15)) + 1),
        starts=range(0, int(on.get("max_start", 15)) + 1),
        repeats=int(on.get("random_repeats", 20)),
        seed=ctx.seed,
    )
else:
    sweep = skipped("online_window_sweep", reason, SWEEP_COLUMNS)
    which = ""
ctx.table("online_window_sweep", sweep)
paper = paper_sweep_kj()
notes = [
    f"Runs: {which}." if which else "",
    f"Stabilizing epoch: {s0} ({s0_note}).",
    "power_based: eq. 1, mean power (GPU + RAM) of the window x training duration; epoch_energy_based: eq. 2, "
    "window energy x s / w + energy of the unstable epochs.",
    "sweep = window: w from the stabilizing epoch; stabilizing_epoch: w = %d, stabilizing epoch (= window start) "
    "moved; random_start: w = %d at a random start after the stabilizing epoch, mean (and SD) over `repeats` "
    "seeds from `seed`." % (window, window),
    "n_missing: runs with fewer stable epochs than the window (not estimated). paper_rmse_kj: §4.3 "
    f"(power-based / epoch-energy-based; window 5 from epoch 10: {paper[('stabilizing', 'power_based')]:g} / "
    f"{paper[('stabilizing', 'epoch_energy_based')]:g}; random start: {paper[('random_start', 'power_based')]:g} / "
    f"{paper[('random_start', 'epoch_energy_based')]:g}).",
]
ctx.markdown(
    "online_window_sweep",
    "Online estimators: window size and stabilizing epoch (Figure 10)",
    [("", sweep)],
    [n for n in notes if n],
)
ctx.figure(
    "fig10_online_window", lambda: fig10_online(sweep, s0, window), title="Figure 10: online estimators", reason=reason
)
