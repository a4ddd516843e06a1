"""The static gates CI enforces (it runs this file with the README's test command): ruff's lint and
format, snakefmt and `snakemake --lint` on the workflow, and one list of pinned versions everywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "cmd",
    [
        ("ruff", "check", "."),
        ("ruff", "format", "--check", "."),
        ("snakefmt", "--check", "."),
    ],
    ids=" ".join,
)
def test_lint_and_format_are_clean(cmd):
    proc = _run(str(BIN / cmd[0]), *cmd[1:])
    assert proc.returncode == 0, f"`{' '.join(cmd)}` wants changes:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"


def test_snakemake_lint_is_clean():
    proc = _run(sys.executable, "-m", "snakemake", "--lint", "--cores", "1")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Congratulations, your workflow is in a good condition" in out, out[-4000:]


def _pins(deps: list) -> dict[str, str]:
    out = {}
    for d in deps:
        if isinstance(d, str) and (m := re.fullmatch(r"([A-Za-z0-9_.-]+)\s*[=]{1,2}\s*([^=\s]+)", d.strip())):
            out[m.group(1).lower()] = m.group(2)
    return out


def test_conda_environments_pin_what_pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _pins(project["dependencies"])
    extras = {k: _pins(v) for k, v in project["optional-dependencies"].items()}
    rule_env = yaml.safe_load((ROOT / "workflow" / "envs" / "dlenergy.yaml").read_text())
    full_env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert _pins(rule_env["dependencies"]) == {"python": "3.11", **runtime}
    assert {"-e ../.."} <= set(next(d["pip"] for d in rule_env["dependencies"] if isinstance(d, dict)))
    want = {"python": "3.11", **runtime, **extras["pipeline"], **extras["test"]}
    got = _pins(full_env["dependencies"])
    assert {k: got.get(k) for k in want} == want
    assert len(runtime) >= 20 and all(re.fullmatch(r"[0-9][0-9.]*", v) for v in runtime.values())


def test_every_rule_names_its_software():
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        rules = re.findall(r"(?m)^\s*(?:rule|checkpoint) (\w+):", text)
        blocks = re.split(r"(?m)^\s*(?:rule|checkpoint) \w+:", text)[1:]
        for name, block in zip(rules, blocks):
            assert "conda:\n" in block and '"../envs/dlenergy.yaml"' in block, f"{smk.name}: rule {name} has no conda:"
