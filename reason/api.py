"""The Python API: `Engine` keeps a model loaded; `solve` is the one-call convenience.

    >>> import reason
    >>> result = reason.solve("What is 2+3?", strategy="self-consistency", n=8)   # doctest: +SKIP
    >>> result.answer, [(c.answer, c.votes) for c in result.candidates]            # doctest: +SKIP

`Engine.solve_many` (and `reason.solve` given a list) runs many problems at once, their model calls
merged into shared backend batches by the micro-batcher `reason bench` uses; an `Engine` may be called
from several threads (every model call goes through that one dispatcher); `asolve`/`asolve_many` are the
async twins. Leaves out: resumable runs, caching and grading (that is `reason bench`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reason.backends.batching import BackendThread
from reason.backends.continuous import shared_backend
from reason.errors import ConfigError
from reason.generator import Generator
from reason.registry import registry
from reason.searcher import Searcher
from reason.types import Problem, SearchResult

logger = logging.getLogger(__name__)


def make_generator(backend: str = "vllm", **options: Any) -> Generator:
    """Build a registered generator by name; options go to its constructor."""
    generator: Generator = registry.build("generator", backend, **options)
    return generator


def make_searcher(strategy: str, **params: Any) -> Searcher:
    """Build a registered searcher by name, its parameters validated."""
    searcher: Searcher = registry.build("searcher", strategy, **params)
    return searcher


class Engine:
    """A loaded model plus the registry: solve many problems without reloading.

    Args:
        backend: a registered generator name ("vllm", "http", ...).
        generator: an already-built generator (then backend and options are ignored).
        thinking: a thinking budget for every call (`reason.thinking.ThinkingBudget`'s options:
            max_thinking_tokens, min_thinking_tokens, open_tag, close_tag, wait), for reasoning models.
        **options: the backend's own options (e.g. model=..., base_url=...).

    Example:
        >>> from reason.testing import FakeGenerator
        >>> engine = Engine(generator=FakeGenerator(["The answer is 5."]))
        >>> engine.solve("2+3?").answer
        '5'
    """

    def __init__(self, backend: str = "vllm", generator: Generator | None = None,
                 thinking: dict[str, Any] | None = None, **options: Any) -> None:
        self.generator = generator if generator is not None else make_generator(backend, **options)
        if thinking:  # every call gets these budgets unless its params set their own (reason.thinking)
            from reason.thinking import ThinkingBudget

            self.generator = ThinkingBudget(self.generator, **thinking)
        self._shared: BackendThread | None = None
        self._shared_lock = threading.Lock()
        self.batch_window_s = 0.01
        """How long the shared dispatcher waits for more calls to merge after the first (set before first use)."""

    @property
    def shared_generator(self) -> Generator:
        """The model for calls from several threads at once: the in-process vLLM engine fed request by request
        (continuous batching), else one dispatcher merging calls into shared batches."""
        with self._shared_lock:
            if self._shared is None:
                self._shared = shared_backend(self.generator, window_s=self.batch_window_s)
            return self._shared

    def solve(
        self, question: str | Problem, strategy: str | Searcher = "cot", task: str = "gsm8k", **params: Any
    ) -> SearchResult:
        problem = question if isinstance(question, Problem) else _problem(question, task)
        searcher = strategy if not isinstance(strategy, str) else make_searcher(strategy, **params)
        if params and not isinstance(strategy, str):
            raise ConfigError("parameters go to the searcher's constructor when a searcher object is given")
        return searcher.search(problem, self.shared_generator)

    def solve_many(self, questions: Sequence[str | Problem], strategy: str | Searcher = "cot", task: str = "gsm8k",
                   concurrency: int = 8, **params: Any) -> list[SearchResult]:
        """Solve every question, `concurrency` at a time, their model calls batched together; results in order."""
        if concurrency < 1:
            raise ConfigError("concurrency must be at least 1")
        if isinstance(strategy, str):
            make_searcher(strategy, **params)  # a bad choice fails before any call
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="reason-solve") as pool:
            return list(pool.map(lambda q: self.solve(q, strategy, task=task, **params), questions))

    async def asolve(self, question: str | Problem, strategy: str | Searcher = "cot", task: str = "gsm8k",
                     **params: Any) -> SearchResult:
        return await asyncio.to_thread(self.solve, question, strategy, task, **params)

    async def asolve_many(self, questions: Sequence[str | Problem], strategy: str | Searcher = "cot",
                          task: str = "gsm8k", concurrency: int = 8, **params: Any) -> list[SearchResult]:
        return await asyncio.to_thread(self.solve_many, questions, strategy, task, concurrency, **params)

    def close(self) -> None:
        if self._shared is not None:
            self._shared.shutdown()
        self.generator.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _problem(question: str, task: str) -> Problem:
    return Problem(question=question, task=task)


_engines: dict[tuple, Engine] = {}
"""`solve`'s engine, kept for the next call with the same backend and options; at most one
(a model is gigabytes): a call with other options closes it before building the next."""
_engines_lock = threading.Lock()


def close_all() -> None:
    """Close the engine `solve` keeps (it is rebuilt on the next call)."""
    with _engines_lock:
        while _engines:
            _engines.popitem()[1].close()


def solve(
    question: str | Problem | Sequence[str | Problem],
    strategy: str = "cot",
    *,
    model: str | None = None,
    backend: str = "vllm",
    task: str = "gsm8k",
    backend_options: dict[str, Any] | None = None,
    **params: Any,
) -> Any:
    """Solve one question (a `SearchResult`), or a list of them (a list, solved together: `Engine.solve_many`).
    The engine for (backend, model, options) is kept for the next call; a call with another backend, model
    or options closes it first (see `close_all`).

    `params` are the strategy's parameters (e.g. n=8, temperature=0.7).
    """
    options = dict(backend_options or {})
    if model is not None:
        options["model"] = model
    key = (backend, tuple(sorted((k, repr(v)) for k, v in options.items())))
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            for other in list(_engines):
                _engines.pop(other).close()
            engine = _engines[key] = Engine(backend, **options)
    if isinstance(question, str | Problem):
        return engine.solve(question, strategy, task=task, **params)
    return engine.solve_many(list(question), strategy, task=task, **params)
