"""Continuous batching for the in-process vLLM engine: calls from many threads join the batch already running.

`MicroBatchingGenerator` merges calls that arrive together into one `LLM.generate`, which returns only when
its slowest sequence ends: every other problem's next call waits for that sequence, and a tree search, whose
every step is a call, waits at every step. Here one engine thread owns vLLM's engine and feeds it request by
request, as vLLM's own server does (`LLMEngine.add_request`, then `step()`): a call's prompts join the running
batch at the next engine step, and each call returns as soon as its own sequences end. The backend supplies
what one request is (`engine_request`) and reads a finished one back (`completions`); `VLLMGenerator` does.
Shutting down aborts the requests still running; their callers get a `GeneratorError`.
Leaves out: priorities, and aborting one caller's requests when that caller gives up.
"""

from __future__ import annotations

import itertools
import logging
import queue
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from reason.backends.batching import _STOP, BackendThread, MicroBatchingGenerator
from reason.errors import GeneratorError
from reason.generator import Generator
from reason.types import Completion, Prompt, SamplingParams

logger = logging.getLogger(__name__)


class EngineBackend(Protocol):
    """A backend whose engine takes requests one by one (what continuous batching needs of it)."""

    name: str

    @property
    def engine(self) -> Any: ...

    def engine_request(self, prompt: Prompt, params: SamplingParams) -> tuple[Any, Any]: ...

    def completions(self, output: Any) -> list[Completion]: ...

    def close(self) -> None: ...


@dataclass
class _Call:
    """One `generate` call: its prompts' results fill in as their requests finish."""

    prompts: list[Prompt]
    params: SamplingParams
    results: list[list[Completion] | None] = field(default_factory=list)
    remaining: int = 0
    future: Future = field(default_factory=Future)


def supports_continuous_batching(generator: object) -> bool:
    """True when the backend itself exposes its engine request by request (in-process vLLM).

    Read from the class: a wrapper that passes capability flags through (a thinking budget, a cache) must not
    be bypassed by feeding its inner engine directly.
    """
    return bool(getattr(type(generator), "supports_continuous_batching", False))


def shared_backend(generator: Generator, window_s: float = 0.01) -> BackendThread:
    """The generator many threads call at once: continuous batching when the backend allows it, else micro-batching."""
    if supports_continuous_batching(generator):
        return ContinuousBatchingGenerator(generator)
    return MicroBatchingGenerator(generator, window_s=window_s)


class ContinuousBatchingGenerator(BackendThread):
    """Wraps a backend with an engine (see the module doc); thread-safe `generate`.

    Example:
        >>> batcher = ContinuousBatchingGenerator(VLLMGenerator())  # doctest: +SKIP
        >>> # call batcher.generate(...) from many threads; then batcher.shutdown()
    """

    def __init__(self, inner: Generator) -> None:
        if not supports_continuous_batching(inner):
            raise GeneratorError(f"the {inner.name} backend does not expose its engine request by request")
        self.backend = cast(EngineBackend, inner)
        self.engine_steps = 0
        self.requests_added = 0
        self._running: dict[str, tuple[_Call, int, str]] = {}  # our id -> (call, prompt index, engine's own id)
        self._ids = itertools.count()
        super().__init__(inner, "reason-engine")

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        if not prompts:
            return []
        if not self._thread.is_alive():
            raise GeneratorError("the engine thread has stopped (the generator was shut down)")
        call = _Call(prompts=list(prompts), params=params, results=[None] * len(prompts), remaining=len(prompts))
        self._queue.put(call)
        result: list[list[Completion]] = call.future.result()
        return result

    def _loop(self) -> None:
        engine = self.backend.engine
        while True:
            item = self._queue.get() if not self._running else self._next_nowait()
            while item is not None:
                if item is _STOP:
                    self._abort(engine, GeneratorError("the generator was shut down"))
                    return
                self._add(engine, item)
                item = self._next_nowait()
            if self._running:
                self._step(engine)

    def _next_nowait(self) -> Any:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def _add(self, engine: Any, call: _Call) -> None:
        added: list[str] = []
        try:
            for index, prompt in enumerate(call.prompts):
                model_input, params = self.backend.engine_request(prompt, call.params)
                ours = str(next(self._ids))
                theirs = engine.add_request(ours, model_input, params)
                self._running[ours] = (call, index, theirs)
                added.append(ours)
        except Exception as exc:  # a prompt vLLM refuses (too long, ...): this call fails, the others go on
            for ours in added:
                engine.abort_request([self._running.pop(ours)[2]], internal=True)
            call.future.set_exception(GeneratorError(f"vLLM refused a request: {exc}"))
            return
        self.requests_added += len(added)

    def _step(self, engine: Any) -> None:
        try:
            outputs = engine.step()
        except Exception as exc:  # the engine failed: every call in it gets the error
            self._abort(engine, GeneratorError(f"vLLM generation failed: {exc}"))
            return
        self.engine_steps += 1
        for output in outputs:
            if output.finished and output.request_id in self._running:
                call, index, _ = self._running.pop(output.request_id)
                try:
                    call.results[index] = self.backend.completions(output)
                except Exception as exc:  # an output we cannot read fails its call, never the engine thread
                    if not call.future.done():
                        call.future.set_exception(GeneratorError(f"unreadable vLLM output: {exc}"))
                    continue
                call.remaining -= 1
                if call.remaining == 0 and not call.future.done():
                    call.future.set_result(call.results)

    def _abort(self, engine: Any, error: Exception) -> None:
        if self._running:
            try:
                engine.abort_request([theirs for _, _, theirs in self._running.values()], internal=True)
            except Exception:  # aborting is best effort: the callers are told either way
                logger.exception("vLLM could not abort %d requests", len(self._running))
        for call, _, _ in self._running.values():
            if not call.future.done():
                call.future.set_exception(error)
        self._running.clear()
