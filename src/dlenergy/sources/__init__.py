"""Measurement sources: adapters from published raw layouts to canonical layout v1, the download
fetcher, and :func:`capabilities`, which says which analyses a source's runs can support.

* :mod:`dlenergy.sources.seaa2023` – the SEAA 2023 raw logs (Cloud and Local ML Engineer)
* :mod:`dlenergy.sources.zenodo`   – the paper's full replication package (Zenodo 10.5281/zenodo.11505891)
* :mod:`dlenergy.sources.download` – checked, resumable download and atomic unpacking (pooch)
* :mod:`dlenergy.sources.zenodo_api` – a pinned Zenodo record's files, sizes and md5 from the records API (pooch)
"""

from __future__ import annotations

import pandas as pd

#: analysis name -> what it needs (used in the reason when it is not supported)
ANALYSES = {
    "epochs": "epoch markers (epochs.csv) in at least one run",
    "rq1": "at least 2 architectures in one environment",
    "rq2": "at least 2 environments for one architecture",
    "ram": "at least 2 total_ram_gb levels for one setting",
    "regression": "at least {min_regression_runs} runs with epoch markers",
}

#: columns that define a "setting" for the RAM analysis (those present are used)
RAM_SETTING = ("environment", "gpu_model", "architecture", "dataset", "batch_size", "image_size")


def _has_epochs(runs: pd.DataFrame) -> pd.Series | None:
    if "has_epoch_markers" in runs.columns:
        return runs["has_epoch_markers"].fillna(False).astype(bool)
    if "epochs_measured" in runs.columns:
        return pd.to_numeric(runs["epochs_measured"], errors="coerce").fillna(0) > 0
    return None


def capabilities(runs: pd.DataFrame, *, min_regression_runs: int = 10) -> dict[str, str | None]:
    """Which analyses ``runs`` supports: ``{name: None}`` when supported, else ``{name: reason}``.

    ``runs`` is a runs table as ingest/cleaning write it (``runs.parquet``, ideally the clean one);
    epoch information comes from ``has_epoch_markers`` (or ``epochs_measured``).  Names:

    * ``epochs``: needs epoch markers;
    * ``rq1``: needs >= 2 architectures in one environment;
    * ``rq2``: needs >= 2 environments for one architecture;
    * ``ram``: needs >= 2 ``total_ram_gb`` levels for one setting (same environment, GPU,
      architecture, dataset, batch and image size, as far as those columns exist);
    * ``regression``: needs >= ``min_regression_runs`` runs with epoch markers.
    """
    out: dict[str, str | None] = {}
    n = len(runs)
    if n == 0:
        return {k: "no runs" for k in ANALYSES}

    ep = _has_epochs(runs)
    if ep is None:
        out["epochs"] = "runs carry no epoch information (no has_epoch_markers / epochs_measured column)"
    elif not ep.any():
        out["epochs"] = f"no epoch markers: none of the {n} runs has an epochs.csv with epoch ends"
    else:
        out["epochs"] = None

    def spread(group: str, over: str, need: str) -> str | None:
        missing = [c for c in (group, over) if c not in runs.columns]
        if missing:
            return f"needs {need}; runs lack column(s) {', '.join(missing)}"
        counts = runs.dropna(subset=[group, over]).groupby(group)[over].nunique()
        if len(counts) and counts.max() >= 2:
            return None
        detail = ", ".join(f"{k}: {v}" for k, v in counts.items()) or "none"
        return f"needs {need}; {over} per {group}: {detail}"

    out["rq1"] = spread("environment", "architecture", ANALYSES["rq1"])
    out["rq2"] = spread("architecture", "environment", ANALYSES["rq2"])

    if "total_ram_gb" not in runs.columns:
        out["ram"] = f"needs {ANALYSES['ram']}; runs lack column total_ram_gb"
    else:
        keys = [c for c in RAM_SETTING if c in runs.columns]
        sub = runs.dropna(subset=["total_ram_gb"])
        levels = (
            sub.groupby(keys, dropna=False)["total_ram_gb"].nunique()
            if keys
            else pd.Series([sub["total_ram_gb"].nunique()])
        )
        if len(levels) and levels.max() >= 2:
            out["ram"] = None
        else:
            out["ram"] = (
                f"needs {ANALYSES['ram']}; every setting has a single RAM level "
                f"({', '.join(str(v) for v in sorted(sub['total_ram_gb'].unique())) or 'none'} GB)"
            )

    n_ep = int(ep.sum()) if ep is not None else 0
    if n_ep >= min_regression_runs:
        out["regression"] = None
    else:
        out["regression"] = (
            f"needs {ANALYSES['regression'].format(min_regression_runs=min_regression_runs)}; "
            f"{n_ep} of {n} runs have them"
        )
    return out
