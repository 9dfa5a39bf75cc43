"""Running a benchmark: problems in, one record per problem out, resumable at any point.

`run_benchmark(config, run_dir)` loads the dataset, skips problems that already have a
record in `run_dir`, solves the rest with up to `config.concurrency` worker threads
(their model calls sharing the backend through `shared_backend`, answered from the generation
cache where possible), grades each finished search on the calling thread and appends
its record at once. `run.json` pins what the results depend on; resuming with a
different dataset, strategy, parameters, thinking budget, backend, model, verifier or vote rule is
refused. `summary.json` is rewritten whenever the run stops, interrupted or not.
With `pools=` (a `PoolFactory`: the CLI passes `reason.distributed.ray_pools(options)`) the
problems are solved by model replicas elsewhere instead, through the `ProblemPool` seam; this
thread still grades and writes every record, so both kinds of run give the same records and
resume each other. This module never imports `reason.distributed` (a test holds the layers).
Leaves out: retrying failed problems (a Ray run retries those whose worker died); a
search that raises stops the run (finished records stay, and the next run resumes after them).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import Field, model_validator

from reason.api import make_generator, make_searcher
from reason.backends.batching import BackendThread
from reason.backends.cache import CacheOnlyGenerator, CachingGenerator, GenerationCache
from reason.backends.continuous import shared_backend
from reason.bench.datasets import Dataset, FieldMap, load_dataset
from reason.bench.errors import RunDirError
from reason.bench.grading import Grader
from reason.bench.metrics import Summary, summarize
from reason.bench.records import CacheCounts, ProblemRecord, RecordLog, renamed_vote
from reason.errors import ConfigError
from reason.generator import Generator
from reason.registry import registry
from reason.searcher import Searcher
from reason.thinking import ThinkingOptions, with_thinking
from reason.types import Frozen, Problem, SearchResult
from reason.voting import vote_name, vote_rule
from reason.watch import SearchProgress, WatchedGenerator

logger = logging.getLogger(__name__)

RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"
DEFAULT_CACHE = "generations.sqlite"


class RunConfig(Frozen):
    """What a benchmark run is: built by the CLI (or a script), stored in `run.json`."""

    dataset: str
    """A bundled name (gsm8k, math, math500) or a JSONL path."""
    question_field: str | None = None
    answer_field: str | None = None
    id_field: str | None = None
    task: str | None = None
    """Task style override (prompt template and answer extraction)."""
    limit: int | None = Field(default=None, ge=1)
    """Only the first `limit` problems, in dataset order."""
    strategy: str = "cot"
    params: dict[str, Any] = Field(default_factory=dict)
    """The searcher's own parameters (e.g. n, temperature, max_tokens)."""
    thinking: ThinkingOptions | None = None
    """Reasoning models: a thinking budget on every model call (reason.thinking)."""
    backend: str = "vllm"
    backend_options: dict[str, Any] = Field(default_factory=dict)
    verifier: str = "match"
    vote: str | None = None
    """A vote rule from `reason.voting.VOTES`; None keeps the searcher's own answer."""
    concurrency: int = Field(default=1, ge=1)
    cache: str | None = DEFAULT_CACHE
    """Generation cache file, relative to the run directory unless absolute; None disables it."""

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        return renamed_vote(data)

    def field_map(self) -> FieldMap | None:
        if self.question_field is None and self.answer_field is None and self.id_field is None:
            return None
        return FieldMap(self.question_field or "question", self.answer_field or "answer", self.id_field)


PINNED = ("dataset", "question_field", "answer_field", "id_field", "task", "strategy", "params", "thinking",
          "backend", "verifier", "vote")
"""Config fields a resumed run must share with the stored one. Limit, concurrency and cache may change;
so may backend options (mostly resources: memory, URLs, timeouts) — a change is logged, and the model
itself is checked by name."""


class Progress(Protocol):
    """Told about the run as it goes; the CLI draws a progress bar from it."""

    def start(self, total: int, finished: Sequence[ProblemRecord]) -> None: ...

    def advance(self, record: ProblemRecord) -> None: ...


def _live(progress: Progress | None) -> Callable[[Problem, SearchProgress], None] | None:
    """A progress that also takes `searching(problem, SearchProgress)` hears every model call of the searches
    running here (the events the interactive solver shows); Ray pools report finished problems only."""
    return getattr(progress, "searching", None)


Solved = tuple[SearchResult, CacheCounts, float]
"""A finished search, its cache counts and its wall time."""


@runtime_checkable
class ProblemPool(Protocol):
    """Solves whole problems elsewhere (replicas on a Ray cluster) and yields each as it finishes."""

    name: str
    failures: int
    """Attempts lost to a dead worker or replica, and retried."""

    def solve(self, todo: list[Problem], searcher: Searcher, cache: GenerationCache | None) -> Iterator[Solved]: ...


