"""Benchmark runs on a Ray cluster: model replicas as actors, searches as tasks, one writer.

`RayOptions` (plain data; importing it imports no Ray) is what the CLI takes, and
`ray_pools(options)` the factory it hands the benchmark runner, which knows only its
`ProblemPool` seam. The modules that import Ray are `pool` (the driver: replicas, cache
actor), `scheduler` (problems in flight, retries) and `remote` (what runs in Ray's
processes); `pool` is imported only when a pool is opened, so without `--ray` Ray is never
imported. Searchers stay plain Python: in a Ray task they see an ordinary
`Generator` whose calls go to a replica.
Leaves out: Ray Serve, autoscaling and placement groups; replicas are plain actors.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from reason.bench.runner import PoolFactory, ProblemPool
from reason.distributed.options import DistributedError, RayOptions


def ray_pools(options: RayOptions) -> PoolFactory:
    """The runner's pool factory for a Ray cluster: each call opens a `RayPool` of `options`' replicas."""

    def open_pool(backend: str, backend_options: dict[str, Any], cache: Path | None) -> AbstractContextManager[ProblemPool]:
        from reason.distributed.pool import RayPool  # the only way into Ray

        return RayPool(options, backend, backend_options, cache)

    return open_pool


__all__ = ["DistributedError", "RayOptions", "ray_pools"]
