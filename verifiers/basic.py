"""A basic answer comparison: numbers compared as numbers, anything else as trimmed text.

Enough for GSM8K-style integer answers. Leaves out: LaTeX and symbolic equivalence
(fractions, radicals, sets, intervals) — that is the SymPy grader's job.
"""

from __future__ import annotations

import re
from fractions import Fraction

from reason.tasks import task_style
from reason.types import Problem, Verdict


def _as_number(answer: str) -> Fraction | None:
    cleaned = re.sub(r"[\s,$]|\\\$|\\!", "", answer).rstrip(".").removesuffix("%")
    try:
        return Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        return None


def same_answer(a: str, b: str) -> bool:
    """True when two answer strings mean the same number, or are the same text.

    Example: same_answer("1,000", "1000.0") -> True
    """
    x, y = _as_number(a), _as_number(b)
    if x is not None and y is not None:
        return x == y
    return " ".join(a.split()) == " ".join(b.split())


class ReferenceMatch:
    """Verifier: the candidate matches the problem's reference answer under the task style's equivalence."""

    name = "match"

    def verify(self, problem: Problem, candidate: str) -> Verdict:
        if problem.answer is None:
            return Verdict(status="error", rule=self.name, detail="problem has no reference answer")

        same = task_style(problem.task).equivalent(candidate, problem.answer)
        return Verdict(status="pass" if same else "fail", rule=self.name, parsed=(candidate, problem.answer))
