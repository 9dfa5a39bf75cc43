"""Benchmark runs on a Ray cluster: model replicas as actors, searches as tasks, one writer.

`RayOptions` (plain data; importing it imports no Ray) is what the runner and the CLI
take. The modules that import Ray are `pool` (the driver: replicas, cache actor),
`scheduler` (problems in flight, retries) and `remote` (what runs in Ray's processes);
the runner imports `pool` only when a run is given `RayOptions`, so without `--ray`
Ray is never imported. Searchers stay plain Python: in a Ray task they see an ordinary
`Generator` whose calls go to a replica.
Leaves out: Ray Serve, autoscaling and placement groups; replicas are plain actors.
"""

from reason.distributed.options import DistributedError, RayOptions

__all__ = ["DistributedError", "RayOptions"]
