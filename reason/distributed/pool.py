"""The driver side of a Ray run: join Ray, start the replicas and the cache actor, hand out problems.

`RayPool` joins (or starts) Ray, starts `replicas` `Replica` actors (and, for a run with
a generation cache, a `GenerationCache` actor on the driver's node, where the file is),
and checks that the replicas serve one model. One pool can serve several runs in turn
(a sweep's points), so the replicas load their model once. `RayPool.solve` yields every finished
search to the runner, whose thread grades it and appends its record: the run's only
writer. Scheduling and retries are `scheduler.py`'s; a dead replica is restarted by Ray
itself, up to `replica_restarts` times. An ordinary exception from a searcher or a
backend stops the run, as it does locally.
Leaves out: autoscaling (the resources must be there when the run starts), running the
driver off the cluster's nodes (the cache file is opened on the driver's node), and
resuming a search midway (a retried problem starts over, from the cache where it can).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayActorError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from reason.api import make_generator
from reason.backends.cache import GenerationCache
from reason.distributed.options import DistributedError, RayOptions
from reason.distributed.remote import Replica, ReplicaInfo, Solved, remote_cause
from reason.distributed.scheduler import ReplicaSet, Scheduler, Slot, brief
from reason.searcher import Searcher
from reason.types import Problem

logger = logging.getLogger(__name__)

AUTH_HINT = (
    "; if the cluster uses token authentication (Ray's default once a token exists), set "
    "RAY_AUTH_MODE=token and give the head's token (~/.ray/auth_token, or RAY_AUTH_TOKEN)"
)


def connect(options: RayOptions) -> None:
    """Join the configured cluster, or start a local runtime; a process already connected stays so."""
    if ray.is_initialized():
        return
    address = options.ray_address(dict(os.environ))
    try:
        if address:
            ray.init(address=address)
        else:
            memory = options.object_store_mb * 1024**2 if options.object_store_mb else None
            ray.init(address="local", num_cpus=options.local_cpus, object_store_memory=memory,
                     include_dashboard=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        hint = AUTH_HINT if address else ""
        raise DistributedError(f"cannot start or join Ray (address {address or 'local'}): {exc}{hint}") from exc
    logger.info("Ray: %s, resources %s", address or "local runtime", ray.cluster_resources())


class RayPool:
    """Model replicas on a Ray cluster. Use as a context manager; `name` is the replicas' model.

    Ray stays initialised when the pool closes (a later run in the process reuses it);
    the replicas and the cache actor are killed.

    Example:
        >>> with RayPool(RayOptions(replicas=2), "vllm") as pool:   # doctest: +SKIP
        ...     for result, cache_counts, wall_s in pool.solve(problems, searcher, None):
        ...         ...
    """

    def __init__(self, options: RayOptions, backend: str, backend_options: dict[str, Any] | None = None,
                 cache_path: Path | None = None) -> None:
        connect(options)
        self.options = options
        self.failures = 0
        self._replicas = ReplicaSet([])
        # Started with the replicas, not after them: each actor is a process to boot.
        self._cache: Any = None
        self._cache_path: Path | None = None
        if cache_path is not None:
            self._open_cache(cache_path)
        try:
            self._start(options.generator_factory or partial(make_generator, backend, **(backend_options or {})))
        except BaseException:
            self.close()
            raise
        self.name = self._replicas.slots[0].info.name

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        handles = [s.handle for s in self._replicas.slots] + ([self._cache] if self._cache is not None else [])
        for handle in handles:
            ray.kill(handle, no_restart=True)
        self._replicas.slots, self._cache = [], None

    def solve(self, todo: list[Problem], searcher: Searcher, cache: GenerationCache | None) -> Iterator[Solved]:
        """Every problem of `todo`, solved once; yields each finished search as it arrives.

        Generations go to `cache`'s file through the pool's cache actor (started with the
        pool when it was given the path, else now); `cache=None` caches nothing.
        """
        if cache is not None:
            self._open_cache(cache.path)
        cache_actor = self._cache if cache is not None else None
        scheduler = Scheduler(self._replicas, self.options, ray.put(searcher), cache_actor)
        try:
            yield from scheduler.run(todo)
        finally:
            self.failures += scheduler.failures

    def _open_cache(self, path: Path) -> None:
        """The cache actor for `path`: kept when it already serves that file, else (re)started."""
        path = Path(path).resolve()
        if self._cache is not None and self._cache_path == path:
            return
        if self._cache is not None:
            ray.kill(self._cache, no_restart=True)
        self._cache, self._cache_path = _cache_actor(path), path

    def _start(self, factory: Any) -> None:
        o = self.options
        _check_resources(o)
        actor = ray.remote(Replica).options(
            num_cpus=o.replica_cpus, num_gpus=o.replica_gpus, max_restarts=o.replica_restarts,
            max_task_retries=0, max_concurrency=o.in_flight() + 2,
        )
        handles = [actor.remote(factory) for _ in range(o.replicas)]
        self._replicas.slots = [Slot(i, h, None) for i, h in enumerate(handles)]  # type: ignore[arg-type]
        for slot, info in zip(self._replicas.slots, _describe(handles), strict=True):
            slot.info = info
        names = sorted({s.info.name for s in self._replicas.slots})
        if len(names) > 1:
            raise DistributedError(f"replicas serve different models: {', '.join(names)}")
        logger.info("%d replicas of %s ready (pids %s)", o.replicas, names[0],
                    [s.info.pid for s in self._replicas.slots])


def _describe(handles: list[Any]) -> list[ReplicaInfo]:
    try:
        return ray.get([h.describe.remote() for h in handles])
    except RayActorError as exc:
        raise DistributedError(f"a replica failed to start: {brief(exc)}") from exc
    except RayTaskError as exc:  # its generator could not be built: that error, as a local run gives it
        raise remote_cause(exc) from None


def _check_resources(o: RayOptions) -> None:
    total = ray.cluster_resources()
    for kind, each in (("CPU", o.replica_cpus), ("GPU", o.replica_gpus)):
        need = each * o.replicas
        if need > total.get(kind, 0.0):
            raise DistributedError(
                f"{o.replicas} replicas x {each:g} {kind} need {need:g} {kind}s; the cluster has "
                f"{total.get(kind, 0.0):g} (see `ray status`; lower --replicas or --replica-{kind.lower()}s)"
            )


def _cache_actor(path: Path) -> Any:
    """A `GenerationCache` actor on this (the driver's) node, where the cache file is."""
    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    actor = ray.remote(GenerationCache).options(num_cpus=0, max_restarts=-1, max_concurrency=8,
                                                scheduling_strategy=here)
    return actor.remote(Path(path).resolve())
