"""A PRM from a verifier that needs no reference answer (a code run, a SymPy substitution check, ...).

For each step prefix, what is checked is named in `CHECKS`: "answer" checks the final
answer the prefix states (prefixes that state none score `neutral`), "step" hands the
step's own text to the verifier (for verifiers that check a step, such as running the
code in it). A `pass` scores 1, a `fail` 0, an `error` or `timeout` `neutral`. The
verifier always sees the problem with its reference answer removed, so no reference
can leak into a search through it.
`as_verifier` also turns a plain function `(problem, candidate) -> bool | Verdict` into
a verifier; verifier-guided refinement uses it too.
Leaves out: partial credit from a verifier's detail text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, field_validator

from reason.extract import extract_answer
from reason.registry import named
from reason.reward import StepsBatch
from reason.steps import FINAL_RULES
from reason.types import Problem, Validated
from reason.verifier import Verifier, as_verifier, verifier_choice, without_reference


def _stated_answer(steps: Sequence[str], rules: Sequence[str]) -> str | None:
    return extract_answer("\n\n".join(steps), rules)


def _step_text(steps: Sequence[str], rules: Sequence[str]) -> str | None:
    return steps[-1]


CHECKS: dict[str, Callable[[Sequence[str], Sequence[str]], str | None]] = {"answer": _stated_answer, "step": _step_text}
"""What a verifier PRM hands the verifier for a step prefix, by name (None: nothing to check)."""


class VerifierPRM(Validated):
    """Args: verifier (registered name, Verifier or function), check (a name in CHECKS), neutral score.

    Example:
        >>> prm = VerifierPRM(verifier=lambda problem, answer: float(answer) % 1 == 0)
        >>> prm.score(Problem(question="q"), [["3 / 2 = 1.5", "The answer is 1.5."]])
        [[0.5, 0.0]]
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    name: ClassVar[str] = "verifier"

    verifier: Any
    check: str = "answer"
    final_rules: tuple[str, ...] = FINAL_RULES
    neutral: float = Field(default=0.5, ge=0.0, le=1.0)
    """The score of a prefix with nothing to check, or one the verifier could not decide."""

    @field_validator("verifier")
    @classmethod
    def _check_verifier(cls, value: Any) -> Any:
        return verifier_choice(value)

    @field_validator("check")
    @classmethod
    def _check_what(cls, value: str) -> str:
        return named(value, CHECKS, "check")

    def score(self, problem: Problem, steps_batch: StepsBatch) -> list[list[float]]:
        verifier, blind = as_verifier(self.verifier), without_reference(problem)
        return [[self._one(verifier, blind, steps[: i + 1]) for i in range(len(steps))] for steps in steps_batch]

    def _one(self, verifier: Verifier, problem: Problem, steps: Sequence[str]) -> float:
        candidate = CHECKS[self.check](steps, self.final_rules)
        if candidate is None:
            return self.neutral
        status = verifier.verify(problem, candidate).status
        return {"pass": 1.0, "fail": 0.0}.get(status, self.neutral)
