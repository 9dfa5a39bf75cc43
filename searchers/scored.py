"""What searchers that rank by a PRM share: the PRM, step-score and vote parameters, and scoring whole samples.

Leaves out: generating anything (see searchers/stepwise.py and searchers/sampling.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, ConfigDict, Field, field_validator

from reason.registry import named
from reason.reward import MeteredPRM, prm_choice, reduce_steps, step_reduction
from reason.searcher import SearcherConfig
from reason.steps import split_steps
from reason.types import Problem, Sample
from reason.voting import ALIASES, VOTES


class ScoredSearchConfig(SearcherConfig):
    """Parameters of a searcher that values solutions with a PRM."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    prm: Any = "llm-judge"
    """What values steps: a registered PRM name, a PRMSpec (or dict of one), or a PRM object."""
    step_score: str = Field(default="last", validation_alias=AliasChoices("step_score", "aggregation"))
    """How a solution's step scores become one value: a name in `reason.reward.STEP_REDUCTIONS`
    (`aggregation=` is its old name, still accepted)."""
    select: str = "best"
    """How the answer is picked among scored solutions: a vote rule in `reason.voting.VOTES`."""

    @field_validator("prm")
    @classmethod
    def _check_prm(cls, value: Any) -> Any:
        return prm_choice(value)

    @field_validator("step_score")
    @classmethod
    def _check_step_score(cls, value: str) -> str:
        step_reduction(value)
        return value

    @field_validator("select")
    @classmethod
    def _check_select(cls, value: str) -> str:
        return named(ALIASES.get(value, value), VOTES, "vote rule")


def score_samples(
    problem: Problem, prm: MeteredPRM, samples: list[Sample], how: str, delimiter: str, max_steps: int
) -> list[Sample]:
    """Each sample with its score: the PRM over its steps (one call for all), aggregated by `how`.

    A sample without any text scores 0 and is not sent to the PRM.
    """
    steps = [split_steps(s.text, delimiter, max_steps) for s in samples]
    worded = [i for i, st in enumerate(steps) if st]
    per_step = dict(zip(worded, prm.score(problem, [steps[i] for i in worded])))
    return [s.model_copy(update={"score": reduce_steps(how, per_step.get(i, []))}) for i, s in enumerate(samples)]
