import functools
import re
import sys
import time
from pathlib import Path

from dlenergy.config import ConfigError, active_sources

# One run builds every source named by `source` (a name or a list; default: the real SEAA 2023 logs
# and the synthetic sample).  Every path below carries the {source} wildcard.
try:
    SOURCES = active_sources(config)
except ConfigError as exc:
    sys.exit(f"dlenergy: {exc}")
RUN_START = time.time()
N_SHARDS = int(config["ingest"]["n_shards"])
SHARDS = [f"{i:03d}" for i in range(N_SHARDS)]
RESULTS = "results/{source}"
LOGS = "logs/{source}"
BENCH = "results/{source}/benchmarks"
#: the rule that makes a source's canonical dataset, by layout (canonical sources need none)
DATA_RULE = {"simulated": "simulate", "seaa2023": "adapt_seaa2023", "zenodo": "adapt_zenodo"}


wildcard_constraints:
    source="|".join(re.escape(s) for s in SOURCES),
    shard=r"\d{3}",


def src_cfg(source):
    return config["sources"][source]


def layout_of(source):
    return src_cfg(source)["layout"]


def sources_where(test):
    """The active sources for which test(name) holds, as a wildcard constraint (never empty)."""
    names = [s for s in SOURCES if test(s)]
    return "|".join(re.escape(s) for s in names) if names else "(?!)"


def source_path(source):
    """The source's own data: --config data_dir=... (one source only) wins over its configured path."""
    return config.get("data_dir") or src_cfg(source).get("path")


def canonical_dir(source):
    """The source's dataset in canonical layout v1 (made by a rule unless the source is canonical)."""
    if layout_of(source) != "canonical":
        return f"data/{source}/canonical"
    p = source_path(source)
    if not p:
        sys.exit(
            f"dlenergy: source '{source}' has layout 'canonical' but no path; pass --config source={source} "
            "data_dir=/path/to/DATASET"
        )
    if not Path(p).is_dir():
        sys.exit(f"dlenergy: data_dir {p} of source '{source}' is not a directory")
    return p


for _s in SOURCES:  # a canonical source's folder is checked now, before any job runs
    if layout_of(_s) == "canonical":
        canonical_dir(_s)


def dataset_of(wildcards):
    """Input function: the source's canonical dataset folder."""
    return canonical_dir(wildcards.source)


def source_of(wildcards):
    """Params function: the source's name (rule scripts read snakemake.params.source)."""
    return wildcards.source


def dataset_stamp(source):
    """A small file that changes only when a rule (re)makes the whole dataset (simulate, adapters).

    Shard jobs depend on it, not on the dataset folder, so adding a run to a finished dataset
    re-runs only that run's shard (and the aggregates), via the shard digest in `shard_digest`.
    """
    return [] if layout_of(source) == "canonical" else f"data/{source}/canonical.stamp"


def stamp_of(wildcards):
    return dataset_stamp(wildcards.source)


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


def _dataset_ready(source):
    """Wait for the checkpoint that makes the source's dataset (if any), then return its folder."""
    if layout_of(source) != "canonical":
        getattr(checkpoints, DATA_RULE[layout_of(source)]).get(source=source)
    return Path(canonical_dir(source))


@functools.lru_cache(maxsize=32)
def _shard_members(dataset: str, runs_mtime: int, n_shards: int):
    from dlenergy.ingest import shard_members

    return shard_members(dataset, n_shards)


def shard_input(wildcards):
    """Input function of shard jobs: the dataset stamp (after the checkpoint ran)."""
    _dataset_ready(wildcards.source)
    return dataset_stamp(wildcards.source)


def shard_digest(wildcards):
    """Digest of one shard's runs.csv rows and log files (size, mtime): a params rerun trigger."""
    ds = _dataset_ready(wildcards.source)
    rc = ds / "runs.csv"
    mt = rc.stat().st_mtime_ns if rc.is_file() else 0
    return _shard_members(str(ds), mt, N_SHARDS)[int(wildcards.shard)]


def registered(path, caption, category, subcategory=None, **labels):
    """``report(path, ...)`` with the source among the labels (one report can hold several sources)."""
    return report(
        path,
        caption=caption,
        category=category,
        subcategory=subcategory,
        labels={"source": "{source}", **labels},
    )


def analysis_outputs(prefix, subcategory, tables=(), extra_csv=(), figures=()):
    """Named outputs of an analysis rule, registered for the report with the caption
    ``workflow/report/<prefix>_<name>.rst``: <table>.csv (+ <table>_md), extra CSVs, and
    <figure>_pdf / <figure>_png."""
    out = {}
    for name in tables:
        out[name] = registered(
            f"{RESULTS}/tables/{name}.csv", f"../report/{prefix}_{name}.rst", "Tables", subcategory, table=name
        )
        out[f"{name}_md"] = f"{RESULTS}/tables/{name}.md"
    for name in extra_csv:
        out[name] = f"{RESULTS}/tables/{name}.csv"
    for name in figures:
        out[f"{name}_pdf"] = f"{RESULTS}/figures/{name}.pdf"
        out[f"{name}_png"] = registered(
            f"{RESULTS}/figures/{name}.png", f"../report/{prefix}_{name}.rst", "Figures", subcategory, figure=name
        )
    return out


#: rule files add their final outputs here, as patterns with {source} (see workflow/rules/*.smk)
EXTRA_TARGETS = []


