"""Every table of the pipeline as paper-ready LaTeX (booktabs), with the CSV's numbers (dlenergy.latex)."""

from _common import setup

import pandas as pd

from dlenergy.latex import write_latex

log = setup(snakemake)
names = snakemake.params.names
for name, csv, tex in zip(names, snakemake.input.tables, snakemake.output):
    df = pd.read_csv(csv)
    write_latex(df, tex, snakemake.params.captions[name], f"tab:{name}", source=snakemake.params.source)
    log.info("%s: %d row(s) x %d column(s) -> %s", name, len(df), df.shape[1], tex)
