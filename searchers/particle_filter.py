"""Particle filtering over partial solutions (Puri et al. 2025, "A Probabilistic Inference Approach to
Inference-Time Scaling of LLMs using Particle-Based Monte Carlo Methods"; its_hub's search).

`n` particles start at the root. Each step extends every open particle by one step (one model call for
all of them), the PRM scores the new steps, and each particle's weight is the softmax of its aggregated
PRM value over all particles (`weight_temperature`). Open particles are then resampled with replacement
in proportion to their weights — a soft beam: a strong path gets several copies, a weak one may survive,
nothing collapses onto one path at once. With `ess_threshold`, resampling happens only when the effective
sample size `1 / sum(w^2)` falls under that share of the particles (else they keep going as they are).
A finished particle stays finished with its weight. It stops when every particle has finished, the step
cap ends every path, or the budget is spent; the answer is chosen among the finished particles by
`select` ("weighted" by default: PRM values summed per answer).
Leaves out: the paper's Gibbs / parallel-tempering variants, and steering the policy by the weights.
"""

from __future__ import annotations

import math
import random
from collections import Counter
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
    """Softmax temperature on the particles' PRM values: lower sharpens the weights toward the best."""
    resampling: Literal["multinomial", "systematic"] = "multinomial"
    """How copies are drawn: independent draws, or one draw spread evenly (lower variance)."""
    ess_threshold: float | None = Field(default=None, gt=0, le=1)
    """Resample only when the effective sample size is under this share of the particles; None: every step."""
    select: str = "weighted"

    def search(self, problem: Problem, generator: Generator) -> SearchResult:
        run = self.start(problem, generator)
        rng = random.Random(self.seed)
        particles, finished, steps, resamples, ess_log = [ROOT] * self.n, [], 0, 0, []
        while particles:
            children = self._extend(run, particles)
            if not children:
                break  # budget spent
            steps += 1
            run.score(children)
            finished += [c for c in children if run.tree.node(c).terminal]
            particles = [c for c in children if not run.tree.node(c).terminal]
            if not particles:
                break
            weights = self.weights(run, particles)
            ess = effective_sample_size(weights)
            ess_log.append(round(ess, 3))
            if self.ess_threshold is None or ess < self.ess_threshold * len(particles):
                particles = self._resample(rng, particles, weights)
                resamples += 1
        finals = finished or particles
        trace = {"steps": steps, "resamples": resamples, "ess": ess_log, "finished": len(finished)}
        return run.result(self.strategy, finals, trace)

    def _extend(self, run: SearchRun, particles: list[int]) -> list[int]:
        """One next step for every particle: a node held by c particles is sampled c times (n=c, so seeded
        samples still differ); one model call per distinct number of copies."""
        copies = Counter(particles)
        children: list[int] = []
        for count in sorted(set(copies.values())):
            nodes = [node for node, held in copies.items() if held == count]
            grown = run.expand(nodes, count)
            if not grown:
                return []  # budget spent
            children += grown
        return children

    def weights(self, run: SearchRun, nodes: list[int]) -> list[float]:
        """Softmax of the nodes' aggregated PRM values at `weight_temperature` (normalised over `nodes`)."""
        values = [run.value(n) / self.weight_temperature for n in nodes]
        top = max(values)
        raw = [math.exp(v - top) for v in values]
        total = sum(raw)
        return [w / total for w in raw]

    def _resample(self, rng: random.Random, particles: list[int], weights: list[float]) -> list[int]:
        """`weights` as `weights()` gives them: normalised already."""
        if self.resampling == "multinomial":
            return rng.choices(particles, weights=weights, k=len(particles))
        return systematic(rng, particles, weights)


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
