"""The pipeline's configuration: sources of a run, typed overrides, a strict schema that names the key."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from dlenergy.config import ConfigError, active_sources, check_config, coerce_to_schema

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())


def _errors(cfg: dict) -> list[str]:
    v = jsonschema.Draft202012Validator(SCHEMA)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(cfg)]


def test_shipped_config_is_valid_and_builds_real_and_synthetic():
    assert _errors(CONFIG) == []
    assert active_sources(CONFIG) == ["seaa2023", "sample"]
    assert CONFIG["sources"]["seaa2023"]["fetch"] == "embedded"
    assert "PLACEHOLDER" not in (ROOT / "config.yaml").read_text().upper()


@pytest.mark.parametrize(
    "path, key, value, needle",
    [
        (("ingest",), "n_shard", 8, "'n_shard' was unexpected"),
        (("cleaning",), "min_epoch", 5, "'min_epoch' was unexpected"),
        ((), "sourse", "sample", "'sourse' was unexpected"),
        (("sources", "sample"), "scal", "tiny", "'scal' was unexpected"),
        (("estimators", "online"), "stabilizing_epoch", "banana", "estimators.online.stabilizing_epoch"),
        (("ingest",), "n_shards", 100000, "100000 is greater than the maximum of 256"),
        (("ingest",), "n_shards", "8", "'8' is not of type 'integer'"),
    ],
)
def test_schema_rejects_unknown_keys_and_wrong_types_naming_the_key(path, key, value, needle):
    cfg = copy.deepcopy(CONFIG)
    node = cfg
    for p in path:
        node = node[p]
    node[key] = value
    errors = _errors(cfg)
    assert errors and any(needle in e for e in errors), errors


def test_check_config_names_the_key_in_one_line():
    cfg = copy.deepcopy(CONFIG)
    cfg["cleaning"]["min_epoch"] = 5
    with pytest.raises(ConfigError) as err:
        check_config(cfg, SCHEMA)
    msg = str(err.value)
    assert msg.startswith("config key `cleaning.min_epoch` is not a setting of dlenergy; allowed here: ")
    assert "min_epochs" in msg and "\n" not in msg
    cfg = copy.deepcopy(CONFIG)
    cfg["ingest"]["n_shards"] = 0
    with pytest.raises(ConfigError, match=r"config key `ingest.n_shards`: 0 is less than the minimum of 1"):
        check_config(cfg, SCHEMA)


def test_nested_override_strings_become_the_schema_types():
    """--config ingest='{n_shards: 8}' arrives as strings (YAML base loader): typed before validation."""
    override = {
        "ingest": {"n_shards": "8", "ram_w_per_mb": "3.75e-4"},
        "estimators": {
            "online": {"stabilizing_epoch": "10", "window": "5"},
            "fluss": {"normalize": "true", "points_per_epoch": "null"},
        },
        "stats": {"p_adjust": "none", "rq1_environment": "123"},
    }
    got = coerce_to_schema(override, SCHEMA)
    assert got["ingest"] == {"n_shards": 8, "ram_w_per_mb": 3.75e-4}
    assert got["estimators"]["online"] == {"stabilizing_epoch": 10, "window": 5}
    assert got["estimators"]["fluss"] == {"normalize": True, "points_per_epoch": None}
    # strings stay strings where the schema wants a string
    assert got["stats"] == {"p_adjust": "none", "rq1_environment": "123"}
    assert coerce_to_schema({"ingest": {"n_shards": "eight"}}, SCHEMA) == {"ingest": {"n_shards": "eight"}}


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({"source": "nope"}, "source 'nope' is not one of the configured sources"),
        ({"source": []}, "names no source"),
        ({"source": ["sample", "sample"]}, "repeats a name"),
        ({"source": ["sample", "tiny"], "data_dir": "/x"}, "data_dir is the path of one source"),
    ],
)
def test_active_sources_refuses_what_cannot_work(cfg, message):
    with pytest.raises(ConfigError, match=message):
        active_sources({**CONFIG, **cfg})


def _dry_run(*config: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    cmd = [sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--config", *config]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_snakemake_takes_a_nested_override_and_names_a_misspelt_key():
    ok = _dry_run("source=tiny", "ingest={n_shards: 3}")
    assert ok.returncode == 0, ok.stderr[-3000:]
    out = ok.stdout + ok.stderr
    assert any(line.split()[:2] == ["ingest_shard", "3"] for line in out.splitlines()), out[-3000:]
    bad = _dry_run("source=tiny", "ingest={n_shard: 3}")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "dlenergy: config key `ingest.n_shard` is not a setting of dlenergy; allowed here: " in bad.stderr
    assert "n_shards" in bad.stderr.split("allowed here: ")[1]
    many = _dry_run("source=sample", "data_dir=/tmp/x", "source=[sample,tiny]")
    assert many.returncode != 0 and "data_dir is the path of one source" in many.stderr
