"""Re-grading a finished run without generating: replay it through its generation cache.

`rescore(run_dir, vote=..., verifier=...)` runs the stored configuration again
over the problems the run finished, with a backend that only answers from the cache
(`CacheOnlyGenerator`): every model call is a cache hit, answers are re-extracted with
the current extraction rules, re-voted with the chosen rule and re-graded with the
chosen verifier. A miss is an error unless a real generator is passed. The result is
an ordinary run directory (default `RUN_DIR/rescore/<vote>-<verifier>`), so its
records, summary and cache counts read like any other run's.
Leaves out: changing the searcher or its parameters (that is a new run).
"""

from __future__ import annotations

from pathlib import Path

from reason.backends.cache import CacheOnlyGenerator
from reason.bench.errors import RunDirError
from reason.bench.records import read_records
from reason.bench.runner import (
    Progress,
    RunConfig,
    RunOutcome,
    read_run_file,
    run_benchmark,
)
from reason.generator import Generator


def rescore(
    run_dir: Path,
    vote: str | None = None,
    verifier: str | None = None,
    out: Path | None = None,
    generator: Generator | None = None,
    progress: Progress | None = None,
) -> RunOutcome:
    """Re-vote and re-grade a run from its cache; `generator` (optional) fills cache misses."""
    run_dir = Path(run_dir)
    meta = read_run_file(run_dir)
    old = RunConfig.model_validate(meta["config"])
    if old.cache is None:
        raise RunDirError(f"{run_dir} ran without a generation cache; nothing to replay")
    cache = Path(old.cache).expanduser()
    cache = cache if cache.is_absolute() else (run_dir / cache).resolve()
    if not cache.is_file():
        raise RunDirError(f"the run's generation cache {cache} is missing")
    finished = {r.id for r in read_records(run_dir)}
    config = old.model_copy(update={
        "vote": vote if vote is not None else old.vote,
        "verifier": verifier or old.verifier,
        "cache": str(cache),
    })
    target = out or run_dir / "rescore" / f"{config.vote or 'searcher'}-{config.verifier}"
    backend = generator if generator is not None else CacheOnlyGenerator(meta["model"])
    return run_benchmark(config, Path(target), backend, progress, only_ids=finished)


__all__ = ["rescore"]