PoolFactory = Callable[[str, dict[str, Any], Path | None], AbstractContextManager[ProblemPool]]
"""(backend, backend options, generation cache file) -> an opened pool, closed on exit.
`reason.distributed.ray_pools(RayOptions(...))` makes one for a Ray cluster."""


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    summary: Summary
    new_records: int
    session_cache: CacheCounts
    """Cache hits and fresh generations of this invocation only."""


def run_benchmark(
    config: RunConfig,
    run_dir: Path,
    generator: Generator | ProblemPool | None = None,
    progress: Progress | None = None,
    only_ids: set[str] | None = None,
    pools: PoolFactory | None = None,
) -> RunOutcome:
    """Run (or resume) a benchmark into `run_dir`. A given `generator` (or an open pool of
    replicas, as a sweep shares one) is used and left open; with `pools`, a pool of replicas
    is opened for this run, each building its own generator."""
    run_dir = Path(run_dir)
    if pools is not None and generator is not None:
        raise ConfigError("a pooled run builds a generator in each replica; give the pool its generator factory")
    searcher = with_thinking(make_searcher(config.strategy, **config.params), config.thinking)
    grader = Grader(registry.get("verifier", config.verifier)(), _vote_rule(config.vote), run_dir)
    dataset = load_dataset(config.dataset, config.field_map(), config.task)
    problems = _select(dataset, config.limit, only_ids)
    with RecordLog(run_dir) as log:
        stored = _check_run_file(run_dir, config, dataset)
        if pools is not None and any(p.id not in log.finished for p in problems):
            return _run_pooled(config, run_dir, dataset, problems, searcher, grader, log, progress, stored, pools)
        built = _backend(config, stored, problems, log) if generator is None else None
        gen = generator if generator is not None else built
        assert gen is not None
        try:
            _write_run_file(run_dir, config, dataset, gen.name, stored)
            return _run(config, run_dir, problems, searcher, gen, grader, log, progress)
        finally:
            if built is not None:
                built.close()


def _run_pooled(config: RunConfig, run_dir: Path, dataset: Dataset, problems: list[Problem], searcher: Searcher,
                grader: Grader, log: RecordLog, progress: Progress | None, stored: dict | None,
                pools: PoolFactory) -> RunOutcome:
    cache_path = _cache_path(run_dir, config.cache) if config.cache else None
    with pools(config.backend, config.backend_options, cache_path) as pool:
        _write_run_file(run_dir, config, dataset, pool.name, stored)
        return _run(config, run_dir, problems, searcher, pool, grader, log, progress)


def _run(config: RunConfig, run_dir: Path, problems: list[Problem], searcher: Searcher,
         gen: Generator | ProblemPool, grader: Grader, log: RecordLog, progress: Progress | None) -> RunOutcome:
    todo = [p for p in problems if p.id not in log.finished]
    logger.info("%s: %d problems, %d already done", run_dir, len(problems), len(problems) - len(todo))
    if progress is not None:
        progress.start(len(problems), [log.finished[p.id] for p in problems if p.id in log.finished])
    cache = GenerationCache(_cache_path(run_dir, config.cache)) if config.cache else None
    new: list[ProblemRecord] = []
    failed_before = gen.failures if isinstance(gen, ProblemPool) else 0  # a pool can serve several runs (a sweep)
    started = time.perf_counter()
    try:
        _execute(todo, searcher, gen, cache, config.concurrency, grader, log, progress, new)
    finally:
        elapsed = time.perf_counter() - started
        if cache is not None:
            cache.close()
        records = [log.finished[p.id] for p in problems if p.id in log.finished]
        failures = gen.failures - failed_before if isinstance(gen, ProblemPool) else 0
        summary = _write_summary(run_dir, records, new, elapsed, failures)
    session = sum((r.cache for r in new), CacheCounts())
    return RunOutcome(run_dir=run_dir, summary=summary, new_records=len(new), session_cache=session)


def _execute(todo: list[Problem], searcher: Searcher, gen: Generator | ProblemPool, cache: GenerationCache | None,
             concurrency: int, grader: Grader, log: RecordLog, progress: Progress | None,
             new: list[ProblemRecord]) -> None:
    if isinstance(gen, ProblemPool):
        solving = gen.solve(todo, searcher, cache)
    else:
        solving = _solve_here(todo, searcher, gen, cache, concurrency, _live(progress))
    with closing(solving):  # type: ignore[type-var]  # both are generator functions, which close
        for result, counts, wall in solving:
            record = grader.record(result, counts, wall)
            log.append(record)  # the only writer: this thread
            new.append(record)
            if progress is not None:
                progress.advance(record)


