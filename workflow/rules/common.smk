import functools
import sys
from pathlib import Path

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


def library_digest() -> str:
    """sha256 (first 16 hex) of the dlenergy package's sources and data files.

    Every analysis rule carries it as a param (``library=LIBRARY``; params are a rerun trigger), so
    results follow changes of the library the rule scripts call, not only of the scripts themselves.
    """
    import hashlib

    import dlenergy

    root = Path(dlenergy.__file__).parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in (".py", ".csv", ".yaml") and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode())
            h.update(b"\0")
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


LIBRARY = library_digest()


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


def analysis_outputs(prefix, subcategory, tables=(), extra_csv=(), figures=()):
    """Named outputs of an analysis rule, registered for the report with the caption
    ``workflow/report/<prefix>_<name>.rst``: <table>.csv (+ <table>_md), extra CSVs, and
    <figure>_pdf / <figure>_png."""
    out = {}
    for name in tables:
        out[name] = report(
            f"{RESULTS}/tables/{name}.csv",
            caption=f"../report/{prefix}_{name}.rst",
            category="Tables",
            subcategory=subcategory,
            labels={"table": name},
        )
        out[f"{name}_md"] = f"{RESULTS}/tables/{name}.md"
    for name in extra_csv:
        out[name] = f"{RESULTS}/tables/{name}.csv"
    for name in figures:
        out[f"{name}_pdf"] = f"{RESULTS}/figures/{name}.pdf"
        out[f"{name}_png"] = report(
            f"{RESULTS}/figures/{name}.png",
            caption=f"../report/{prefix}_{name}.rst",
            category="Figures",
            subcategory=subcategory,
            labels={"figure": name},
        )
    return out


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
        f"{RESULTS}/clean/analyses.csv",
    ]


# ---- helpers of report.smk (the reviewer view) ----
from snakemake.io import get_flag_value, is_flagged

REPORT_CFG = config.get("scorecard", {}) or {}
REPORT_CAPTIONS = Path(workflow.basedir) / "workflow" / "report"
REPORT_TABLE_DIR = f"{RESULTS}/tables"


def declared_tables():
    """The CSV tables (results/<source>/tables/*.csv) that the rule files included so far declare."""
    prefix = f"{REPORT_TABLE_DIR}/"
    paths = (str(p) for p in EXTRA_TARGETS)
    return sorted({p for p in paths if p.startswith(prefix) and p.endswith(".csv") and "/" not in p[len(prefix):]})


def report_flagged_outputs():
    """{path: rule name} of every output some rule already registers for the report."""
    out = {}
    for r in workflow.rules:
        for f in r.output:
            if is_flagged(f, "report"):
                out[str(f)] = r.name
    return out


def producing_rule(path):
    for r in workflow.rules:
        if any(str(f) == path for f in r.output):
            return r.name
    return "unknown"


def caption_file(name):
    """The report caption of table/figure `name`: <stage>_<name>.rst in workflow/report/."""
    for prefix in ("stats", "est", "report", "report_supp"):
        p = REPORT_CAPTIONS / f"{prefix}_{name}.rst"
        if p.is_file():
            return p
    return None


def latex_caption(name):
    from dlenergy.latex import caption_from_rst

    p = caption_file(name)
    text = caption_from_rst(p.read_text()) if p else ""
    return text or f"Table {name} of the dlenergy pipeline"
