"""Snakemake profiles: every rule name they set resources for exists, and the SLURM overrides apply."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted((ROOT / "profiles").glob("*/config.yaml"))


def _snakemake(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def rule_names() -> set[str]:
    out = _snakemake("--list-rules", "--config", "source=[tiny,seaa2023,zenodo]")
    return {line.strip() for line in out.splitlines() if re.fullmatch(r"\s*[a-z_0-9]+\s*", line)}


def test_there_is_a_default_and_a_slurm_profile():
    assert {p.parent.name for p in PROFILES} >= {"default", "slurm"}


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.parent.name)
def test_profile_keys_name_rules_of_the_workflow(profile, rule_names):
    cfg = yaml.safe_load(profile.read_text()) or {}
    assert {"est_fluss_shard", "est_offline", "ingest_shard", "simulate"} <= rule_names
    for section in ("set-resources", "set-threads"):
        unknown = sorted(set(cfg.get(section) or {}) - rule_names)
        assert unknown == [], f"{profile}: {section} names rules that do not exist: {unknown}"


def test_slurm_profile_resources_reach_the_jobs():
    out = _snakemake("-n", "--config", "source=tiny", "--profile", "profiles/slurm", "--workflow-profile", "none")
    want = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())["set-resources"]
    blocks = re.findall(r"rule (\w+):\n(?:    .*\n)*?    resources: (.*)", out)
    seen = {}
    for rule, res in blocks:
        seen.setdefault(rule, dict(kv.split("=", 1) for kv in res.split(", ")))
    for rule, resources in want.items():
        assert rule in seen, f"no job of {rule} in the dry run"
        for key, value in resources.items():
            assert seen[rule][key] == str(value), (rule, key, seen[rule][key])
