"""Self-consistency: n sampled solutions in one batched call, majority vote over their answers.

Every vote is kept in the result's candidates. With `base` (any registered searcher),
the vote is over n runs of it instead, all inside this searcher's budget.
`select="confidence"` weighs each vote by the sample's own confidence from its token logprobs.
Leaves out: early stopping (that is adaptive self-consistency) and score-weighted
votes (best-of-N).
"""

from __future__ import annotations

import time
from typing import ClassVar

from pydantic import field_validator

from reason.generator import Generator
from reason.registry import named
from reason.searcher import SearcherConfig
from reason.searchers.compose import NSolutions
from reason.searchers.sampling import finish
from reason.types import Problem, SearchResult
from reason.voting import ALIASES, VOTES


class SelfConsistency(NSolutions, SearcherConfig):
    strategy: ClassVar[str] = "self-consistency"

    select: str = "majority"
    """The vote rule (`reason.voting.VOTES`); "confidence" asks for token logprobs and weighs each sample by
    its confidence (DeepConf's weighted vote, without dropping any)."""

    @field_validator("select")
    @classmethod
    def _check_select(cls, value: str) -> str:
        return named(ALIASES.get(value, value), VOTES, "vote rule")

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        started = time.perf_counter()
        samples, compute, tree = self.draw_solutions(problem, generator)
        return finish(self.strategy, problem, samples, compute, started, self.select, tree=tree)
