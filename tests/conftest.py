from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# The property tests draw the same examples on every run (CI must not turn red by chance) and keep no
# example database.  `HYPOTHESIS_PROFILE=explore` draws new examples each run, to look for failures.
settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
H100 = SHARED / "data" / "h100-fixture"
#: the real SEAA 2023 logs that ship with the project (one archive + manifest, data/seaa2023/)
EMBEDDED = ROOT / "data" / "seaa2023"


def need(path: Path):
    """Skip (with the reason) when the read-only ../shared material is absent, e.g. on a fresh clone."""
    if not path.exists():
        pytest.skip(f"{path} is absent: these tests read ../shared in place (not shipped with the repo)")
    return path


@pytest.fixture(scope="session")
def seaa_dir(tmp_path_factory):
    """The real SEAA 2023 raw logs, unpacked from the project's archive and checked against its manifest."""
    from dlenergy.sources.embedded import ARCHIVE_NAME, MANIFEST_NAME, unpack_embedded

    out = tmp_path_factory.mktemp("seaa2023") / "raw"
    return unpack_embedded(EMBEDDED / ARCHIVE_NAME, EMBEDDED / MANIFEST_NAME, out)


@pytest.fixture
def h100_dir():
    return need(H100)
