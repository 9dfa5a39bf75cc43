"""Chain-of-thought: one step-by-step solution, greedy unless told otherwise."""

from __future__ import annotations

import time
from typing import ClassVar

from pydantic import Field

from reason.budget import Budget
from reason.generator import Generator
from reason.searcher import SearcherConfig
from reason.searchers.sampling import sample_solutions, voted_result
from reason.types import Problem, SamplingParams, SearchResult


class ChainOfThought(SearcherConfig):
    strategy: ClassVar[str] = "cot"

    temperature: float = Field(default=0.0, ge=0.0)
    max_tokens: int = Field(default=512, ge=1)
    seed: int | None = None
    budget: Budget = Budget()

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        started = time.perf_counter()
        params = SamplingParams(temperature=self.temperature, max_tokens=self.max_tokens, n=1, seed=self.seed)
        samples, metered = sample_solutions(problem, generator, params, self.budget)
        return voted_result(self.strategy, problem, samples, metered, started)
