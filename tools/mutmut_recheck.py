"""Retest chosen mutants of a finished mutmut run against the current tests, and record the verdicts.

``mutmut run`` resets *every* result of a scratch copy when its test selection changes (a new test file
is a change), so the survivors of a long run cannot be retested by mutmut after tests were added for
them without running the whole module again.  This script does what mutmut does for one mutant, in a
fresh process: it copies the repository's ``tests/`` into ``SCRATCH/mutants/tests``, runs
``pytest -x`` on the tests mutmut found covering the mutated function plus every test file mutmut did
not know, with ``MUTANT_UNDER_TEST`` naming the mutant, and writes the exit code into the mutant's
``.meta`` file (1 killed, 0 survived, -24 over the time limit), so ``mutmut results`` shows it:

    .venv/bin/python tools/mutmut_recheck.py /tmp/dlenergy-mutmut/stats --status survived timeout
    .venv/bin/python tools/mutmut_recheck.py /tmp/dlenergy-mutmut/fluss --status suspicious --jobs 2

Run it only when no ``mutmut run`` is working in that scratch copy (both write the ``.meta`` files).
Thread pools are limited to one thread per process (``OMP_NUM_THREADS=1`` and the like).  By default the
mutants' tests run in children forked from one process that has collected the tests (as mutmut does);
``--fresh`` starts a new Python for each mutant instead (slower, ``--jobs`` of them at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: "not run": mutants an interrupted ``mutmut run`` never reached (their tests are those of the "after" score)
STATUS = {
    "survived": {0},
    "timeout": {-24, 24, 152},
    "suspicious": {-15, -11, -9, -6},
    "no tests": {33},
    "not run": {None},
}
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}


def chosen(scratch: Path, statuses: list[str], prefix: list[str], skip: list[str] = ()) -> dict[str, Path]:
    """Mutant name -> its .meta file, for the mutants whose recorded exit code is in ``statuses``."""
    codes = set().union(*(STATUS[s] for s in statuses))
    out = {}
    for meta in sorted((scratch / "mutants").rglob("*.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if code in codes and name.startswith(tuple(prefix)) and not name.startswith(tuple(skip) or ("\0",)):
                out[name] = meta
    return out


#: test files run whole, first (tests added to a file mutmut knows are not in its coverage map)
WHOLE: list[str] = []
#: only the tests mutmut did not know (``--new-only``): a survivor already passed the ones it knew
NEW_ONLY: list[bool] = [False]


def tests_for(scratch: Path, name: str) -> list[str]:
    """The tests mutmut found covering the mutant's function, plus the test files it never saw."""
    stats = json.loads((scratch / "mutants" / "mutmut-stats.json").read_text())
    known_files = {t.split("::")[0] for t in stats["duration_by_test"]}
    selection = [f for f in _selection(scratch) if (scratch / "mutants" / f).exists()]
    function = name.rsplit("__mutmut_", 1)[0]
    covering = sorted(stats["tests_by_mangled_function_name"].get(function, ()))
    # the test files mutmut never saw first: they were written for the survivors, and -x stops at a kill
    new = WHOLE + [f for f in selection if f not in known_files]
    return new if NEW_ONLY[0] else new + [t for t in covering if t.split("::")[0] not in WHOLE]


def _selection(scratch: Path) -> list[str]:
    """The test files of the scratch copy's selection, and the repository's files matching its stems."""
    import tomllib

    cfg = tomllib.loads((scratch / "pyproject.toml").read_text())["tool"]["mutmut"]
    files = list(cfg["pytest_add_cli_args_test_selection"])
    for f in list(files):
        stem = Path(f).stem
        files += [str(p.relative_to(ROOT)) for p in sorted((ROOT / "tests").glob(f"{stem}_*.py"))]
    return list(dict.fromkeys(files))


