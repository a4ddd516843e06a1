# Sources that are not already in canonical layout v1 are turned into it here.


if LAYOUT == "simulated":

    rule simulate:
        output:
            directory(canonical_dir()),
        params:
            seed=config["seed"],
            scale=SRC.get("scale", "sample"),
        log:
            f"{LOGS}/simulate.log",
        benchmark:
            f"{BENCH}/simulate.tsv"
        shell:
            "{PY} -m dlenergy simulate --out {output} --seed {params.seed} --scale {params.scale} > {log} 2>&1"
