"""The driver side of a Ray run: start replicas, keep them busy, survive their deaths.

`RayPool` joins (or starts) Ray, starts `replicas` `Replica` actors and checks that
they serve the same model. `RayPool.solve` submits one Ray task per problem, at most
`max_in_flight` at once, each to the least loaded live replica, and yields every
finished search to the runner, whose thread grades it and appends its record (the
run's only writer). A task that fails because its worker or replica died is counted
in `failures`, logged, and submitted again to another replica, up to `retries` times
per problem. The failed replica is probed and left out until it answers again (Ray
restarts it up to `replica_restarts` times); a replica that is gone for good is
dropped, and the run stops only when none is left. An ordinary exception from a
searcher stops the run, as it does locally.
Leaves out: autoscaling (resources must exist when the run starts), moving the
driver, and resuming a search midway (a retried problem starts over, from the
generation cache where its calls were stored).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import (
    ActorDiedError,
    NodeDiedError,
    ObjectLostError,
    RayActorError,
    RayTaskError,
    WorkerCrashedError,
)
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from reason.api import make_generator
from reason.bench.cache import GenerationCache
from reason.bench.runner import RunConfig
from reason.distributed.options import DistributedError, RayOptions
from reason.distributed.remote import Replica, ReplicaInfo, ReplicaLostError, Solved, remote_cause, solve_problem
from reason.searcher import Searcher
from reason.types import Problem

logger = logging.getLogger(__name__)

LOST = (RayActorError, WorkerCrashedError, NodeDiedError, ObjectLostError, ReplicaLostError)
"""Failures of the machinery, not of the search: the problem is retried elsewhere."""
PROBE_INTERVAL_S = 0.5
WAIT_S = 1.0


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
        hint = "" if not address else (
            "; if the cluster uses token authentication (Ray's default once a token exists), set "
            "RAY_AUTH_MODE=token and give the head's token (~/.ray/auth_token, or RAY_AUTH_TOKEN)"
        )
        raise DistributedError(f"cannot start or join Ray (address {address or 'local'}): {exc}{hint}") from exc
    logger.info("Ray: %s, resources %s", address or "local runtime", ray.cluster_resources())


@dataclass
class _Slot:
    """The driver's view of one replica."""

    index: int
    handle: Any
    info: ReplicaInfo
    load: int = 0
    dead: bool = False
    probe: Any = None
    """A pending `describe` call after a failure; the replica gets no new problem until it answers."""
    suspect: bool = False
    probe_after: float = 0.0

    @property
    def usable(self) -> bool:
        return not (self.dead or self.suspect)


@dataclass
class _Attempt:
    problem: Problem
    number: int = 0
    """Failed attempts so far."""
    avoid: int | None = None
    """The replica it last failed on."""
    slot: _Slot | None = field(default=None, repr=False)


class RayPool:
    """Model replicas on a Ray cluster. Use as a context manager; `name` is the replicas' model.

    Example:
        >>> with RayPool(config, RayOptions(replicas=2)) as pool:   # doctest: +SKIP
        ...     for result, cache_counts, wall_s in pool.solve(problems, searcher, None):
        ...         ...
    """

    def __init__(self, config: RunConfig, options: RayOptions, cache_path: Path | None = None) -> None:
        connect(options)
        self.options = options
        self.failures = 0
        self._slots: list[_Slot] = []
        # Started with the replicas, not after them: each actor is a process to boot.
        self._cache = _cache_actor(cache_path) if cache_path is not None else None
        try:
            self._start(config)
        except BaseException:
            self.close()
            raise
        self.name = self._slots[0].info.name

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for handle in [s.handle for s in self._slots] + ([self._cache] if self._cache is not None else []):
            ray.kill(handle, no_restart=True)
        self._slots, self._cache = [], None

    def solve(self, todo: list[Problem], searcher: Searcher, cache: GenerationCache | None) -> Iterator[Solved]:
        """Every problem of `todo`, solved once; yields each finished search as it arrives.

        Generations are cached in `cache`'s file, by the pool's cache actor (started with the
        pool when it was given the path; else now).
        """
        if cache is not None and self._cache is None:
            self._cache = _cache_actor(cache.path)
        run = _Solving(self, ray.put(searcher), self._cache if cache is not None else None)
        try:
            yield from run.loop(todo)
        finally:
            run.stop()

    def _start(self, config: RunConfig) -> None:
        o = self.options
        _check_resources(o)
        factory = o.generator_factory or partial(make_generator, config.backend, **config.backend_options)
        actor = ray.remote(Replica).options(
            num_cpus=o.replica_cpus, num_gpus=o.replica_gpus, max_restarts=o.replica_restarts,
            max_task_retries=0, max_concurrency=o.in_flight() + 2,
        )
        handles = [actor.remote(factory) for _ in range(o.replicas)]
        self._slots = [_Slot(i, h, None) for i, h in enumerate(handles)]  # type: ignore[arg-type]
        for slot, info in zip(self._slots, _describe(handles), strict=True):
            slot.info = info
        names = sorted({s.info.name for s in self._slots})
        if len(names) > 1:
            raise DistributedError(f"replicas serve different models: {', '.join(names)}")
        logger.info("%d replicas of %s ready (pids %s)", o.replicas, names[0], [s.info.pid for s in self._slots])

    def pick(self, avoid: int | None) -> _Slot | None:
        """The least loaded live replica, other than `avoid` when there is one; None while all are down."""
        live = [s for s in self._slots if s.usable]
        if not live:
            if all(s.dead for s in self._slots):
                raise DistributedError(f"all {len(self._slots)} replicas died; see the log for why")
            return None
        others = [s for s in live if s.index != avoid] or live
        return min(others, key=lambda s: s.load)

    def suspect(self, slot: _Slot) -> None:
        if not slot.dead:
            slot.suspect, slot.probe_after = True, time.monotonic()

    def probes(self) -> dict[Any, _Slot]:
        """Pending probes; a probe is (re)sent to each suspect replica whose wait is over."""
        now = time.monotonic()
        for slot in self._slots:
            if slot.suspect and slot.probe is None and now >= slot.probe_after:
                slot.probe = slot.handle.describe.remote()
        return {s.probe: s for s in self._slots if s.probe is not None}

    def probed(self, slot: _Slot) -> None:
        ref, slot.probe = slot.probe, None
        try:
            slot.info = ray.get(ref)
        except (ActorDiedError, RayTaskError) as exc:  # out of restarts, or its generator fails to build
            slot.dead, slot.suspect = True, False
            logger.error("replica %d is gone for good: %s", slot.index, _brief(exc))
        except RayActorError:
            slot.probe_after = time.monotonic() + PROBE_INTERVAL_S  # restarting; ask again soon
        else:
            slot.suspect = False
            logger.info("replica %d is back (pid %d)", slot.index, slot.info.pid)


