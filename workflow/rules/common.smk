import sys
from pathlib import Path

#: the interpreter running Snakemake: shell rules call `{PY} -m dlenergy` so no PATH set-up is needed
PY = sys.executable

SOURCE = config["source"]
if SOURCE not in config["sources"]:
    raise ValueError(
        f"config: source '{SOURCE}' is not one of the configured sources: {', '.join(config['sources'])}"
    )
SRC = config["sources"][SOURCE]
LAYOUT = SRC["layout"]
N_SHARDS = int(config.get("ingest", {}).get("n_shards", 4))
SHARDS = [f"{i:03d}" for i in range(N_SHARDS)]
RESULTS = f"results/{SOURCE}"
LOGS = f"logs/{SOURCE}"
BENCH = f"{RESULTS}/benchmarks"


def source_path():
    """Path of the source's data: --config data_dir=... wins over the source's own path."""
    p = config.get("data_dir") or SRC.get("path")
    return p


def canonical_dir():
    """The source's dataset in canonical layout v1 (made by a rule unless the source is canonical)."""
    if LAYOUT == "canonical":
        p = source_path()
        if not p:
            raise ValueError(
                f"config: source '{SOURCE}' has layout 'canonical' but no path; "
                "pass --config data_dir=/path/to/DATASET"
            )
        if not Path(p).is_dir():
            raise ValueError(f"config: data_dir {p} of source '{SOURCE}' is not a directory")
        return p
    if LAYOUT == "simulated":
        return config.get("data_dir") or SRC.get("path") or f"data/{SOURCE}/canonical"
    return f"data/{SOURCE}/canonical"


#: rule files add their final outputs here (see workflow/rules/*.smk)
EXTRA_TARGETS = []


def all_targets():
    return EXTRA_TARGETS + [
        f"{RESULTS}/runs.parquet",
        f"{RESULTS}/epochs.parquet",
        f"{RESULTS}/clean/runs.parquet",
        f"{RESULTS}/clean/epochs.parquet",
        f"{RESULTS}/clean/excluded.csv",
        f"{RESULTS}/clean/summary.csv",
    ]
