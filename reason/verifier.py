"""The `Verifier` seam: judge a candidate answer for a problem.

`verify(problem, candidate) -> Verdict`. A wrong answer is a `fail` verdict, never an
exception; a verifier that cannot decide says `error` or `timeout`.
Leaves out: how the decision is made (reference match, SymPy, code, Lean are plugins).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from reason.types import Problem, Verdict


@runtime_checkable
class Verifier(Protocol):
    name: str

    def verify(self, problem: Problem, candidate: str) -> Verdict: ...
