"""Adaptive self-consistency: sample in small batches, stop as soon as more samples cannot change the vote.

After each batch two stopping rules are checked (Aggarwal et al., 2023):
- "decided": the leader's lead over the runner-up is larger than the samples still
  allowed (`n` minus those drawn), so no outcome of the rest can overtake or tie it;
- "confident" (when `confidence` is set): under a uniform prior on the two leading
  answers' shares, P(leader's share > runner-up's) reaches `confidence` — the tail of
  Beta(leader + 1, runner-up + 1) above 1/2, computed exactly.
It also stops when `n` samples are drawn or the budget is spent.
Leaves out: a stopping rule over more than the two leading answers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import ClassVar

from pydantic import Field

from reason.budget import Budget, BudgetedGenerator
from reason.generator import Generator
from reason.searcher import SearcherConfig
from reason.searchers.sampling import draw, finish, sample_tree
from reason.tasks import task_style
from reason.types import Problem, Sample, SamplingParams, SearchResult
from reason.voting import majority


def beta_tail_above_half(a: int, b: int) -> float:
    """P(X > 1/2) for X ~ Beta(a, b), integer a, b >= 1: P(Binomial(a + b - 1, 1/2) <= a - 1).

    Example: beta_tail_above_half(4, 1) -> 0.9375 (three votes to none, uniform prior)
    """
    trials = a + b - 1
    return sum(math.comb(trials, j) for j in range(a)) / 2**trials


class AdaptiveSelfConsistency(SearcherConfig):
    """Args: n (most samples), batch (per call), confidence (None: only the "decided" rule), sampling knobs, budget."""

    strategy: ClassVar[str] = "adaptive-sc"

    n: int = Field(default=16, ge=1)
    """Most samples drawn."""
    batch: int = Field(default=2, ge=1)
    """Samples per model call: smaller stops sooner, larger calls the model fewer times."""
    confidence: float | None = Field(default=0.95, gt=0.5, le=1.0)
    temperature: float = Field(default=0.7, gt=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=512, ge=1)
    seed: int | None = None
    budget: Budget = Budget()

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        started, style = time.perf_counter(), task_style(problem.task)
        metered, prompt = BudgetedGenerator(generator, self.budget), style.prompt(problem)
        params = SamplingParams(
            temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, seed=self.seed
        )
        samples: list[Sample] = []
        stopped = "n"
        while len(samples) < self.n:
            new = draw(metered, style, prompt, params.model_copy(update={"n": min(self.batch, self.n - len(samples))}))
            if not new:
                stopped = "budget"
                break
            samples += new
            if reason := self.stop_rule(samples, style.equivalent):
                stopped = reason
                break
        tree = sample_tree(samples, metered.root_prompt_tokens)
        trace = {"stopped": stopped, "drawn": len(samples), "calls": metered.calls}
        return finish(self.strategy, problem, samples, metered.compute(), started, tree=tree, trace=trace)

    def stop_rule(self, samples: list[Sample], equivalent: Callable[[str, str], bool]) -> str | None:
        """The name of the first stopping rule that holds, or None to keep sampling."""
        votes = [c.votes for c in majority(samples, equivalent)] + [0, 0]
        leader, runner_up = votes[0], votes[1]
        for name, rule in STOP_RULES.items():
            if rule(self, leader, runner_up, self.n - len(samples)):
                return name
        return None


def _decided(config: AdaptiveSelfConsistency, leader: int, runner_up: int, remaining: int) -> bool:
    return leader > 0 and leader - runner_up > remaining


def _confident(config: AdaptiveSelfConsistency, leader: int, runner_up: int, remaining: int) -> bool:
    if config.confidence is None or leader == 0:
        return False
    return beta_tail_above_half(leader + 1, runner_up + 1) >= config.confidence


STOP_RULES: dict[str, Callable[[AdaptiveSelfConsistency, int, int, int], bool]] = {
    "decided": _decided,
    "confident": _confident,
}
"""Stopping rules by name, checked in order after every batch."""
