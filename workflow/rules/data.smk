# Each source's data in canonical layout v1: simulated, converted from a published raw layout (the
# SEAA 2023 logs shipped in data/seaa2023/, or an archive fetched from Zenodo), or a user's dataset.


if any(layout_of(s) == "simulated" for s in SOURCES):

    checkpoint simulate:
        output:
            directory("data/{source}/canonical"),
            stamp="data/{source}/canonical.stamp",
        log:
            f"{LOGS}/simulate.log",
        benchmark:
            f"{BENCH}/simulate.tsv"
        wildcard_constraints:
            source=sources_where(lambda s: layout_of(s) == "simulated"),
        conda:
            "../envs/dlenergy.yaml"
        params:
            seed=config["seed"],
            scale=lambda wc: src_cfg(wc.source).get("scale", "sample"),
            # a changed simulator regenerates the dataset (params are a rerun trigger)
            simulator=code_digest("dlenergy.simulate"),
        script:
            "../scripts/simulate.py"


if any(fetch_of(s) == "embedded" for s in SOURCES):

    rule unpack_embedded:
        input:
            unpack(embedded_files),
        output:
            directory("data/{source}/raw"),
        log:
            f"{LOGS}/unpack_embedded.log",
        benchmark:
            f"{BENCH}/unpack_embedded.tsv"
        wildcard_constraints:
            source=sources_where(lambda s: fetch_of(s) == "embedded"),
        conda:
            "../envs/dlenergy.yaml"
        script:
            "../scripts/unpack_embedded.py"


if any(fetch_of(s) == "zenodo" for s in SOURCES):
    # the published archive, resolved through Zenodo's records API, fetched with its checksum and
    # unpacked atomically (dlenergy.sources.download)

    from dlenergy.sources.zenodo_api import ZENODO_API, checked_source_config

    rule download_archive:
        output:
            archive="data/{source}/download/{source}.archive",
            spec="data/{source}/download/{source}.archive.json",
        log:
            f"{LOGS}/download.log",
        benchmark:
            f"{BENCH}/download.tsv"
        wildcard_constraints:
            source=sources_where(lambda s: fetch_of(s) == "zenodo"),
        conda:
            "../envs/dlenergy.yaml"
        params:
            source=source_of,
            src_cfg=lambda wc: checked_source_config(wc.source, src_cfg(wc.source)),
            api_base=config.get("zenodo_api") or ZENODO_API,
        script:
            "../scripts/download.py"

    rule unpack_archive:
        input:
            archive="data/{source}/download/{source}.archive",
            spec="data/{source}/download/{source}.archive.json",
        output:
            directory("data/{source}/raw"),
        log:
            f"{LOGS}/unpack.log",
        benchmark:
            f"{BENCH}/unpack.tsv"
        wildcard_constraints:
            source=sources_where(lambda s: fetch_of(s) == "zenodo"),
        conda:
            "../envs/dlenergy.yaml"
        params:
            source=source_of,
            src_cfg=lambda wc: checked_source_config(wc.source, src_cfg(wc.source)),
        script:
            "../scripts/download_unpack.py"


if any(layout_of(s) == "seaa2023" for s in SOURCES):

    checkpoint adapt_seaa2023:
        input:
            raw=raw_of,
        output:
            directory("data/{source}/canonical"),
            stamp="data/{source}/canonical.stamp",
        log:
            f"{LOGS}/adapt_seaa2023.log",
        benchmark:
            f"{BENCH}/adapt_seaa2023.tsv"
        wildcard_constraints:
            source=sources_where(lambda s: layout_of(s) == "seaa2023"),
        conda:
            "../envs/dlenergy.yaml"
        resources:
            mem_mb=1000,
        params:
            manifest=embedded_manifest,
        script:
            "../scripts/adapt_seaa2023.py"


if any(layout_of(s) == "zenodo" for s in SOURCES):

    checkpoint adapt_zenodo:
        input:
            raw=raw_of,
        output:
            directory("data/{source}/canonical"),
            stamp="data/{source}/canonical.stamp",
        log:
            f"{LOGS}/adapt_zenodo.log",
        benchmark:
            f"{BENCH}/adapt_zenodo.tsv"
        wildcard_constraints:
            source=sources_where(lambda s: layout_of(s) == "zenodo"),
        conda:
            "../envs/dlenergy.yaml"
        resources:
            mem_mb=2000,
        script:
            "../scripts/adapt_zenodo.py"
