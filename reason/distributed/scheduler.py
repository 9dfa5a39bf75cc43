"""Keeping the replicas busy: which replica gets the next problem, and what happens when one dies.

`ReplicaSet` is the driver's view of the replicas: their load, and whether each is
usable, being probed after a failure, or gone for good. `Scheduler` runs one batch of
problems: at most `max_in_flight` problem tasks at once, each sent to the least loaded
usable replica; a task lost to a dead worker or replica is counted, logged and sent
again, to another replica where there is one, up to `retries` times per problem.
Leaves out: starting and stopping replicas (`pool.py`) and what a task does (`remote.py`).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
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

from reason.distributed.options import DistributedError, RayOptions
from reason.distributed.remote import (
    ReplicaInfo,
    ReplicaLostError,
    Solved,
    remote_cause,
    solve_problem,
)
from reason.types import Problem

logger = logging.getLogger(__name__)

LOST = (RayActorError, WorkerCrashedError, NodeDiedError, ObjectLostError, ReplicaLostError)
"""Failures of the machinery, not of the search: the problem is retried elsewhere."""
PROBE_INTERVAL_S = 0.5
WAIT_S = 1.0


@dataclass
class Slot:
    """The driver's view of one replica."""

    index: int
    handle: Any
    info: ReplicaInfo
    load: int = 0
    """Problems in flight on it."""
    dead: bool = False
    suspect: bool = False
    """It lost a problem; it gets no new one until a probe (a `describe` call) answers."""
    probe: Any = None
    probe_after: float = 0.0


@dataclass
class Attempt:
    problem: Problem
    failed: int = 0
    """Failed attempts so far."""
    avoid: int | None = None
    """The replica it last failed on."""
    slot: Slot | None = field(default=None, repr=False)


class ReplicaSet:
    """The replicas' load and health, as the driver sees them."""

    def __init__(self, slots: list[Slot]) -> None:
        self.slots = slots

    def pick(self, avoid: int | None) -> Slot | None:
        """The least loaded usable replica, other than `avoid` when there is one; None while all are down."""
        usable = [s for s in self.slots if not (s.dead or s.suspect)]
        if not usable:
            if all(s.dead for s in self.slots):
                raise DistributedError(f"all {len(self.slots)} replicas died; see the log for why")
            return None
        others = [s for s in usable if s.index != avoid] or usable
        return min(others, key=lambda s: s.load)

    def suspect(self, slot: Slot) -> None:
        if not slot.dead:
            slot.suspect, slot.probe_after = True, time.monotonic()

    def probes(self) -> dict[Any, Slot]:
        """Pending probes by object ref; one is (re)sent to each suspect replica whose wait is over."""
        now = time.monotonic()
        for slot in self.slots:
            if slot.suspect and slot.probe is None and now >= slot.probe_after:
                slot.probe = slot.handle.describe.remote()
        return {s.probe: s for s in self.slots if s.probe is not None}

    def probed(self, slot: Slot) -> None:
        ref, slot.probe = slot.probe, None
        try:
            slot.info = ray.get(ref)
        except (ActorDiedError, RayTaskError) as exc:  # out of restarts, or its generator no longer builds
            slot.dead, slot.suspect = True, False
            logger.error("replica %d is gone for good: %s", slot.index, brief(exc))
        except RayActorError:
            slot.probe_after = time.monotonic() + PROBE_INTERVAL_S  # restarting; ask again soon
        else:
            slot.suspect = False
            logger.info("replica %d is back (pid %d)", slot.index, slot.info.pid)


class Scheduler:
    """Solves one list of problems on a `ReplicaSet`; `failures` counts the attempts lost."""

    def __init__(self, replicas: ReplicaSet, options: RayOptions, searcher: Any, cache: Any) -> None:
        self.replicas = replicas
        self.options = options
        self.searcher = searcher
        self.cache = cache
        self.task = ray.remote(solve_problem).options(num_cpus=options.search_cpus, max_retries=0)
        self.waiting: deque[Attempt] = deque()
        self.running: dict[Any, Attempt] = {}
        self.failures = 0

    def run(self, todo: list[Problem]) -> Iterator[Solved]:
        self.waiting.extend(Attempt(p) for p in todo)
        try:
            while self.waiting or self.running:
                self._submit()
                for ref in self._wait():
                    solved = self._collect(ref)
                    if solved is not None:
                        yield solved
        finally:
            for ref in self.running:
                ray.cancel(ref)

    def _submit(self) -> None:
        while self.waiting and len(self.running) < self.options.in_flight():
            slot = self.replicas.pick(self.waiting[0].avoid)
            if slot is None:
                return
            attempt = self.waiting.popleft()
            attempt.slot = slot
            slot.load += 1
            ref = self.task.remote(attempt.problem, self.searcher, slot.handle, slot.info, self.cache)
            self.running[ref] = attempt

    def _wait(self) -> list[Any]:
        probes = self.replicas.probes()
        refs = [*self.running, *probes]
        if not refs:  # every replica is waiting to be probed again
            time.sleep(PROBE_INTERVAL_S)
            return []
        ready, _ = ray.wait(refs, num_returns=1, timeout=WAIT_S)
        for ref in ready:
            if ref in probes:
                self.replicas.probed(probes[ref])
        return [ref for ref in ready if ref in self.running]

    def _collect(self, ref: Any) -> Solved | None:
        attempt = self.running.pop(ref)
        assert attempt.slot is not None
        attempt.slot.load -= 1
        try:
            return ray.get(ref)
        except LOST as exc:
            self._retry(attempt, attempt.slot, exc)
            return None
        except RayTaskError as exc:  # the searcher itself failed: stop, as a local run does
            raise remote_cause(exc) from None

    def _retry(self, attempt: Attempt, slot: Slot, exc: BaseException) -> None:
        self.failures += 1
        failed = attempt.failed + 1
        logger.warning("problem %s lost on replica %d (failure %d, at most %d): %s",
                       attempt.problem.id, slot.index, failed, self.options.retries + 1, brief(exc))
        if failed > self.options.retries:
            raise DistributedError(f"problem {attempt.problem.id!r} failed {failed} times; last: {brief(exc)}") from exc
        self.replicas.suspect(slot)
        self.waiting.appendleft(Attempt(attempt.problem, failed=failed, avoid=slot.index))


def brief(exc: BaseException) -> str:
    """One line: the underlying exception's type and the first line of its message."""
    shown = remote_cause(exc) if isinstance(exc, RayTaskError) else exc
    lines = [line for line in str(shown).splitlines() if line.strip()]
    return f"{type(shown).__name__}: {lines[0] if lines else ''}".strip()