def source_targets(source):
    """Every final output of one source."""
    patterns = EXTRA_TARGETS + [
        f"{RESULTS}/runs.parquet",
        f"{RESULTS}/epochs.parquet",
        f"{RESULTS}/clean/runs.parquet",
        f"{RESULTS}/clean/epochs.parquet",
        f"{RESULTS}/clean/excluded.csv",
        f"{RESULTS}/clean/summary.csv",
        f"{RESULTS}/clean/analyses.csv",
    ]
    return [str(p).format(source=source) for p in patterns]


def all_targets():
    return [t for s in SOURCES for t in source_targets(s)] + ["results/index.md"]


# ---- helpers of report.smk (the reviewer view) ----
from snakemake.io import get_flag_value, is_flagged

REPORT_CFG = config.get("scorecard", {}) or {}
REPORT_CAPTIONS = Path(workflow.basedir) / "workflow" / "report"
REPORT_TABLE_DIR = f"{RESULTS}/tables"


def declared_tables():
    """The CSV table patterns (results/{source}/tables/*.csv) that the rule files included so far declare."""
    prefix = f"{REPORT_TABLE_DIR}/"
    paths = (str(p) for p in EXTRA_TARGETS)
    return sorted({p for p in paths if p.startswith(prefix) and p.endswith(".csv") and "/" not in p[len(prefix) :]})


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


# ---- what the console says at the start and at the end of a run ----


def preflight_downloads(sources):
    """Offline, or the API unreachable: one line and exit 1 before any job, not a failed job later.

    Called when a run starts (not for dry runs, --list-rules or --lint), for each source that will
    be downloaded from Zenodo and is not downloaded yet.
    """
    from dlenergy.sources.download import DownloadError, SourceConfigError
    from dlenergy.sources.zenodo_api import ZENODO_API, preflight

    for s in sources:
        done = Path(f"data/{s}/raw").is_dir() or Path(f"data/{s}/download/{s}.archive").is_file()
        if fetch_of(s) == "zenodo" and not done:
            try:
                preflight(s, src_cfg(s), config.get("zenodo_api") or ZENODO_API, timeout=20)
            except (DownloadError, SourceConfigError) as exc:
                print(f"dlenergy: {exc}", file=sys.stderr, flush=True)
                sys.exit(1)


def print_first_run_note(sources):
    """On a machine whose numba cache is cold, say that stumpy's code compiles once, and for how long."""
    from dlenergy.fluss import numba_cache_dir, numba_cache_is_warm

    if not numba_cache_is_warm():
        print(
            f"dlenergy: first run on this machine: stumpy's numba code compiles once (about 30 s) "
            f"into {numba_cache_dir()}; later runs load it in seconds.",
            flush=True,
        )


def print_closing_lines(sources):
    """The two lines a run ends with: where the summary is, and how to build the report.

    Printed when the process exits, so they come after Snakemake's own closing messages.
    """
    import atexit

    lines = (
        f"dlenergy: results of {', '.join(sources)} are summarised in results/index.md",
        "dlenergy: the reviewer's report: .venv/bin/snakemake --report results/report.html",
    )
    atexit.register(lambda: print(*lines, sep="\n", flush=True))


def print_failures():
    """After a failed run: one line per failed job, its log and the error it ends with."""
    from dlenergy.runlog import failures

    found = failures("logs", RUN_START - 1)
    for f in found:
        print(f.line(), file=sys.stderr, flush=True)
    if not found:
        print("dlenergy: a job failed; its log is named above (logs/<source>/...)", file=sys.stderr, flush=True)


# ---- data.smk: raw folders of converted sources ----


def raw_dir(source):
    """The raw folder a converted source reads: its data_dir/path, else data/<source>/raw (made here)."""
    return source_path(source) or f"data/{source}/raw"


def raw_of(wildcards):
    return raw_dir(wildcards.source)


def fetch_of(source):
    """How a converted source without a path gets its raw folder: embedded (in the repo) or zenodo."""
    if layout_of(source) not in ("seaa2023", "zenodo") or source_path(source):
        return None
    return src_cfg(source).get("fetch", "zenodo")


def embedded_files(wildcards):
    emb = src_cfg(wildcards.source)["embedded"]
    return {"archive": emb["archive"], "manifest": emb["manifest"]}


def embedded_manifest(wildcards):
    """The manifest the raw folder is checked against before each use (embedded data only)."""
    if fetch_of(wildcards.source) == "embedded":
        return src_cfg(wildcards.source)["embedded"]["manifest"]
    return None


# ---- estimators.smk: the numba warm-up's rerun triggers ----


def numba_versions():
    from importlib.metadata import version

    return {p: version(p) for p in ("numba", "stumpy", "numpy")}


def numba_cache_dir():
    from dlenergy.fluss import numba_cache_dir as cache_dir

    return cache_dir()


# ---- robustness.smk and claims.smk: optional inputs ----


def robustness_for_scorecard(wildcards):
    """The scorecard's input: robustness.csv when this run makes it (robustness.in_default_run) or it exists."""
    path = ROBUSTNESS_CSV.format(source=wildcards.source)
    return path if ROBUST_CFG.get("in_default_run", False) or Path(path).exists() else []


def claims_inputs(wildcards):
    """The declared tables (results/<source>/tables/<name>.csv) that the claims read, and the
    outlier-seed ranges (tables/robustness.csv) when this run makes them or they exist."""
    declared = set(declared_tables())
    tables = [t for t in (f"{RESULTS}/tables/{name}.csv" for name in CLAIM_TABLES) if t in declared]
    extra = robustness_for_scorecard(wildcards)
    return [t.format(source=wildcards.source) for t in tables] + ([extra] if extra else [])
