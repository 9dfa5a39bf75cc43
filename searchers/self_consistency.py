"""Self-consistency: n sampled solutions in one batched call, majority vote over their answers.

Every vote is kept in the result's candidates. Leaves out: early stopping (that is
adaptive self-consistency) and score-weighted votes (best-of-N).
"""

from __future__ import annotations

import time
from typing import ClassVar

from pydantic import Field

from reason.generator import Generator
from reason.searcher import SearcherConfig
from reason.types import Problem, SamplingParams, SearchResult
from searchers.sampling import sample_solutions, voted_result


class SelfConsistency(SearcherConfig):
    strategy: ClassVar[str] = "self-consistency"

    n: int = Field(default=8, ge=1)
    temperature: float = Field(default=0.7, gt=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=512, ge=1)
    seed: int | None = None
    """Per-request seed; None leaves sampling to the engine's own seed."""

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        started = time.perf_counter()
        params = SamplingParams(
            temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, n=self.n, seed=self.seed
        )
        samples, metered = sample_solutions(problem, generator, params)
        return voted_result(self.strategy, problem, samples, metered, started)
