"""Mutation testing of one module with its own fast tests (docs/testing.md).

mutmut 3 takes one test selection for every module (``[tool.mutmut]`` in pyproject.toml) and reruns,
for each mutant, every selected test that calls the mutated function: with the union of the unit
tests, a mutant of ``run_energy`` reruns the simulator fixtures of test_cleaning, test_fluss, ... (a
minute each).  This script runs mutmut on one module in a scratch copy of the repository whose
selection is that module's own tests, so the modules can run one at a time or side by side, and
prints ``mutmut results``:

    nice -n 19 .venv/bin/python tools/mutmut_module.py energy [--max-children 1] [--keep DIR]

The copy (``DIR``, default ``/tmp/dlenergy-mutmut/<module>``) keeps ``mutants/``: running the script
again with ``--rerun-survivors`` retests only the mutants that survived, after the tests changed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: one thread per process: no OpenMP pool to break a fork, and no oversubscription of a small machine
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}

#: module -> (mutant name pattern, the module's own tests; a ``*`` matches several test files)
MODULES = {
    "energy": ("dlenergy.energy.*", ["tests/test_energy.py"]),
    "parsing": (
        "dlenergy.parsing.*",
        ["tests/test_parsing*.py", "tests/test_damaged_logs.py", "tests/test_damaged_multigpu.py"],
    ),
    "cleaning": ("dlenergy.cleaning.*", ["tests/test_cleaning.py"]),
    "fluss": ("dlenergy.fluss.*", ["tests/test_fluss*.py"]),
    "estimators": (
        "dlenergy.estimators.*",
        ["tests/test_estimators*.py", "tests/test_cli_*.py", "tests/test_figures.py"],
    ),
    "stats": ("dlenergy.stats.*", ["tests/test_stats*.py"]),
}


def _files_of(module: str) -> str:
    """The only_mutate glob of a module: its file, or its subpackage."""
    return "src/dlenergy/estimators/*" if module == "estimators" else f"src/dlenergy/{module}.py"


def _test_files(module: str, dest: Path) -> list[str]:
    """The module's test files in the copy, globs expanded (pytest gets them as given, unexpanded)."""
    return [str(f.relative_to(dest)) for pat in MODULES[module][1] for f in sorted(dest.glob(pat))]


def scratch_copy(module: str, dest: Path, tests_at: str | None = None, isolation: str = "forkserver") -> None:
    """The sources, tests and data the tests read, with pyproject's selection set to the module's tests.

    ``tests_at``: a git revision whose tests/ to use instead of the working tree's (a score "before").
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("src", "tests", "data/seaa2023"):
        if (dest / name).exists():
            shutil.rmtree(dest / name)
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    if tests_at:
        shutil.rmtree(dest / "tests")
        tar = subprocess.run(["git", "archive", tests_at, "tests"], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=tar, check=True)
    shutil.copy2(ROOT / "config.yaml", dest / "config.yaml")
    text = (ROOT / "pyproject.toml").read_text()
    tests = ", ".join(f'"{t}"' for t in _test_files(module, dest))
    text, n = re.subn(
        r"pytest_add_cli_args_test_selection = \[[^\]]*\]", f"pytest_add_cli_args_test_selection = [{tests}]", text
    )
    assert n == 1, "pyproject.toml has no [tool.mutmut] pytest_add_cli_args_test_selection"
    text, n = re.subn(r"only_mutate = \[[^\]]*\]", f'only_mutate = ["{_files_of(module)}"]', text)
    assert n == 1, "pyproject.toml has no [tool.mutmut] only_mutate"
    # a fork server that has imported the tests but run none: the stumpy kernels' OpenMP thread pool is
    # started in each mutant's process, not inherited through fork() (GNU OpenMP ends such a child with
    # SIGTERM).  With one thread per process (ONE_THREAD, set by main) no pool is started and plain fork,
    # several times faster per mutant, is safe: ``--isolation fork``.
    text = text.replace(
        "[tool.mutmut]\n",
        f'[tool.mutmut]\ntimeout_multiplier = 60.0\nuse_git_change_detection = false\nprocess_isolation = "{isolation}"\n',
    )
    (dest / "pyproject.toml").write_text(text)
    # the tests read ../shared beside the repository (tests/conftest.py); inside mutants/ that is DIR/shared
    shared = ROOT.parent / "shared"
    if shared.exists() and not (dest / "shared").exists():
        (dest / "shared").symlink_to(shared.resolve())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("module", choices=sorted(MODULES))
    ap.add_argument("--max-children", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="scratch directory (default /tmp/dlenergy-mutmut/MODULE)")
    ap.add_argument("--rerun-survivors", action="store_true", help="retest only the mutants that survived")
    ap.add_argument(
        "--rerun-suspicious", action="store_true", help="retest only the mutants whose test process died of a signal"
    )
    ap.add_argument(
        "--only",
        nargs="+",
        default=None,
        help="mutant name patterns within the module, e.g. 'dlenergy.estimators.online.*'",
    )
    ap.add_argument("--rerun-no-tests", action="store_true", help="retest the mutants no selected test reached")
    ap.add_argument("--resume", action="store_true", help="test only the mutants not tested yet (an interrupted run)")
    ap.add_argument("--tests-at", default=None, help="git revision whose tests to run (the score before a change)")
    ap.add_argument(
        "--isolation",
        choices=("forkserver", "fork"),
        default="forkserver",
        help="mutmut's process isolation; fork is faster and safe with one thread per process (set here)",
    )
    a = ap.parse_args(argv)
    dest = a.keep or Path("/tmp/dlenergy-mutmut") / a.module
    pattern = MODULES[a.module][0]
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    names = [] if a.resume else a.only or [pattern]  # named mutants are retested; without names only untested ones
    reruns = (("survived", a.rerun_survivors), ("suspicious", a.rerun_suspicious), ("no tests", a.rerun_no_tests))
    wanted = [s for s, on in reruns if on]
    if wanted:
        res = subprocess.run(
            [mutmut, "results", "--all", "true"], cwd=dest, capture_output=True, text=True, check=True
        ).stdout
        names = [ln.split(":")[0].strip() for ln in res.splitlines() if ln.rsplit(":", 1)[-1].strip() in wanted]
        names = [n for n in names if n.startswith(pattern.rstrip("*"))]
        if not names:
            print(f"no {' or '.join(wanted)} mutants")
            return 0
    scratch_copy(a.module, dest, a.tests_at, a.isolation)
    env = {**os.environ, **ONE_THREAD}
    rc = subprocess.run([mutmut, "run", "--max-children", str(a.max_children), *names], cwd=dest, env=env).returncode
    out = subprocess.run([mutmut, "results", "--all", "true"], cwd=dest, capture_output=True, text=True).stdout
    mine = [ln for ln in out.splitlines() if ln.strip().startswith(pattern.rstrip("*"))]
    counts: dict[str, int] = {}
    for ln in mine:
        status = ln.rsplit(":", 1)[-1].strip()
        counts[status] = counts.get(status, 0) + 1
    print(f"{a.module}: {len(mine)} mutants: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return rc


if __name__ == "__main__":
    sys.exit(main())
