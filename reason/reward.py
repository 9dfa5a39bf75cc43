"""The PRM seam: score every step of partial solutions; step-score reductions turn them into one.

`score(problem, steps_batch) -> list[list[float]]`: one list of per-step scores (in
[0, 1], higher is better) for each solution in the batch. Searchers refer to a PRM by
registered name (`"llm-judge"`), by `PRMSpec(name=..., params=...)` (or a dict of
that shape), or pass a PRM object. A PRM that runs on a language model declares
`uses_generator = True` and a `bind(generator)` method: the searcher hands it a
metered generator (its own model, or the policy's) so its spend is reported as PRM
compute. `MeteredPRM` does that binding and counting for one search.
Leaves out: training and calibration of PRMs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from reason.errors import ConfigError, PRMError
from reason.generator import Generator, MeteredGenerator
from reason.registry import ComponentSpec, build_choice, component_choice
from reason.types import Compute, Problem

StepsBatch = Sequence[Sequence[str]]
StepReduction = Callable[[Sequence[float]], float]


@runtime_checkable
class PRM(Protocol):
    name: str

    def score(self, problem: Problem, steps_batch: StepsBatch) -> list[list[float]]: ...


def uses_generator(prm: object) -> bool:
    """True for PRMs that need a language model bound before scoring (`bind(generator)`)."""
    return bool(getattr(prm, "uses_generator", False))


def last(scores: Sequence[float]) -> float:
    """The newest step's score (a PRM trained on whole prefixes). Example: [0.9, 0.2] -> 0.2."""
    return scores[-1]


def minimum(scores: Sequence[float]) -> float:
    """The weakest step decides. Example: [0.9, 0.2, 0.8] -> 0.2."""
    return min(scores)


def product(scores: Sequence[float]) -> float:
    """Probability that every step is right, if steps were independent. Example: [0.5, 0.5] -> 0.25."""
    return math.prod(scores)


def mean(scores: Sequence[float]) -> float:
    """Average step score. Example: [0.5, 1.0] -> 0.75."""
    return sum(scores) / len(scores)


STEP_REDUCTIONS: dict[str, StepReduction] = {"last": last, "min": minimum, "prod": product, "mean": mean}
"""Every step-score reduction by name (a searcher's `step_score=`): a solution's step scores -> one value."""


def step_reduction(name: str) -> StepReduction:
    try:
        return STEP_REDUCTIONS[name]
    except KeyError:
        raise ConfigError(f"unknown step score {name!r}; step scores: {', '.join(STEP_REDUCTIONS)}") from None


def reduce_steps(name: str, scores: Sequence[float]) -> float:
    """Reduce step scores to one by name; an empty solution scores 0."""
    return step_reduction(name)(scores) if scores else 0.0


PRMSpec = ComponentSpec
"""A registered PRM by name, with its constructor parameters."""


def prm_choice(value: Any) -> Any:
    """Validate what a searcher config was given as its PRM (name, spec, dict or PRM object)."""
    return component_choice("prm", value, PRM, "prm", "an object with score()")


def build_prm(choice: Any) -> PRM:
    """The PRM object for a choice (see `prm_choice`)."""
    prm: PRM = build_choice("prm", prm_choice(choice))
    return prm


class MeteredPRM:
    """One search's view of a PRM: binds it to a metered generator if it needs one, counts its calls.

    Args:
        prm: the PRM (already built).
        policy: the search's generator; a generator-backed PRM without its own model judges with it.
    """

    def __init__(self, prm: PRM, policy: Generator) -> None:
        self.meter: MeteredGenerator | None = None
        if uses_generator(prm):
            self.meter = MeteredGenerator(getattr(prm, "generator", None) or policy, role="prm")
            prm = prm.bind(self.meter)  # type: ignore[attr-defined]
        self.inner = prm
        self.name = prm.name
        self.calls = 0
        self._tokens_before = getattr(prm, "tokens_processed", 0)

    def score(self, problem: Problem, steps_batch: StepsBatch) -> list[list[float]]:
        if not steps_batch:
            return []
        scores = self.inner.score(problem, steps_batch)
        self.calls += 1
        if len(scores) != len(steps_batch) or any(len(s) != len(t) for s, t in zip(scores, steps_batch)):
            raise PRMError(f"PRM {self.name!r} returned scores of the wrong shape for {len(steps_batch)} solutions")
        return [[float(x) for x in per_solution] for per_solution in scores]

    def compute(self) -> Compute:
        if self.meter is not None:
            return self.meter.compute()
        tokens = getattr(self.inner, "tokens_processed", 0) - self._tokens_before
        return Compute(prm_calls=self.calls, prm_prompt_tokens=tokens)
