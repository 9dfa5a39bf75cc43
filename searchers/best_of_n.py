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
from typing import ClassVar

from pydantic import Field

from reason.generator import Generator
from reason.reward import MeteredPRM, build_prm
from reason.searchers.compose import NSolutions
from reason.searchers.sampling import finish, sample_tree
from reason.searchers.scored import ScoredSearchConfig, score_samples
from reason.tree import ROOT
from reason.types import Problem, SearchResult


class BestOfN(NSolutions, ScoredSearchConfig):
    """Args: n solutions, sampling knobs, prm/aggregation/select, base (optional inner searcher), budget.

    Example:
        >>> from reason.testing import FakeGenerator, FakePRM
        >>> gen = FakeGenerator(["2 + 2 = 5\\n\\nThe answer is 5.", "2 + 2 = 4\\n\\nThe answer is 4."])
        >>> prm = FakePRM({"2 + 2 = 5": 0.1, "2 + 2 = 4": 0.9}, default=1.0)
        >>> BestOfN(n=2, prm=prm, step_score="min").search(Problem(question="2+2?"), gen).answer
        '4'
    """

    strategy: ClassVar[str] = "best-of-n"

    temperature: float = Field(default=0.8, gt=0.0)
    delimiter: str = Field(default="\n\n", min_length=1)
    """Splits a solution into the steps the PRM scores."""
    max_steps: int = Field(default=16, ge=1)

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        started = time.perf_counter()
        prm = MeteredPRM(build_prm(self.prm), generator)
        samples, compute, tree = self.draw_solutions(problem, generator)
        scored = score_samples(problem, prm, samples, self.step_score, self.delimiter, self.max_steps)
        if self.base is None:  # the flat tree again, now with the PRM's scores on its nodes
            tree = sample_tree(scored, tree.node(ROOT).tokens)
        return finish(self.strategy, problem, scored, compute + prm.compute(), started, self.select, tree)
