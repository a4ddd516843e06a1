from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEAA = SHARED / "data" / "seaa2023"
H100 = SHARED / "data" / "h100-fixture"


def need(path: Path):
    """Skip (with the reason) when the read-only ../shared material is absent, e.g. on a fresh clone."""
    if not path.exists():
        pytest.skip(f"{path} is absent: these tests read ../shared in place (not shipped with the repo)")
    return path


@pytest.fixture
def seaa_dir():
    return need(SEAA)


@pytest.fixture
def h100_dir():
    return need(H100)
