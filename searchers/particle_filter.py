"""Particle filtering over partial solutions (Puri et al. 2025, "A Probabilistic Inference Approach to
Inference-Time Scaling of LLMs using Particle-Based Monte Carlo Methods"; its_hub's search).

`n` particles start at the root. Each step extends every open particle by one step (one model call for
all of them) and the PRM scores the new steps. A particle's weight is the softmax, over the whole
population, of its PRM value turned into a log-weight: `weight="logit"` takes log(p / (1 - p)) of the
value (the authors' recipe in its_hub: a 0.9 step weighs 81 times a 0.1 step), `weight="score"` the value
itself (much softer); either is divided by `weight_temperature`. The population — open and finished
particles together, a finished one with its final weight — is then resampled with replacement in
proportion to the weights: a strong path gets several copies, a weak one may survive, nothing collapses
onto one path at once, and a finished solution the PRM likes takes slots (whose copies cost nothing
more) from open ones it does not. With `ess_threshold`, resampling happens only when the effective
sample size `1 / sum(w^2)` falls under that share of the particles. It stops when every particle has
finished, the step cap ends every path, or the budget is spent; the answer is chosen among the final
population (copies count) by `select`: "weighted" (PRM values summed per answer, the population's
estimate) by default, or "best" (the heaviest particle, its_hub's default). Resampling draws from a
generator seeded by `seed` and the question, so the same samples and scores give the same search (a replay
from the generation cache included) whether or not `seed` is set.
Checked against the authors' code: tests/test_searchers_particle.py reproduces its_hub's weights.
Leaves out: the paper's particle Gibbs / parallel-tempering variants, and steering the policy by the weights.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from typing import ClassVar, Literal

from pydantic import Field

from reason.generator import Generator
from reason.searchers.stepwise import SearchRun, StepSearchConfig
from reason.tree import ROOT
from reason.types import Problem, SearchResult


class ParticleFilter(StepSearchConfig):
    """Args: n particles, weight_temperature, resampling rule, ess_threshold, plus StepSearchConfig's.

    Example:
        >>> from reason.testing import FakeGenerator, FakePRM
        >>> gen = FakeGenerator(["The answer is 4."], cycle=True)
        >>> ParticleFilter(n=4, prm=FakePRM(), seed=0).search(Problem(question="2+2?"), gen).answer
        '4'
    """

    strategy: ClassVar[str] = "particle-filter"

    n: int = Field(default=8, ge=1)
    """Particles."""
    weight_temperature: float = Field(default=1.0, gt=0)
    """Softmax temperature on the particles' log-weights: lower sharpens the weights toward the best."""
    resampling: Literal["multinomial", "systematic"] = "multinomial"
    """How copies are drawn: independent draws, or one draw spread evenly (lower variance)."""
    weight: Literal["logit", "score"] = "logit"
    """A particle's log-weight from its PRM value p: log(p / (1 - p)) (the authors'), or p itself (softer)."""
    ess_threshold: float | None = Field(default=None, gt=0, le=1)
    """Resample only when the effective sample size is under this share of the particles; None: every step."""
    select: str = "weighted"

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        run = self.start(problem, generator)
        rng = random.Random(f"{self.seed}/{problem.question}")  # never the OS's entropy: replays must agree
        population, steps, resamples, ess_log = [ROOT] * self.n, 0, 0, []
        while not all(self._finished(run, p) for p in population):
            # a node held by c open particles is sampled c times (n=c, so seeded samples still differ)
            grown = run.expand_counts(Counter(p for p in population if not self._finished(run, p)))
            new = [c for children in grown.values() for c in children]
            if not new:
                break  # budget spent
            steps += 1
            run.score(new)
            # each open particle moves to one of its node's new children; one the budget left without stays put
            population = [p if self._finished(run, p) or not grown.get(p) else grown[p].pop() for p in population]
            weights = self.weights(run, population)
            ess = effective_sample_size(weights)
            ess_log.append(round(ess, 3))
            if self.ess_threshold is None or ess < self.ess_threshold * len(population):
                population = self._resample(rng, population, weights)
                resamples += 1
        finished = [p for p in population if self._finished(run, p)]
        trace = {"steps": steps, "resamples": resamples, "ess": ess_log,
                 "finished": len(finished), "distinct_finished": len(set(finished))}
        return run.result(self.strategy, finished or population, trace)

    @staticmethod
    def _finished(run: SearchRun, node: int) -> bool:
        return node != ROOT and run.tree.node(node).terminal

    def weights(self, run: SearchRun, nodes: list[int]) -> list[float]:
        """Softmax over `nodes` of their log-weights (`weight`) at `weight_temperature`."""
        values = [WEIGHTS[self.weight](run.value(n)) / self.weight_temperature for n in nodes]
        top = max(values)
        raw = [math.exp(v - top) for v in values]
        total = sum(raw)
        return [w / total for w in raw]

    def _resample(self, rng: random.Random, particles: list[int], weights: list[float]) -> list[int]:
        """`weights` as `weights()` gives them: normalised already."""
        if self.resampling == "multinomial":
            return rng.choices(particles, weights=weights, k=len(particles))
        return systematic(rng, particles, weights)


def logit(p: float) -> float:
    """log(p / (1 - p)), with p clipped to [1e-7, 1 - 1e-7] as its_hub clips it (a 0 or 1 score stays finite)."""
    p = min(max(p, 1e-7), 1 - 1e-7)
    return math.log(p / (1 - p))


WEIGHTS: dict[str, Callable[[float], float]] = {"logit": logit, "score": float}
"""A particle's log-weight from its PRM value, by name."""


def effective_sample_size(weights: list[float]) -> float:
    total = sum(weights)
    return total * total / sum(w * w for w in weights) if total > 0 else 0.0


def systematic(rng: random.Random, items: list[int], weights: list[float]) -> list[int]:
    """Systematic resampling: one uniform offset, then evenly spaced pointers through the cumulative weights."""
    n, start = len(items), rng.random() / len(items)
    chosen, cumulative, i = [], weights[0], 0
    for k in range(n):
        point = start + k / n
        while point > cumulative and i < n - 1:
            i += 1
            cumulative += weights[i]
        chosen.append(items[i])
    return chosen
