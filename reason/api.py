"""The Python API: `Engine` keeps a model loaded; `solve` is the one-call convenience.

    >>> import reason
    >>> result = reason.solve("What is 2+3?", strategy="self-consistency", n=8)   # doctest: +SKIP
    >>> result.answer, [(c.answer, c.votes) for c in result.candidates]            # doctest: +SKIP

Leaves out: batching many problems at once (that is `reason bench`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

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
        **options: the backend's own options (e.g. model=..., base_url=...).

    Example:
        >>> from reason.testing import FakeGenerator
        >>> engine = Engine(generator=FakeGenerator(["The answer is 5."]))
        >>> engine.solve("2+3?").answer
        '5'
    """

    def __init__(self, backend: str = "vllm", generator: Generator | None = None, **options: Any) -> None:
        self.generator = generator if generator is not None else make_generator(backend, **options)

    def solve(
        self, question: str | Problem, strategy: str | Searcher = "cot", task: str = "gsm8k", **params: Any
    ) -> SearchResult:
        problem = question if isinstance(question, Problem) else _problem(question, task)
        searcher = strategy if not isinstance(strategy, str) else make_searcher(strategy, **params)
        if params and not isinstance(strategy, str):
            raise ConfigError("parameters go to the searcher's constructor when a searcher object is given")
        return searcher.search(problem, self.generator)

    def close(self) -> None:
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
    question: str | Problem,
    strategy: str = "cot",
    *,
    model: str | None = None,
    backend: str = "vllm",
    task: str = "gsm8k",
    backend_options: dict[str, Any] | None = None,
    **params: Any,
) -> SearchResult:
    """Solve one question. The engine for (backend, model, options) is kept for the next call;
    a call with another backend, model or options closes it first (see `close_all`).

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
    return engine.solve(question, strategy, task=task, **params)
