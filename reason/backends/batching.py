"""Micro-batching: concurrent `generate` calls from worker threads merged into one backend call.

Worker threads each solve one problem and call `generate` as if they had the model to
themselves. `MicroBatchingGenerator` queues those calls; one dispatcher thread takes
everything queued (waiting a few milliseconds for stragglers after the first call),
groups the requests by equal `SamplingParams`, and sends each group to the backend as
one batch. All backend calls happen on that one thread, which is what an in-process
vLLM engine (not thread-safe) needs, and the merged batch is where concurrency turns
into throughput: while one batch runs, the next one fills up.
Requests whose params differ only in `n` (without a seed) share a call too: each of their prompts is sent `n`
times with n=1, the same distribution (tree searches ask n=4 at the root and n=2 below it, and problems in
flight are at different steps). Leaves out: merging requests whose params differ otherwise (vLLM could take
per-prompt params; our Generator seam takes one params object per call).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from reason.errors import GeneratorError
from reason.generator import Generator
from reason.types import Completion, Prompt, SamplingParams


@dataclass
class _Request:
    prompts: list[Prompt]
    params: SamplingParams
    future: Future = field(default_factory=Future)


_STOP = object()


class BackendThread:
    """One thread owns the backend; callers hand it work through `_queue`, and `_STOP` ends it.

    A subclass sets its own fields, then calls this `__init__` (which starts `_loop`), and defines `_loop`.
    """

    def __init__(self, inner: Generator, thread_name: str) -> None:
        self.inner = inner
        self.name = inner.name
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=thread_name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        raise NotImplementedError

    def __getattr__(self, item: str) -> Any:  # capability flags pass through
        if item.startswith("_") or item == "inner":  # asked before __init__ set them: not the backend's
            raise AttributeError(item)
        return getattr(self.inner, item)

    def shutdown(self) -> None:
        """Stop the thread (the inner generator stays open)."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def close(self) -> None:
        self.shutdown()
        self.inner.close()


class MicroBatchingGenerator(BackendThread):
    """Wraps a generator; thread-safe `generate`, one backend call per (batch window, params).

    Args:
        inner: the backend; only the dispatcher thread ever calls it.
        window_s: how long to wait for more requests after the first one of a batch.
        max_prompts: the most prompts merged into one backend call.

    Example:
        >>> batcher = MicroBatchingGenerator(FakeGenerator(["The answer is 1."], cycle=True))  # doctest: +SKIP
        >>> # call batcher.generate(...) from many threads; then batcher.shutdown()
    """

    def __init__(self, inner: Generator, window_s: float = 0.01, max_prompts: int = 256) -> None:
        self.window_s = window_s
        self.max_prompts = max_prompts
        self.backend_calls = 0
        self.merged_requests = 0
        super().__init__(inner, "reason-microbatcher")

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        if not prompts:
            return []
        request = _Request(list(prompts), params)
        self._queue.put(request)
        return request.future.result()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stop = self._collect(first)
            for params, requests in _by_params(batch).items():
                self._dispatch(params, requests)
            if stop:
                return

    def _collect(self, first: _Request) -> tuple[list[_Request], bool]:
        batch, size = [first], len(first.prompts)
        deadline = time.monotonic() + self.window_s
        while size < self.max_prompts:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            batch.append(item)
            size += len(item.prompts)
        return batch, False

    def _dispatch(self, params: SamplingParams, requests: list[_Request]) -> None:
        if len({r.params.n for r in requests}) > 1:  # unseeded calls differing only in n: each sample its own prompt
            self._dispatch_singles(params, requests)
            return
        prompts = [p for r in requests for p in r.prompts]
        try:
            outputs = self.inner.generate(prompts, requests[0].params)
            if len(outputs) != len(prompts):
                raise GeneratorError(f"{self.name} returned {len(outputs)} results for {len(prompts)} prompts")
        except BaseException as exc:  # every waiting caller gets the backend's error
            for r in requests:
                r.future.set_exception(exc)
            return
        self._answer(requests, outputs)

    def _dispatch_singles(self, params: SamplingParams, requests: list[_Request]) -> None:
        """One backend call for requests whose n differ: every prompt sent n times with n=1 (the same distribution
        when no seed is set), the samples gathered back per prompt."""
        prompts = [p for r in requests for p in r.prompts for _ in range(r.params.n)]
        try:
            singles = self.inner.generate(prompts, params.model_copy(update={"n": 1}))
            if len(singles) != len(prompts):
                raise GeneratorError(f"{self.name} returned {len(singles)} results for {len(prompts)} prompts")
        except BaseException as exc:
            for r in requests:
                r.future.set_exception(exc)
            return
        outputs, start = [], 0
        for r in requests:
            for _ in r.prompts:
                outputs.append([row[0] for row in singles[start : start + r.params.n]])
                start += r.params.n
        self._answer(requests, outputs)

    def _answer(self, requests: list[_Request], outputs: list[list[Completion]]) -> None:
        """Each request gets the outputs of its own prompts, in order."""
        self.backend_calls += 1
        self.merged_requests += len(requests)
        start = 0
        for r in requests:
            r.future.set_result(outputs[start : start + len(r.prompts)])
            start += len(r.prompts)


def _by_params(batch: list[_Request]) -> dict[SamplingParams, list[_Request]]:
    """Requests that can share one backend call: equal params, or (without a seed) params that differ only in n."""
    groups: dict[SamplingParams, list[_Request]] = {}
    for request in batch:
        key = request.params if request.params.seed is not None else request.params.model_copy(update={"n": 1})
        groups.setdefault(key, []).append(request)
    return groups