def run_one(scratch: Path, name: str, timeout_s: float) -> int:
    env = {**os.environ, **ONE_THREAD, "MUTANT_UNDER_TEST": name, "PYTHONPATH": "src"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    try:
        proc = subprocess.run(
            cmd + tests_for(scratch, name), cwd=scratch / "mutants", env=env, capture_output=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return -24
    return proc.returncode  # mutmut's reading: 1 or 3 killed, 0 survived, 2 interrupted (a collection error)


def run_forked(scratch: Path, names: list[str], timeout_s: float):
    """Yield (name, exit code), each mutant's tests run in a child forked from one warm process.

    The parent imports pytest and collects the tests once (importing the code, running none of it, so no
    thread pool is inherited); each child names its mutant in ``MUTANT_UNDER_TEST`` and runs pytest.
    """
    os.environ.update(ONE_THREAD)
    os.chdir(scratch / "mutants")
    sys.path.insert(0, str(scratch / "mutants" / "src"))
    import pytest

    files = sorted({t.split("::")[0] for n in names for t in tests_for(scratch, n)})
    pytest.main(["--collect-only", "-qq", "-p", "no:cacheprovider", *files])
    failing = cached_baseline(scratch, files, timeout_s * 4)
    for test in failing:
        print(f"deselected, fails without a mutant (the scratch copy's code is older than the test): {test}")
    deselect = [arg for test in failing for arg in ("--deselect", test)]
    for name in names:
        yield name, _child(name, tests_for(scratch, name) + deselect, timeout_s)


def cached_baseline(scratch: Path, files: list[str], timeout_s: float) -> list[str]:
    """:func:`baseline_failures`, kept in the scratch copy for the same test files with the same content."""
    import hashlib

    key = hashlib.sha256("".join(f + Path(f.split("::")[0]).read_text() for f in files).encode()).hexdigest()
    cache = scratch / "recheck-baseline.json"
    known = json.loads(cache.read_text()) if cache.exists() else {}
    if key not in known:
        known[key] = baseline_failures(files, timeout_s)
        cache.write_text(json.dumps(known, indent=1))
    return known[key]


def baseline_failures(files: list[str], timeout_s: float) -> list[str]:
    """Tests that fail with no mutant active: a mutant is not "killed" by them."""
    import tempfile

    report = Path(tempfile.gettempdir()) / f"mutmut-recheck-{os.getpid()}.xml"
    code = _child("", ["-o", "junit_family=xunit1", f"--junitxml={report}", *files], timeout_s, stop_first=False)
    if code not in (0, 1) or not report.exists():
        raise SystemExit(f"the tests do not run without a mutant (pytest exit code {code})")
    import xml.etree.ElementTree as ET

    failed = []
    for case in ET.parse(report).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            path = case.get("file") or case.get("classname", "").replace(".", "/") + ".py"
            failed.append(f"{path}::{case.get('name')}")
    report.unlink()
    return failed


def _child(name: str, tests: list[str], timeout_s: float, stop_first: bool = True) -> int:
    import signal
    import time

    import pytest

    pid = os.fork()
    if pid == 0:  # the child: quiet, one mutant, pytest's exit code
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1), os.dup2(null, 2)
        os.environ["MUTANT_UNDER_TEST"] = name
        first = ["-x"] if stop_first else []
        os._exit(int(pytest.main([*first, "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *tests])))
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return -24


def record(meta: Path, name: str, code: int) -> None:
    """Write one verdict into its .meta file at once (an interrupted recheck keeps what it did)."""
    data = json.loads(meta.read_text())
    data["exit_code_by_key"][name] = code
    tmp = meta.with_suffix(".meta.tmp")
    tmp.write_text(json.dumps(data, indent=4))
    tmp.replace(meta)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scratch", type=Path)
    ap.add_argument("--status", nargs="+", choices=sorted(STATUS), default=["survived"])
    ap.add_argument("--only", nargs="+", default=["dlenergy."], help="mutant name prefixes")
    ap.add_argument("--skip", nargs="+", default=[], help="mutant name prefixes left out")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    ap.add_argument("--whole", nargs="+", default=[], help="test files to run whole, first (tests added to them)")
    ap.add_argument(
        "--new-only",
        action="store_true",
        help="run only the tests mutmut did not know (enough for survivors: mutmut ran the rest on them)",
    )
    ap.add_argument("--fresh", action="store_true", help="a fresh Python per mutant instead of forked children")
    a = ap.parse_args(argv)
    metas = chosen(a.scratch, a.status, a.only, a.skip)
    WHOLE.extend(a.whole)
    NEW_ONLY[0] = a.new_only
    shutil.copytree(ROOT / "tests", a.scratch / "mutants" / "tests", dirs_exist_ok=True)
    a.scratch = a.scratch.resolve()
    verdicts = {}
    with ThreadPoolExecutor(a.jobs) as pool:
        if a.fresh:
            results = zip(metas, pool.map(lambda n: run_one(a.scratch, n, a.timeout), list(metas)))
        else:
            results = run_forked(a.scratch, list(metas), a.timeout)
        for name, code in results:
            verdicts[name] = code
            record(metas[name], name, code)
            print(f"{name}: {'killed' if code in (1, 3) else 'survived' if code == 0 else code}", flush=True)
    n_killed = sum(c in (1, 3) for c in verdicts.values())
    print(f"{len(verdicts)} retested: {n_killed} killed, {sum(c == 0 for c in verdicts.values())} survived")
    return 0


if __name__ == "__main__":
    sys.exit(main())
