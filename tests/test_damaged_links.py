"""Damaged-data suite, issue 13 item 5: files that resolve outside the dataset are refused.

A ``gpu.csv`` (or a whole run folder) that is a symbolic link to somewhere else is not read, and
nothing of the linked file reaches the ledger, unless ``ingest.allow_external_links`` says so.
"""

from __future__ import annotations

import os
import shutil

from damaged import (
    VICTIM,
    assert_kept,
    assert_ledgered,
    assert_others_unchanged,
    copy_dataset,
    ingest,
    run_dir,
)

from dlenergy.validate import validate_dataset


def _link_gpu_outside(tmp_path, first_line: bytes | None = None):
    ds = copy_dataset(tmp_path)
    outside = tmp_path / "xyzzy-target" / "gpu.csv"
    outside.parent.mkdir()
    data = (run_dir(ds) / "gpu.csv").read_bytes()
    outside.write_bytes(first_line + data if first_line else data)
    (run_dir(ds) / "gpu.csv").unlink()
    os.symlink(outside, run_dir(ds) / "gpu.csv")
    return ds


def test_gpu_log_linked_outside_is_refused_and_not_read(tmp_path):
    ds = _link_gpu_outside(tmp_path, first_line=b"SECRET-TOKEN=hunter2\n")
    got = ingest(ds)
    assert_others_unchanged(got)
    reason = assert_ledgered(got, rf"^runs/{VICTIM}/gpu\.csv: resolves outside the dataset")
    assert "hunter2" not in reason and "xyzzy-target" not in reason
    assert any(p.fatal and "outside the dataset" in p.message for p in validate_dataset(ds))


def test_run_folder_linked_outside_is_refused(tmp_path):
    ds = copy_dataset(tmp_path)
    outside = tmp_path / "xyzzy-target" / VICTIM
    shutil.move(str(run_dir(ds)), outside)
    os.symlink(outside, run_dir(ds), target_is_directory=True)
    got = ingest(ds)
    assert_others_unchanged(got)
    assert_ledgered(got, rf"^runs/{VICTIM}: resolves outside the dataset")


def test_external_links_allowed_by_config(tmp_path):
    ds = _link_gpu_outside(tmp_path)
    got = ingest(ds, config={"allow_external_links": True})
    assert_others_unchanged(got)
    assert_kept(got, rel=0.0)


def test_links_inside_the_dataset_are_read(tmp_path):
    """A link that stays inside the dataset (e.g. a shared copy of a log) is not 'outside'."""
    ds = copy_dataset(tmp_path)
    keep = ds / "shared-logs" / "gpu.csv"
    keep.parent.mkdir()
    shutil.move(str(run_dir(ds) / "gpu.csv"), keep)
    os.symlink(os.path.relpath(keep, run_dir(ds)), run_dir(ds) / "gpu.csv")
    got = ingest(ds)
    assert_others_unchanged(got)
    assert_kept(got, rel=0.0)
