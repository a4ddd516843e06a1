# Reviewer view: Snakemake report, scorecard, LaTeX tables.