def _solve_here(todo: list[Problem], searcher: Searcher, gen: Generator, cache: GenerationCache | None,
                concurrency: int, live: Callable[[Problem, SearchProgress], None] | None = None) -> Iterator[Solved]:
    backend = shared_backend(gen) if concurrency > 1 else gen
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="reason-bench")
    try:
        futures = [pool.submit(_solve, p, searcher, backend, cache, live) for p in todo]
        for future in as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if isinstance(backend, BackendThread):
            backend.shutdown()


def _solve(problem: Problem, searcher: Searcher, backend: Generator, cache: GenerationCache | None,
           live: Callable[[Problem, SearchProgress], None] | None = None) -> tuple[SearchResult, CacheCounts, float]:
    started = time.perf_counter()
    counting = CachingGenerator(backend, cache)
    watched = counting if live is None else WatchedGenerator(counting, problem.task, lambda step: live(problem, step))
    result = searcher.search(problem, watched)
    return result, CacheCounts.counted(counting), time.perf_counter() - started


def _backend(config: RunConfig, stored: dict | None, problems: list[Problem], log: RecordLog) -> Generator:
    """The configured backend; when every problem is already done, a stand-in that starts no engine."""
    if stored is not None and all(p.id in log.finished for p in problems):
        return CacheOnlyGenerator(stored["model"])
    return make_generator(config.backend, **config.backend_options)


def _select(dataset: Dataset, limit: int | None, only_ids: set[str] | None) -> list[Problem]:
    problems = list(dataset.problems[:limit] if limit else dataset.problems)
    if only_ids is not None:
        problems = [p for p in problems if p.id in only_ids]
    return problems


def _vote_rule(name: str | None) -> tuple[str, Any] | None:
    return None if name is None else (vote_name(name), vote_rule(name))


def _cache_path(run_dir: Path, cache: str) -> Path:
    path = Path(cache).expanduser()
    return path if path.is_absolute() else run_dir / path


def read_run_file(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise RunDirError(f"{run_dir} is not a benchmark run (no {RUN_FILE})")
    return json.loads(path.read_text("utf-8"))


def _check_run_file(run_dir: Path, config: RunConfig, dataset: Dataset) -> dict[str, Any] | None:
    if not (run_dir / RUN_FILE).is_file():
        return None
    stored = read_run_file(run_dir)
    old = RunConfig.model_validate(stored["config"])
    differ = [k for k in PINNED if getattr(old, k) != getattr(config, k)]
    if stored.get("dataset_digest") != dataset.digest:
        differ.append("dataset contents")
    if old.backend_options != config.backend_options:
        logger.warning("%s: backend options changed from %s to %s", run_dir, old.backend_options, config.backend_options)
    if differ:
        raise RunDirError(
            f"{run_dir} holds a run with different {', '.join(differ)}; use another --out to compare, "
            "or `reason bench rescore` to re-grade it"
        )
    return stored


def _write_run_file(run_dir: Path, config: RunConfig, dataset: Dataset, model: str, stored: dict | None) -> None:
    if stored is not None and stored.get("model") != model:
        raise RunDirError(f"{run_dir} was run with model {stored.get('model')!r}, not {model!r}")
    meta = {"config": config.model_dump(mode="json"), "model": model, "dataset": dataset.name,
            "dataset_digest": dataset.digest}
    _atomic_write(run_dir / RUN_FILE, json.dumps(meta, indent=2))


def _write_summary(run_dir: Path, records: list[ProblemRecord], new: list[ProblemRecord], elapsed: float,
                   failures: int = 0) -> Summary:
    previous = _previous_timing(run_dir)
    timed = previous[0] + len(new)
    seconds = previous[1] + (elapsed if new else 0.0)
    tokens = previous[2] + sum(r.cache.generated_tokens for r in new)  # what the backend generated: no cache hits
    summary = summarize(records, timed, seconds, tokens)
    summary = summary.model_copy(update={"failures": previous[3] + failures})
    _atomic_write(run_dir / SUMMARY_FILE, summary.model_dump_json(indent=2))
    return summary


def _previous_timing(run_dir: Path) -> tuple[int, float, int, int]:
    path = run_dir / SUMMARY_FILE
    if not path.is_file():
        return 0, 0.0, 0, 0
    try:
        old = Summary.model_validate_json(path.read_text("utf-8"))
    except ValueError:
        logger.warning("%s is unreadable; throughput restarts from this session", path)
        return 0, 0.0, 0, 0
    return old.timed_problems, old.elapsed_s, old.timed_generated_tokens, old.failures


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
