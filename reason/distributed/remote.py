"""What runs inside Ray's processes: the replica actor, the generator proxy, the problem task.

`Replica` holds one generator behind `shared_backend` (an in-process vLLM engine fed request
by request on one thread, else a `MicroBatchingGenerator`), so the calls of the several
problems routed to it share batches, driven from one thread (what vLLM's engine needs). `solve_problem` runs a plain searcher in a Ray task; the searcher
sees a `ReplicaClient`, an ordinary `Generator` whose calls go to one replica, wrapped
in the runner's `CachingGenerator` so compute and cache counts come out as in a local
run. The generation cache is a `GenerationCache` actor on the driver's node, reached
through `RemoteCache`.
Leaves out: scheduling, retries and writing results; that is the driver's (`pool.py`).
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Sequence
from typing import Any

import ray
from ray.exceptions import RayActorError, RayError, RayTaskError

from reason.backends.cache import CachingGenerator
from reason.backends.continuous import shared_backend
from reason.bench.records import CacheCounts
from reason.distributed.options import DistributedError
from reason.generator import (
    Generator,
    supports_logprobs,
    supports_prefix_cache,
    supports_request_seed,
)
from reason.searcher import Searcher
from reason.types import (
    Completion,
    Frozen,
    Problem,
    Prompt,
    SamplingParams,
    SearchResult,
)

Solved = tuple[SearchResult, CacheCounts, float]
"""A finished search, its cache counts and its wall time: what the runner grades and records."""


class ReplicaInfo(Frozen):
    """What a replica tells the driver and the proxies about its generator."""

    name: str
    supports_logprobs: bool
    supports_prefix_cache: bool
    supports_request_seed: bool
    pid: int


class ReplicaLostError(DistributedError):
    """A replica call failed because the replica died; raised even if the searcher swallowed the error."""


class Replica:
    """A model replica (becomes a Ray actor): one generator, built in the actor's own process."""

    def __init__(self, factory: Callable[[], Generator]) -> None:
        # A failing factory (bad backend options, missing model) is kept and raised by
        # `describe`, so the driver gets the error itself rather than Ray's "actor died".
        self._error: Exception | None = None
        try:
            self._generator = factory()
        except Exception as exc:
            self._error = portable(exc)
            return
        self._batcher = shared_backend(self._generator)

    def describe(self) -> ReplicaInfo:
        if self._error is not None:
            raise self._error
        g = self._generator
        return ReplicaInfo(
            name=g.name, supports_logprobs=supports_logprobs(g), supports_prefix_cache=supports_prefix_cache(g),
            supports_request_seed=supports_request_seed(g), pid=os.getpid(),
        )

    def generate(self, prompts: list[Prompt], params: SamplingParams) -> list[list[Completion]]:
        try:
            return self._batcher.generate(prompts, params)
        except Exception as exc:
            raise portable(exc) from None

    def close(self) -> None:
        if self._error is None:
            self._batcher.close()


class ReplicaClient:
    """The `Generator` a searcher sees in a Ray task: each call is one call to one replica actor.

    An application error of the backend (a `GeneratorError`) reaches the searcher as itself,
    as it would locally; a dead replica is remembered, so the problem is retried even if
    the searcher caught the error.
    """

    def __init__(self, replica: Any, info: ReplicaInfo) -> None:
        self._replica = replica
        self.name = info.name
        self.supports_logprobs = info.supports_logprobs
        self.supports_prefix_cache = info.supports_prefix_cache
        self.supports_request_seed = info.supports_request_seed
        self.lost: BaseException | None = None

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        try:
            return ray.get(self._replica.generate.remote(list(prompts), params))
        except RayActorError as exc:
            self.lost = exc
            raise
        except RayTaskError as exc:
            raise remote_cause(exc) from None

    def close(self) -> None:
        """The replica outlives the problem; nothing to release."""


class RemoteCache:
    """The `get`/`put` half of `GenerationCache` that `CachingGenerator` uses, over a cache actor."""

    def __init__(self, actor: Any) -> None:
        self._actor = actor

    def get(self, key: str) -> list[Completion] | None:
        return ray.get(self._actor.get.remote(key))

    def put(self, key: str, model: str, prompt: str, params_json: str, occurrence: int,
            completions: list[Completion]) -> None:
        ray.get(self._actor.put.remote(key, model, prompt, params_json, occurrence, completions))


def solve_problem(problem: Problem, searcher: Searcher, replica: Any, info: ReplicaInfo, cache: Any) -> Solved:
    """One problem, searched in a Ray task against one replica (the body of the runner's `_solve`)."""
    started = time.perf_counter()
    client = ReplicaClient(replica, info)
    counting = CachingGenerator(client, RemoteCache(cache) if cache is not None else None)
    try:
        result = searcher.search(problem, counting)
    except RayError:
        raise
    except Exception as exc:
        raise portable(exc) from None
    if client.lost is not None:
        raise ReplicaLostError(f"replica died during problem {problem.id!r}: {client.lost}")
    return result, CacheCounts.counted(counting), time.perf_counter() - started


def portable(exc: Exception) -> Exception:
    """`exc` if it survives a pickle round trip (Ray ships errors between processes), else a
    `DistributedError` carrying its type and message. Example: an exception class whose
    constructor takes other arguments than its message cannot be rebuilt from its args."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return DistributedError(f"{type(exc).__name__}: {exc}")
    return exc


def remote_cause(exc: RayTaskError) -> BaseException:
    """The exception the remote code raised, without Ray's wrapper."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc
