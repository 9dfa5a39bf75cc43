"""The cascade: real tiers (the grader, the sandbox, Lean), which one decided, and disagreements."""

from __future__ import annotations

import pytest

from reason.registry import registry
from reason.searchers.refine import VerifierRefine
from reason.testing import FakeGenerator
from reason.types import Problem, Verdict
from reason.verifiers import cascade
from reason.verifiers.cascade import CascadeConfig, CascadeVerifier, Tier

HALF = Problem(question="What is half of 1?", answer="0.5")
EQUATION = Problem(question="Solve for x: 2x + 3 = 11.")


@pytest.fixture(scope="module")
def verifier() -> CascadeVerifier:
    return CascadeVerifier()


def _tiers(verdict: Verdict) -> list[str]:
    return [(v.rule or "").split(":")[0] for v in verdict.checks]


def test_exact_match_decides_first(verifier):
    verdict = verifier.verify(Problem(question="q", answer="12"), "12")
    assert (verdict.status, verdict.rule) == ("pass", "match")
    assert _tiers(verdict) == ["match"]  # nothing else ran


def test_sympy_decides_what_text_cannot(verifier):
    verdict = verifier.verify(HALF, "\\frac{1}{2}")
    assert verdict.status == "pass" and verdict.rule.startswith("sympy")
    assert _tiers(verdict) == ["match", "sympy"]
    assert "decided by sympy" in verdict.detail


def test_wrong_answer_fails_at_sympy(verifier):
    verdict = verifier.verify(HALF, "0.25")
    assert verdict.status == "fail" and verdict.rule.startswith("sympy")


def test_answer_is_extracted_from_a_whole_solution(verifier):
    solution = "Half of one is one divided by two.\n1 / 2 = 0.5\nThe answer is 0.5."
    assert verifier.verify(HALF, solution).status == "pass"


def test_without_a_reference_code_execution_decides(verifier):
    substituted = verifier.verify(EQUATION, "4")
    assert (substituted.status, substituted.rule) == ("pass", "code:substitution")
    assert _tiers(substituted) == ["match", "sympy", "code"]
    wrong = verifier.verify(EQUATION, "5")
    assert (wrong.status, wrong.rule) == ("fail", "code:substitution")


def test_bad_arithmetic_fails_at_the_code_tier(verifier):
    verdict = verifier.verify(Problem(question="How many apples?"), "She has 3 * 4 = 13 apples.")
    assert (verdict.status, verdict.rule) == ("fail", "code:arithmetic")


def test_lean_decides_formal_statements(verifier, lean_checker):
    problem = Problem(question="theorem two_two : 2 + 2 = 4 := by sorry", task="lean")
    proved = verifier.verify(problem, "by decide")
    assert (proved.status, proved.rule) == ("pass", "lean")
    assert _tiers(proved) == ["match", "sympy", "code", "lean"]
    assert verifier.verify(problem, "by sorry").status == "fail"


def test_nothing_decisive_is_an_error_with_every_tier_recorded(verifier):
    verdict = verifier.verify(Problem(question="Why?"), "Because.")
    assert (verdict.status, verdict.rule) == ("error", "cascade")
    assert _tiers(verdict) == ["match", "sympy", "code", "lean"]


def test_running_every_tier_reports_disagreement():
    problem = Problem(question="3 boxes of 4 eggs?", answer="12")
    verdict = CascadeVerifier(stop_early=False).verify(problem, "3 * 4 = 13, no: 12. The answer is 12.")
    assert verdict.status == "pass" and verdict.rule.startswith("match")  # the first decisive tier still decides
    assert "disagreement: match=pass, sympy=pass, code=fail" in verdict.detail  # code caught the wrong arithmetic


def test_agreeing_tiers_report_no_disagreement():
    problem = Problem(question="3 boxes of 4 eggs?", answer="12")
    verdict = CascadeVerifier(stop_early=False, tiers=("sympy", "code")).verify(problem, "3 * 4 = 12. The answer is 12.")
    assert verdict.status == "pass" and "disagreement" not in verdict.detail


def test_a_crashing_tier_is_undecided_not_fatal(monkeypatch):
    def broken(problem, candidate):
        raise RuntimeError("tier exploded")

    monkeypatch.setitem(cascade.TIERS, "sympy", Tier("sympy", broken, frozenset({"pass", "fail"})))
    verdict = CascadeVerifier(tiers=("sympy", "code")).verify(Problem(question="q"), "3 * 4 = 12")
    assert verdict.status == "pass" and verdict.rule == "code:arithmetic"
    assert "tier exploded" in verdict.checks[0].detail


def test_tier_names_are_checked():
    with pytest.raises(ValueError, match="unknown tier"):
        CascadeConfig(tiers=("match", "oracle"))


def test_usable_as_the_verifier_of_a_searcher():
    """Verifier-guided refinement with the cascade: a wrong substitution is fed back, the retry passes."""
    gen = FakeGenerator(["2x = 10, so x = 5. The answer is 5.", "2x = 8, so x = 4. The answer is 4."])
    result = VerifierRefine(verifier="cascade").search(EQUATION, gen)
    assert result.answer == "4"
    assert [v["status"] for v in result.trace["verdicts"]] == ["fail", "pass"]
    assert "does not satisfy" in gen.calls[1].prompts[0]


def test_registered_as_cascade():
    assert registry.get("verifier", "cascade") is CascadeVerifier
