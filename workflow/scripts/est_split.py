"""The seeded train/test split of the runs (estimators.test_size, seed) used by Tables 8-10 and Figure 10."""

from est_common import Context

import pandas as pd

from dlenergy.estimators.evaluate import split_runs
from dlenergy.io import write_csv

ctx = Context(snakemake)
pop = ctx.epoch_runs if len(ctx.epoch_runs) else ctx.runs
test_size = float(ctx.cfg.get("test_size", 0.3))
if len(pop) >= 4:
    split = split_runs(pop, test_size=test_size, seed=ctx.seed)
else:
    split = pd.DataFrame({"run_id": sorted(pop["run_id"].astype(str)), "split": "train"})
    ctx.log.info("%d run(s): too few to hold any out; all are 'train'", len(pop))
write_csv(split, snakemake.output[0], ctx.label)
ctx.log.info("split (seed %d, test_size %.2f): %s", ctx.seed, test_size, split["split"].value_counts().to_dict())
