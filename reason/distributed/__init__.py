"""Benchmark runs on a Ray cluster: model replicas as actors, searches as tasks, one writer.

`RayOptions` (plain data, no Ray import) is what the runner and the CLI take;
`reason.distributed.pool` and `reason.distributed.remote` are the only modules in
`reason` that import Ray, and the runner imports them only when a run is given
`RayOptions`. Without `--ray`, Ray is never imported.
Leaves out: Ray Serve, autoscaling, and placement groups; replicas are plain actors.
"""

from reason.distributed.options import DistributedError, RayOptions

__all__ = ["DistributedError", "RayOptions"]
