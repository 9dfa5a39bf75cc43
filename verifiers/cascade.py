"""Verifier "cascade": exact match, then SymPy equivalence, then code execution, then Lean — one verdict.

Tiers run in order and the cascade stops at the first decisive one. What counts as decisive is
each tier's own rule (`Tier.decides_on`): a textual mismatch is not decisive (the answers may
still be equivalent), a SymPy, code or Lean pass or fail is. A tier that does not apply or
cannot decide (`error`) hands over to the next. A tier that timed out hands over too, but
then a later tier can only fail the candidate, never pass it: the verdict is `timeout` (an
answer built to stall the grader must not let another tier decide in its favour). The verdict records which tier
decided (`rule`), every tier that ran (`checks`), and, when asked to run every tier
(`stop_early=False`), any disagreement between the decisive ones (in `detail`).

The candidate may be a bare answer or a whole solution: the answer tiers compare the answer
extracted from it (by the problem's task style), the code and Lean tiers see the whole text.
Leaves out: weighting tiers against each other; the first decisive tier wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import field_validator

from reason.registry import named
from reason.tasks import task_style
from reason.types import Frozen, Problem, Verdict

TierCheck = Callable[[Problem, str], Verdict]


@dataclass(frozen=True)
class Tier:
    name: str
    check: TierCheck
    decides_on: frozenset[str]
    """Statuses of this tier that end the cascade."""


def _answer_of(problem: Problem, candidate: str) -> str:
    """The answer a candidate states (`TaskStyle.stated`), else the candidate itself."""
    return task_style(problem.task).stated(candidate) or candidate.strip()


def match_tier(problem: Problem, candidate: str) -> Verdict:
    """Exact match after whitespace, case and `$`/`\\boxed` wrapping are stripped."""
    if problem.answer is None:
        return Verdict(status="error", rule="match", detail="no reference answer")
    answer = _answer_of(problem, candidate)
    a, b = _plain(answer), _plain(problem.answer)
    return Verdict(status="pass" if a == b else "fail", rule="match", parsed=(a, b))


def _plain(text: str) -> str:
    text = text.strip().strip("$").strip()
    if text.startswith("\\boxed{") and text.endswith("}"):
        text = text[len("\\boxed{") : -1]
    return "".join(text.split()).lower().rstrip(".")


def sympy_tier(problem: Problem, candidate: str) -> Verdict:
    """The grader (normalisation, exact rationals, SymPy equivalence under a time limit)."""
    if problem.answer is None:
        return Verdict(status="error", rule="sympy", detail="no reference answer")
    from reason.verifiers.grader import grade

    verdict = grade(_answer_of(problem, candidate), problem.answer)
    return verdict.model_copy(update={"rule": f"sympy:{verdict.rule}" if verdict.rule else "sympy"})


def code_tier(problem: Problem, candidate: str) -> Verdict:
    from reason.verifiers.code import CodeVerifier

    return _shared("code", CodeVerifier).verify(problem, candidate)


def lean_tier(problem: Problem, candidate: str) -> Verdict:
    from reason.verifiers.lean import LeanVerifier, lean_source

    if lean_source(problem, candidate) is None:
        return Verdict(status="error", rule="lean", detail="no Lean statement or proof in the candidate")
    return _shared("lean", LeanVerifier).verify(problem, candidate)


_instances: dict[str, object] = {}


def _shared(name: str, factory: Callable[[], object]):
    """One verifier per tier per process: the Lean checker and sandbox settings are reused across calls."""
    if name not in _instances:
        _instances[name] = factory()
    return _instances[name]


TIERS: dict[str, Tier] = {
    "match": Tier("match", match_tier, frozenset({"pass"})),
    "sympy": Tier("sympy", sympy_tier, frozenset({"pass", "fail"})),
    "code": Tier("code", code_tier, frozenset({"pass", "fail"})),
    "lean": Tier("lean", lean_tier, frozenset({"pass", "fail"})),
}
"""Every tier by name, in the default order."""


class CascadeConfig(Frozen):
    tiers: tuple[str, ...] = ("match", "sympy", "code", "lean")
    """Tiers to try, in order (names in `TIERS`)."""
    stop_early: bool = True
    """Stop at the first decisive tier; False runs every tier and reports disagreements."""

    @field_validator("tiers")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return named(value, TIERS, "tier")


class CascadeVerifier:
    """Verifier "cascade".

    Example:
        >>> CascadeVerifier().verify(Problem(question="Half of 1?", answer="0.5"), "\\\\frac{1}{2}").rule
        'sympy:rational'
    """

    name = "cascade"

    def __init__(self, **config: object) -> None:
        self.config = CascadeConfig(**config)  # type: ignore[arg-type]

    def verify(self, problem: Problem, candidate: str) -> Verdict:
        ran: list[tuple[Tier, Verdict]] = []
        for name in self.config.tiers:
            tier = TIERS[name]
            ran.append((tier, _safe(tier, problem, candidate)))
            if self.config.stop_early and ran[-1][1].status in tier.decides_on:
                break
        return _combined(ran)


def _safe(tier: Tier, problem: Problem, candidate: str) -> Verdict:
    try:
        verdict = tier.check(problem, candidate)
    except Exception as exc:
        return Verdict(status="error", rule=tier.name, detail=f"{type(exc).__name__}: {exc}")
    if (verdict.rule or "").startswith(tier.name):
        return verdict
    rule = f"{tier.name}:{verdict.rule}" if verdict.rule else tier.name
    return verdict.model_copy(update={"rule": rule})


def _combined(ran: list[tuple[Tier, Verdict]]) -> Verdict:
    decisive = [(t, v) for t, v in ran if v.status in t.decides_on]
    checks = tuple(v for _, v in ran)
    trail = ", ".join(f"{t.name}={v.status}" for t, v in ran)
    if not decisive:
        last = ran[-1][1] if ran else Verdict(status="error", rule="cascade", detail="no tiers")
        status: Literal["timeout", "error"] = "timeout" if any(v.status == "timeout" for v in checks) else "error"
        return Verdict(status=status, rule="cascade", detail=f"no tier decided ({trail}); last: {last.detail}", checks=checks)
    tier, first = decisive[0]
    stalled = [t.name for t, v in ran[: ran.index((tier, first))] if v.status == "timeout"]
    if stalled and first.status == "pass":
        return Verdict(status="timeout", rule="cascade", checks=checks,
                       detail=f"{', '.join(stalled)} timed out, so {tier.name}'s pass cannot decide ({trail})")
    statuses = {v.status for _, v in decisive}
    note = f"; disagreement: {', '.join(f'{t.name}={v.status}' for t, v in decisive)}" if len(statuses) > 1 else ""
    detail = f"decided by {tier.name} ({trail}){note}" + (f": {first.detail}" if first.detail else "")
    return Verdict(status=first.status, rule=first.rule, detail=detail, parsed=first.parsed, checks=checks)
