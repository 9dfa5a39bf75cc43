"""Budget-matched comparisons: each strategy run at the same generated-token budgets.

A small table maps a budget B (generated policy tokens per problem) to each strategy's own
knobs, using an estimate of tokens per full solution (`per_sample`: given, or measured by a
CoT pass first):

| strategy | knobs for budget B |
| --- | --- |
| cot | none: one greedy solution whatever B (one point) |
| self-consistency, best-of-n | n = B // per_sample (their hard budget would cut n by the worst case, max_tokens per sample) |
| any other (beam, mcts, ...) | its hard cap `budget={"tokens": B}` if it has a `budget` field, else n as above if it has `n`, else one point |

A budget too small for one solution is skipped; budgets that map to the same knobs run
once. Plots and tables use the *measured* mean generated tokens, not the nominal
budget, so a strategy that under- or over-spends shows where it really landed. All
runs share one generation cache, so re-running a sweep (or extending it) regenerates
nothing already generated. On Ray, one pool of replicas serves every run.
Leaves out: PRM tokens on the budget axis (they are recorded separately in each run).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import Field

from reason.api import make_generator
from reason.bench.runner import (
    PoolFactory,
    ProblemPool,
    Progress,
    RunConfig,
    run_benchmark,
)
from reason.errors import ConfigError
from reason.generator import Generator
from reason.registry import registry
from reason.types import Frozen

logger = logging.getLogger(__name__)

Fields = dict[str, Any]
BudgetMapper = Callable[[int, float, Fields], dict[str, Any] | None]
"""(budget in tokens, tokens per solution, the searcher's fields) -> its parameters, or None to skip."""


def _one_solution(budget: int, per_sample: float, fields: Fields) -> dict[str, Any] | None:
    return {}


def _n_samples(budget: int, per_sample: float, fields: Fields) -> dict[str, Any] | None:
    n = int(budget // per_sample)
    return {"n": n} if n >= 1 else None


def _generic(budget: int, per_sample: float, fields: Fields) -> dict[str, Any] | None:
    if "budget" in fields:
        return {"budget": {"tokens": budget}}
    return _n_samples(budget, per_sample, fields) if "n" in fields else {}


BUDGET_MAPPERS: dict[str, BudgetMapper] = {
    "cot": _one_solution,
    "self-consistency": _n_samples,
    "best-of-n": _n_samples,
}


def searcher_fields(strategy: str) -> Fields:
    return dict(getattr(registry.get("searcher", strategy), "model_fields", {}))


def budget_params(strategy: str, budget: int, per_sample: float) -> dict[str, Any] | None:
    """A strategy's parameters for a token budget (see the module table); None: budget too small."""
    fields = searcher_fields(strategy)
    return BUDGET_MAPPERS.get(strategy, _generic)(budget, per_sample, fields)


class SweepConfig(Frozen):
    dataset: str
    strategies: tuple[str, ...]
    budgets: tuple[int, ...]
    limit: int | None = Field(default=None, ge=1)
    common: dict[str, Any] = Field(default_factory=dict)
    """Parameters given to every strategy that has them (e.g. max_tokens, temperature)."""
    tokens_per_sample: float | None = Field(default=None, gt=0)
    backend: str = "vllm"
    backend_options: dict[str, Any] = Field(default_factory=dict)
    verifier: str = "match"
    concurrency: int = Field(default=1, ge=1)
    task: str | None = None
    question_field: str | None = None
    answer_field: str | None = None
    id_field: str | None = None


class SweepPoint(Frozen):
    strategy: str
    budget: int | None
    """The nominal budget that led to these parameters (the first one, when several did);
    None for a strategy whose knobs do not depend on the budget (CoT)."""
    params: dict[str, Any]
    run_dir: str
    problems: int
    accuracy: float
    mean_generated_tokens: float


def run_sweep(config: SweepConfig, out: Path, generator: Generator | None = None,
              progress: Callable[[str], Progress | None] = lambda label: None,
              pools: PoolFactory | None = None) -> list[SweepPoint]:
    """Run every (strategy, budget) into `out/runs/...`; returns one point per distinct run.

    With `pools`, one pool of model replicas (a Ray cluster's, from the CLI) serves every run of
    the sweep (each replica loads its model once); otherwise one generator does.
    """
    if pools is not None and generator is not None:
        raise ConfigError("a pooled sweep builds a generator in each replica; give the pool its generator factory")
    with _serving(config, Path(out), generator, pools) as gen:
        per_sample = config.tokens_per_sample or _measure_per_sample(config, Path(out), gen, progress)
        logger.info("sweep: %.1f generated tokens per solution", per_sample)
        points = []
        for strategy in config.strategies:
            points.extend(_strategy_points(config, Path(out), gen, strategy, per_sample, progress))
        return points


@contextmanager
def _serving(config: SweepConfig, out: Path, generator: Generator | None,
             pools: PoolFactory | None) -> Iterator[Generator | ProblemPool]:
    """What answers the sweep's runs: the given generator (left open), one pool, or a new backend."""
    if generator is not None:
        yield generator
    elif pools is not None:
        with pools(config.backend, config.backend_options, _cache_file(out)) as pool:
            yield pool
    else:
        gen = make_generator(config.backend, **config.backend_options)
        try:
            yield gen
        finally:
            gen.close()


def _cache_file(out: Path) -> Path:
    """One generation cache for the whole sweep: re-running or extending it regenerates nothing."""
    return (out / "generations.sqlite").resolve()


def _measure_per_sample(config: SweepConfig, out: Path, gen: Generator | ProblemPool, progress: Callable) -> float:
    point = _run_point(config, out, gen, "cot", None, {}, progress)
    return max(point.mean_generated_tokens, 1.0)


def _strategy_points(config: SweepConfig, out: Path, gen: Generator | ProblemPool, strategy: str, per_sample: float,
                     progress: Callable) -> list[SweepPoint]:
    points, seen = [], set()
    for budget in sorted(config.budgets):
        params = budget_params(strategy, budget, per_sample)
        if params is None:
            logger.info("sweep: budget %d is too small for one %s solution; skipped", budget, strategy)
            continue
        key = repr(sorted(params.items()))
        if key not in seen:
            seen.add(key)
            nominal = budget if params else None  # no knob moved: the budget did not shape this run
            points.append(_run_point(config, out, gen, strategy, nominal, params, progress))
    return points


def _run_point(config: SweepConfig, out: Path, gen: Generator | ProblemPool, strategy: str, budget: int | None,
               params: dict[str, Any], progress: Callable) -> SweepPoint:
    fields = searcher_fields(strategy)
    merged = {k: v for k, v in config.common.items() if k in fields} | params
    run_config = RunConfig(
        dataset=config.dataset, task=config.task, question_field=config.question_field,
        answer_field=config.answer_field, id_field=config.id_field, limit=config.limit, strategy=strategy,
        params=merged,
        backend=config.backend, backend_options=config.backend_options, verifier=config.verifier,
        concurrency=config.concurrency, cache=str(_cache_file(out)),
    )
    run_dir = out / "runs" / run_slug(strategy, params)
    outcome = run_benchmark(run_config, run_dir, gen, progress(f"{strategy} {params or ''}".strip()))
    s = outcome.summary
    return SweepPoint(strategy=strategy, budget=budget, params=merged, run_dir=str(run_dir), problems=s.problems,
                      accuracy=s.accuracy, mean_generated_tokens=s.mean_generated_tokens)


def run_slug(strategy: str, params: dict[str, Any]) -> str:
    """A folder name for a run. Example: ("self-consistency", {"n": 4}) -> "self-consistency-n4"."""
    parts = [strategy, *(f"{k}{v}" for k, v in sorted(params.items()))]
    return re.sub(r"[^A-Za-z0-9_.=-]", "_", "-".join(parts))


def budgets_of(points: Sequence[SweepPoint], strategy: str) -> list[SweepPoint]:
    return sorted((p for p in points if p.strategy == strategy), key=lambda p: p.mean_generated_tokens)
