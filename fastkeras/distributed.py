"""Augmentation jobs fanned out over a Dask cluster (the optional ``dask`` extra).

:func:`augment_directory` splits a job (see :mod:`fastkeras.augment_job`) into shards, runs each
shard as one Dask task and gathers their reports. Because every output depends only on the job's
seed, its source's relative path and its copy number, the files written are the same as one
local run's, whatever the cluster's size or the order the shards finish in. The source and
destination folders must be visible at the same paths from the client and every worker (a
shared file system), and the workers need fastkeras installed.

    from dask.distributed import Client
    from fastkeras.distributed import augment_directory

    report = augment_directory("photos", "augmented", Client("tcp://scheduler:8786"),
                               copies=5, rotation_range=20, horizontal_flip=True)

Dask is imported only by the client that is passed in; without one the job runs here.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from fastkeras.augment_job import (
    AugmentOptions,
    UsageError,
    check_paths,
    check_workers,
    list_sources,
    make_options,
    merge_reports,
    plan_job,
    run_job,
)

__all__ = ["augment_directory"]


def _run_shard(src: str, dst: str, options: AugmentOptions, shard: tuple[int, int],
               workers: int | None) -> dict:
    """One Dask task: plan and run shard ``shard`` of the job; return its report."""
    return run_job(plan_job(src, dst, options, shard), workers)


def _cluster_threads(client: Any) -> int:
    return max(1, sum(client.nthreads().values()))


def augment_directory(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    client: Any = None,
    *,
    shards: int | None = None,
    workers: int | None = None,
    callback: Callable[[dict, int, int], None] | None = None,
    **settings: Any,
) -> dict:
    """Write ``copies`` augmented versions of every image of ``src`` into ``dst``.

    Parameters
    ----------
    src, dst : str or path-like
        Source folder (images directly in it or in class sub-folders) and output folder
        (outside ``src``); see :func:`fastkeras.augment_job.plan_job`.
    client : dask.distributed.Client, optional
        Run the shards on this client's cluster. ``None`` runs the whole job here.
    shards : int, optional
        Number of shards (Dask tasks); by default one per thread of the cluster, at most one
        per source image.
    workers : int, optional
        Threads decoding and encoding images inside each shard (``None``: half the CPU cores
        of the machine running it).
    callback : callable, optional
        With a client, called as ``callback(shard_report, shards_done, shards)`` when each
        shard finishes.
    **settings
        Job settings: ``ImageDataGenerator`` augmentation arguments (``rotation_range=20``,
        ``horizontal_flip=True`` ...) and ``copies, target_size, interpolation, color_mode,
        format, quality, seed, overwrite`` (see :func:`fastkeras.augment_job.make_options`).

    Returns
    -------
    dict
        The job's report (as ``fastkeras-augment --report`` writes it): counts of outputs
        ``written``, ``skipped`` (already present) and ``failed``, the ``failures`` with their
        reasons, ``elapsed_s`` and ``images_per_s``; with a client also ``shards``, the list of
        shard reports.

    Raises
    ------
    UsageError
        Invalid settings or paths (checked here before anything is sent to the cluster).
    """
    options = make_options(settings)
    src, dst = os.path.abspath(src), os.path.abspath(dst)
    workers = None if workers is None else check_workers(workers)
    if client is None:
        return run_job(plan_job(src, dst, options), workers)

    start = time.perf_counter()
    check_paths(src, dst)
    count = len(list_sources(src))
    if count == 0:
        raise UsageError(f"SRC {src!r} holds no images")
    if shards is None:
        shards = _cluster_threads(client)
    elif isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise UsageError(f"shards= must be a positive integer; got {shards!r}")
    shards = min(shards, count)

    from dask.distributed import as_completed

    futures = [client.submit(_run_shard, src, dst, options, (i, shards), workers, pure=False)
               for i in range(shards)]
    reports = []
    for future in as_completed(futures):
        reports.append(future.result())
        if callback is not None:
            callback(reports[-1], len(reports), shards)
    return merge_reports(reports, time.perf_counter() - start)
