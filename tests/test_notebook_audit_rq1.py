"""notebooks/audit_rq1.ipynb executed headless (nbclient) on the real SEAA 2023 logs: the pipeline makes
the RQ1 tables with Snakemake in a temporary copy of the workflow, and the notebook's assert cells check
that scipy, pingouin and scikit-posthocs, called directly, give the same Kruskal-Wallis, eta^2 and Dunn."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "audit_rq1.ipynb"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rq1_results(tmp_path_factory, seaa_dir):
    """results/seaa2023 with clean/runs.parquet and the RQ1 tables, made by the pipeline's own rules from
    the SEAA 2023 logs shipped in data/seaa2023 (unpacked and checked against the manifest)."""
    wd = tmp_path_factory.mktemp("audit") / "wf"
    wd.mkdir()
    shutil.copy(ROOT / "Snakefile", wd)
    shutil.copy(ROOT / "config.yaml", wd)
    shutil.copytree(ROOT / "workflow", wd / "workflow")
    target = "results/seaa2023/tables/kruskal_dunn_rq1.csv"
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "2",
        target,
        "--config",
        "source=seaa2023",
        f"data_dir={seaa_dir}",
    ]
    proc = subprocess.run(
        cmd, cwd=wd, env=dict(os.environ, PYTHONHASHSEED="0"), capture_output=True, text=True, timeout=1800
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    return wd


def test_audit_rq1_notebook_executes(rq1_results, monkeypatch):
    import nbclient  # the test extra pins both: a missing one is a failure, not a skip
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    # stored without outputs
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    monkeypatch.setenv("DLENERGY_RESULTS", str(rq1_results / "results" / "seaa2023"))
    monkeypatch.setenv("DLENERGY_CONFIG", str(rq1_results / "config.yaml"))
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "Kruskal-Wallis: 4 variables, H, p, eta2, n and k equal" in text
    assert "Dunn: 40 pairs, z, raw and adjusted p (bonferroni), significance and Cliff's delta equal" in text
    assert "energy_per_image_j: not different: mobilenet_v2 – resnet50; nasnet_mobile – xception" in text
