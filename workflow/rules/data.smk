# Each source's data in canonical layout v1: simulated, converted from a published raw layout (the
# SEAA 2023 logs shipped in data/seaa2023/, or an archive fetched from Zenodo), or a user's dataset.


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


if any(layout_of(s) == "simulated" for s in SOURCES):

    checkpoint simulate:
        output:
            directory("data/{source}/canonical"),
            stamp="data/{source}/canonical.stamp",
        wildcard_constraints:
            source=sources_where(lambda s: layout_of(s) == "simulated"),
        params:
            seed=config["seed"],
            scale=lambda wc: src_cfg(wc.source).get("scale", "sample"),
            # a changed simulator regenerates the dataset (params are a rerun trigger)
            simulator=code_digest("dlenergy.simulate"),
        log:
            f"{LOGS}/simulate.log",
        benchmark:
            f"{BENCH}/simulate.tsv"
        script:
            "../scripts/simulate.py"


if any(fetch_of(s) == "embedded" for s in SOURCES):

    rule unpack_embedded:
        input:
            unpack(embedded_files),
        output:
            directory("data/{source}/raw"),
        wildcard_constraints:
            source=sources_where(lambda s: fetch_of(s) == "embedded"),
        log:
            f"{LOGS}/unpack_embedded.log",
        benchmark:
            f"{BENCH}/unpack_embedded.tsv"
        script:
            "../scripts/unpack_embedded.py"


if any(fetch_of(s) == "zenodo" for s in SOURCES):
    # the published archive, resolved through Zenodo's records API, fetched with its checksum and
    # unpacked atomically (dlenergy.sources.download)

    from dlenergy.sources.download import DownloadError, SourceConfigError
    from dlenergy.sources.zenodo_api import ZENODO_API, checked_source_config, preflight

    for _s in SOURCES:  # offline, or the API unreachable: one line now, not a failed job later
        _todo = not Path(f"data/{_s}/raw").is_dir() and not Path(f"data/{_s}/download/{_s}.archive").is_file()
        if fetch_of(_s) == "zenodo" and _todo:
            try:
                preflight(_s, src_cfg(_s), config.get("zenodo_api") or ZENODO_API, timeout=20)
            except (DownloadError, SourceConfigError) as exc:
                sys.exit(f"dlenergy: {exc}")

    rule download_archive:
        output:
            archive="data/{source}/download/{source}.archive",
            spec="data/{source}/download/{source}.archive.json",
        wildcard_constraints:
            source=sources_where(lambda s: fetch_of(s) == "zenodo"),
        params:
            source=source_of,
            src_cfg=lambda wc: checked_source_config(wc.source, src_cfg(wc.source)),
            api_base=config.get("zenodo_api") or ZENODO_API,
        log:
            f"{LOGS}/download.log",
        benchmark:
            f"{BENCH}/download.tsv"
        script:
            "../scripts/download.py"

    rule unpack_archive:
        input:
            archive="data/{source}/download/{source}.archive",
            spec="data/{source}/download/{source}.archive.json",
        output:
            directory("data/{source}/raw"),
        wildcard_constraints:
            source=sources_where(lambda s: fetch_of(s) == "zenodo"),
        params:
            source=source_of,
            src_cfg=lambda wc: checked_source_config(wc.source, src_cfg(wc.source)),
        log:
            f"{LOGS}/unpack.log",
        benchmark:
            f"{BENCH}/unpack.tsv"
        script:
            "../scripts/download_unpack.py"


if any(layout_of(s) == "seaa2023" for s in SOURCES):

    checkpoint adapt_seaa2023:
        input:
            raw=raw_of,
        output:
            directory("data/{source}/canonical"),
            stamp="data/{source}/canonical.stamp",
        wildcard_constraints:
            source=sources_where(lambda s: layout_of(s) == "seaa2023"),
        params:
            manifest=embedded_manifest,
        resources:
            mem_mb=1000,
        log:
            f"{LOGS}/adapt_seaa2023.log",
        benchmark:
            f"{BENCH}/adapt_seaa2023.tsv"
        script:
            "../scripts/adapt_seaa2023.py"


if any(layout_of(s) == "zenodo" for s in SOURCES):

    checkpoint adapt_zenodo:
        input:
            raw=raw_of,
        output:
            directory("data/{source}/canonical"),
            stamp="data/{source}/canonical.stamp",
        wildcard_constraints:
            source=sources_where(lambda s: layout_of(s) == "zenodo"),
        resources:
            mem_mb=2000,
        log:
            f"{LOGS}/adapt_zenodo.log",
        benchmark:
            f"{BENCH}/adapt_zenodo.tsv"
        script:
            "../scripts/adapt_zenodo.py"
