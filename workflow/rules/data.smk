# Sources that are not already in canonical layout v1 are turned into it here.


if LAYOUT == "simulated":

    checkpoint simulate:
        output:
            directory(canonical_dir()),
            stamp=dataset_stamp(),
        params:
            seed=config["seed"],
            scale=SRC.get("scale", "sample"),
            # a changed simulator regenerates the dataset (params are a rerun trigger)
            simulator=code_digest("dlenergy.simulate"),
        log:
            f"{LOGS}/simulate.log",
        benchmark:
            f"{BENCH}/simulate.tsv"
        script:
            "../scripts/simulate.py"


if LAYOUT in ("seaa2023", "zenodo"):
    # Raw data: --config data_dir=... (or the source's `path`), else (fetch: zenodo) the pinned Zenodo
    # record: files, sizes and md5 from the records API (config `zenodo_api`), downloaded with pooch
    # (md5-checked, resumable) and unpacked atomically.
    RAW_DIR = source_path() or f"data/{SOURCE}/raw"

    if not source_path() and SRC.get("fetch", "zenodo") == "zenodo":
        # the params lambda fails before any job runs, with a message saying what to set
        from dlenergy.sources.zenodo_api import ZENODO_API, checked_source_config

        rule download_archive:
            output:
                archive=f"data/{SOURCE}/download/{SOURCE}.archive",
                spec=f"data/{SOURCE}/download/{SOURCE}.archive.json",
            params:
                source=SOURCE,
                src_cfg=lambda wc: checked_source_config(SOURCE, SRC),
                api_base=config.get("zenodo_api") or ZENODO_API,
            log:
                f"{LOGS}/download.log",
            benchmark:
                f"{BENCH}/download.tsv"
            script:
                "../scripts/download.py"

        rule unpack_archive:
            input:
                archive=f"data/{SOURCE}/download/{SOURCE}.archive",
                spec=f"data/{SOURCE}/download/{SOURCE}.archive.json",
            output:
                directory(RAW_DIR),
            params:
                source=SOURCE,
                src_cfg=lambda wc: checked_source_config(SOURCE, SRC),
            log:
                f"{LOGS}/unpack.log",
            benchmark:
                f"{BENCH}/unpack.tsv"
            script:
                "../scripts/download_unpack.py"


if LAYOUT == "seaa2023":

    checkpoint adapt_seaa2023:
        input:
            raw=RAW_DIR,
        output:
            directory(canonical_dir()),
            stamp=dataset_stamp(),
        resources:
            mem_mb=1000,
        log:
            f"{LOGS}/adapt_seaa2023.log",
        benchmark:
            f"{BENCH}/adapt_seaa2023.tsv"
        script:
            "../scripts/adapt_seaa2023.py"


if LAYOUT == "zenodo":

    checkpoint adapt_zenodo:
        input:
            raw=RAW_DIR,
        output:
            directory(canonical_dir()),
            stamp=dataset_stamp(),
        resources:
            mem_mb=2000,
        log:
            f"{LOGS}/adapt_zenodo.log",
        benchmark:
            f"{BENCH}/adapt_zenodo.tsv"
        script:
            "../scripts/adapt_zenodo.py"
