"""Self-consistency: n sampled solutions in one batched call, majority vote over their answers.

Every vote is kept in the result's candidates. With `base` (any registered searcher),
the vote is over n runs of it instead, all inside this searcher's budget.
Leaves out: early stopping (that is adaptive self-consistency) and score-weighted
votes (best-of-N).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from pydantic import Field, field_validator

from reason.budget import Budget
from reason.generator import Generator
from reason.searcher import SearcherConfig
from reason.types import Problem, SamplingParams, SearchResult
from searchers.compose import (
    as_samples,
    build_searcher,
    grafted_tree,
    repeat_search,
    searcher_choice,
    total_compute,
)
from searchers.sampling import finish, sample_solutions, voted_result


class SelfConsistency(SearcherConfig):
    strategy: ClassVar[str] = "self-consistency"

    n: int = Field(default=8, ge=1)
    temperature: float = Field(default=0.7, gt=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=512, ge=1)
    seed: int | None = None
    """Per-request seed; None leaves sampling to the engine's own seed."""
    base: Any = None
    """Optional inner searcher to run n times and vote over: a registered name, a SearcherSpec, or a searcher."""
    budget: Budget = Budget()

    @field_validator("base")
    @classmethod
    def _check_base(cls, value: Any) -> Any:
        return None if value is None else searcher_choice(value)

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        started = time.perf_counter()
        if self.base is not None:
            results = repeat_search(build_searcher(self.base), problem, generator, self.n, self.budget)
            samples, tree = as_samples(results), grafted_tree(results)
            return finish(self.strategy, problem, samples, total_compute(results), started, tree=tree)
        params = SamplingParams(
            temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, n=self.n, seed=self.seed
        )
        samples, metered = sample_solutions(problem, generator, params, self.budget)
        return voted_result(self.strategy, problem, samples, metered, started)
