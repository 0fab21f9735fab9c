"""fastkeras.distributed: a job's shards on a Dask cluster (a LocalCluster on loopback).

The cluster runs in this process (``processes=False``) and listens on TCP on 127.0.0.1 only
(so that the command, in a subprocess, can reach it). Files
written through Dask are compared byte for byte with a local run of the same job, from Python
(``augment_directory(..., client=...)``) and from the command (``--dask-scheduler``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("dask.distributed")

from dask.distributed import Client, LocalCluster  # noqa: E402

from fastkeras.augment_job import UsageError  # noqa: E402
from fastkeras.distributed import augment_directory  # noqa: E402
from test_cli import REPO, TREE, checksums, expected_outputs, files_under, write_tree  # noqa: E402

SETTINGS = {"copies": 2, "rotation_range": 20, "zoom_range": 0.1, "horizontal_flip": True,
            "seed": 3}


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=1, threads_per_worker=3, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The job run here without Dask: (src, dst, report)."""
    root = tmp_path_factory.mktemp("local")
    src = write_tree(root / "src")
    report = augment_directory(src, root / "dst", **SETTINGS)
    return src, str(root / "dst"), report


def test_shards_on_the_cluster_write_the_local_run_bytes(client, local_run, tmp_path):
    src, local_dst, local_report = local_run
    assert local_report["written"] == len(TREE) * 2
    done = []
    report = augment_directory(src, tmp_path / "dst", client, shards=4,
                               callback=lambda r, n, total: done.append((n, total)), **SETTINGS)
    assert checksums(tmp_path / "dst") == checksums(local_dst)
    assert files_under(tmp_path / "dst") == expected_outputs(TREE, 2)
    assert done == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert sorted(r["shard"] for r in report["shards"]) == ["0/4", "1/4", "2/4", "3/4"]
    assert [r["written"] for r in report["shards"]] == [4, 4, 2, 2]  # 6 sources dealt i % 4
    assert (report["written"], report["skipped"], report["failed"]) == (12, 0, 0)
    assert report["sources"] == len(TREE) and report["planned"] == 12

    again = augment_directory(src, tmp_path / "dst", client, **SETTINGS)
    assert (again["written"], again["skipped"]) == (0, 12)
    assert len(again["shards"]) == 3  # one per cluster thread by default


def test_failures_are_gathered_from_the_shards(client, tmp_path):
    src = write_tree(tmp_path / "src")
    for name in ("bad1.png", "bad2.jpg"):
        with open(os.path.join(src, "dogs", name), "w") as f:
            f.write("not an image")
    report = augment_directory(src, tmp_path / "dst", client, shards=8, **SETTINGS)
    assert [f["source"] for f in report["failures"]] == ["dogs/bad1.png", "dogs/bad2.jpg"]
    assert report["failed"] == 4 and report["written"] == 12
    assert len(report["shards"]) == 8


def test_bad_settings_are_refused_before_anything_is_sent(client, tmp_path):
    src = write_tree(tmp_path / "src")
    with pytest.raises(UsageError, match="rotation_range= must be >= 0"):
        augment_directory(src, tmp_path / "dst", client, rotation_range=-3)
    with pytest.raises(UsageError, match="is inside SRC"):
        augment_directory(src, os.path.join(src, "out"), client, **SETTINGS)
    with pytest.raises(UsageError, match="shards= must be a positive integer"):
        augment_directory(src, tmp_path / "dst", client, shards=0, **SETTINGS)
    with pytest.raises(UsageError, match="workers= must be >= 1"):
        augment_directory(src, tmp_path / "dst", client, workers=0, **SETTINGS)
    assert not (tmp_path / "dst").exists()


def test_command_with_dask_scheduler(client, local_run, tmp_path):
    src, local_dst, _ = local_run
    address = client.scheduler.address
    assert address.startswith("tcp://127.0.0.1:")
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    config = tmp_path / "job.json"
    config.write_text(json.dumps(SETTINGS))
    result = subprocess.run(
        [sys.executable, "-m", "fastkeras.cli", src, str(tmp_path / "dst"), "--config",
         str(config), "--dask-scheduler", address, "--report", str(tmp_path / "r.json")],
        capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "shard" in result.stderr and "12 written" in result.stderr
    assert checksums(tmp_path / "dst") == checksums(local_dst)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["written"] == 12 and len(report["shards"]) == 3
