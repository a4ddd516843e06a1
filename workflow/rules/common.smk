import functools
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
#: the rule that makes the canonical dataset, for sources not already in layout v1
DATA_RULE = {"simulated": "simulate", "seaa2023": "adapt_seaa2023", "zenodo": "adapt_zenodo"}.get(LAYOUT)
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


def code_digest(module: str) -> str:
    """sha256 (first 16 hex) of a library module's source, for params that must follow the code."""
    import hashlib
    import importlib.util

    spec = importlib.util.find_spec(module)
    return hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest()[:16]


def dataset_stamp():
    """A small file that changes only when a rule (re)makes the whole dataset (simulate, adapters).

    Shard jobs depend on it, not on the dataset folder, so adding a run to a finished dataset
    re-runs only that run's shard (and the aggregates), via the shard digest in `shard_params`.
    """
    if LAYOUT == "canonical":
        return []
    return f"data/{SOURCE}/canonical.stamp"


def _dataset_ready():
    """Wait for the checkpoint that makes the dataset (if any), then return its folder."""
    if LAYOUT != "canonical":
        getattr(checkpoints, DATA_RULE).get()
    return Path(canonical_dir())


@functools.lru_cache(maxsize=8)
def _shard_members(dataset: str, runs_mtime: int, n_shards: int):
    from dlenergy.ingest import shard_members

    return shard_members(dataset, n_shards)


def shard_input(wildcards):
    """Input function of shard jobs: the dataset stamp (after the checkpoint ran)."""
    _dataset_ready()
    return dataset_stamp()


def shard_digest(wildcards):
    """Digest of one shard's runs.csv rows and log files (size, mtime): a params rerun trigger."""
    ds = _dataset_ready()
    rc = ds / "runs.csv"
    mt = rc.stat().st_mtime_ns if rc.is_file() else 0
    return _shard_members(str(ds), mt, N_SHARDS)[int(wildcards.shard)]


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
