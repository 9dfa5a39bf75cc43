"""Best-of-N: draw N solutions, score each with a PRM, keep the best (plain) or the best-supported answer (weighted).

`select="best"` returns the single highest-scoring solution's answer; `select="weighted"`
sums the scores of the solutions behind each answer (weighted best-of-N);
`select="majority"` ignores the scores. Without `base`, the N solutions come from one
batched call; with `base` (any registered searcher, e.g. beam search), each is the
result of one run of it, all inside this searcher's budget.
Leaves out: verifier-based reranking (see searchers/refine.py for verifier feedback).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from pydantic import Field, field_validator

from prm.base import MeteredPRM, build_prm
from reason.budget import Budget
from reason.generator import Generator
from reason.tree import SearchTree
from reason.types import Compute, Problem, Sample, SamplingParams, SearchResult
from searchers.compose import (
    as_samples,
    build_searcher,
    grafted_tree,
    repeat_search,
    searcher_choice,
    total_compute,
)
from searchers.sampling import finish, sample_solutions, sample_tree
from searchers.scored import ScoredSearchConfig, score_samples


class BestOfN(ScoredSearchConfig):
    """Args: n solutions, sampling knobs, prm/aggregation/select, base (optional inner searcher), budget.

    Example:
        >>> from reason.testing import FakeGenerator, FakePRM
        >>> gen = FakeGenerator(["2 + 2 = 5\\n\\nThe answer is 5.", "2 + 2 = 4\\n\\nThe answer is 4."])
        >>> prm = FakePRM({"2 + 2 = 5": 0.1, "2 + 2 = 4": 0.9}, default=1.0)
        >>> BestOfN(n=2, prm=prm, aggregation="min").search(Problem(question="2+2?"), gen).answer
        '4'
    """

    strategy: ClassVar[str] = "best-of-n"

    n: int = Field(default=8, ge=1)
    temperature: float = Field(default=0.8, gt=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=512, ge=1)
    """Most tokens per solution (without `base`)."""
    delimiter: str = Field(default="\n\n", min_length=1)
    """Splits a solution into the steps the PRM scores."""
    max_steps: int = Field(default=16, ge=1)
    seed: int | None = None
    base: Any = None
    """Optional inner searcher run n times: a registered name, a SearcherSpec (or dict), or a searcher."""
    budget: Budget = Budget()

    @field_validator("base")
    @classmethod
    def _check_base(cls, value: Any) -> Any:
        return None if value is None else searcher_choice(value)

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        started = time.perf_counter()
        prm = MeteredPRM(build_prm(self.prm), generator)
        samples, compute, tree = self._draw(problem, generator)
        scored = score_samples(problem, prm, samples, self.aggregation, self.delimiter, self.max_steps)
        tree = tree if tree is not None else sample_tree(scored, self._prompt_tokens(compute))
        return finish(self.strategy, problem, scored, compute + prm.compute(), started, self.select, tree)

    def _draw(self, problem: Problem, generator: Generator) -> tuple[list[Sample], Compute, SearchTree | None]:
        """The N solutions, what they cost, and their tree when a base searcher built one."""
        if self.base is None:
            params = SamplingParams(
                temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, n=self.n, seed=self.seed
            )
            samples, metered = sample_solutions(problem, generator, params, self.budget)
            return samples, metered.compute(), None
        results = repeat_search(build_searcher(self.base), problem, generator, self.n, self.budget)
        return as_samples(results), total_compute(results), grafted_tree(results)

    @staticmethod
    def _prompt_tokens(compute: Compute) -> int:
        return compute.prompt_tokens // max(1, compute.model_calls)
