from _common import setup

from dlenergy.io import write_text
from dlenergy.simulate import simulate_dataset

log = setup(snakemake)
p = snakemake.params
gt = simulate_dataset(snakemake.output[0], seed=p.seed, scale=p.scale)
log.info(
    "simulated %d runs (seed %s, scale %s); defects: %s",
    len(gt),
    p.seed,
    p.scale,
    gt["defect"].value_counts().sort_index().to_dict(),
)
write_text(f"seed={p.seed} scale={p.scale} simulator={p.simulator}\n", snakemake.output.stamp)
