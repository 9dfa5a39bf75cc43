"""Self-consistency: n sampled solutions in one batched call, majority vote over their answers.

Every vote is kept in the result's candidates. With `base` (any registered searcher),
the vote is over n runs of it instead, all inside this searcher's budget.
Leaves out: early stopping (that is adaptive self-consistency) and score-weighted
votes (best-of-N).
"""

from __future__ import annotations

import time
from typing import ClassVar

from reason.generator import Generator
from reason.searcher import SearcherConfig
from reason.searchers.compose import NSolutions
from reason.searchers.sampling import finish
from reason.types import Problem, SearchResult


class SelfConsistency(NSolutions, SearcherConfig):
    strategy: ClassVar[str] = "self-consistency"

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        started = time.perf_counter()
        samples, compute, tree = self.draw_solutions(problem, generator)
        return finish(self.strategy, problem, samples, compute, started, tree=tree)