class _Solving:
    """One `solve` call: the queue, the problems in flight and their attempts."""

    def __init__(self, pool: RayPool, searcher: Any, cache: Any) -> None:
        self.pool = pool
        self.searcher = searcher
        self.cache = cache
        self.task = ray.remote(solve_problem).options(num_cpus=pool.options.search_cpus, max_retries=0)
        self.waiting: deque[_Attempt] = deque()
        self.running: dict[Any, _Attempt] = {}

    def loop(self, todo: list[Problem]) -> Iterator[Solved]:
        self.waiting.extend(_Attempt(p) for p in todo)
        while self.waiting or self.running:
            self._submit()
            for ref in self._wait():
                solved = self._collect(ref)
                if solved is not None:
                    yield solved

    def stop(self) -> None:
        for ref in self.running:
            ray.cancel(ref)

    def _submit(self) -> None:
        while self.waiting and len(self.running) < self.pool.options.in_flight():
            slot = self.pool.pick(self.waiting[0].avoid)
            if slot is None:
                return
            attempt = self.waiting.popleft()
            attempt.slot = slot
            slot.load += 1
            ref = self.task.remote(attempt.problem, self.searcher, slot.handle, slot.info, self.cache)
            self.running[ref] = attempt

    def _wait(self) -> list[Any]:
        probes = self.pool.probes()
        refs = [*self.running, *probes]
        if not refs:  # every replica is waiting to be probed again
            time.sleep(PROBE_INTERVAL_S)
            return []
        ready, _ = ray.wait(refs, num_returns=1, timeout=WAIT_S)
        for ref in ready:
            if ref in probes:
                self.pool.probed(probes[ref])
        return [ref for ref in ready if ref in self.running]

    def _collect(self, ref: Any) -> Solved | None:
        attempt = self.running.pop(ref)
        assert attempt.slot is not None
        attempt.slot.load -= 1
        try:
            return ray.get(ref)
        except LOST as exc:
            self._retry(attempt, exc)
            return None
        except RayTaskError as exc:  # the searcher itself failed: stop, as a local run does
            raise remote_cause(exc) from None

    def _retry(self, attempt: _Attempt, exc: BaseException) -> None:
        slot = attempt.slot
        assert slot is not None
        self.pool.failures += 1
        failed = attempt.number + 1
        logger.warning("problem %s lost on replica %d (failure %d of at most %d): %s",
                       attempt.problem.id, slot.index, failed, self.pool.options.retries + 1, _brief(exc))
        if failed > self.pool.options.retries:
            raise DistributedError(
                f"problem {attempt.problem.id!r} failed {failed} times; last: {_brief(exc)}"
            ) from exc
        self.pool.suspect(slot)
        self.waiting.appendleft(_Attempt(attempt.problem, number=failed, avoid=slot.index))


def _describe(handles: list[Any]) -> list[ReplicaInfo]:
    try:
        return ray.get([h.describe.remote() for h in handles])
    except RayActorError as exc:
        raise DistributedError(f"a replica failed to start: {_brief(exc)}") from exc
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
    """The run's generation cache, opened by an actor on this (the driver's) node, where its file is."""
    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    actor = ray.remote(GenerationCache).options(
        num_cpus=0, max_restarts=-1, max_concurrency=8, scheduling_strategy=here
    )
    return actor.remote(Path(path).resolve())


def _brief(exc: BaseException) -> str:
    """One line: the underlying exception's type and first message line."""
    shown = remote_cause(exc) if isinstance(exc, RayTaskError) else exc
    lines = [line for line in str(shown).splitlines() if line.strip()]
    return f"{type(shown).__name__}: {lines[0] if lines else ''}".strip()
