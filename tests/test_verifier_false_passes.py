"""The code verifier and the cascade cannot be argued into `pass`.

A verifier inside a search is an adversary's target: the search keeps whatever passes. Each case
here is an answer written to get a wrong `pass` (found by attacking the verifier from outside its
own tests), and each must not pass; honest answers still must.
"""

import pytest

from reason.searchers.best_of_n import BestOfN
from reason.searchers.refine import VerifierRefine
from reason.testing import FakeGenerator
from reason.types import Problem
from reason.verifiers.cascade import CascadeVerifier
from reason.verifiers.code import CodeVerifier

EQUATION = Problem(question="Solve for x: 2x + 3 = 11.", answer="4")
APPLES = Problem(question="Tom has 3 bags of 6 apples and eats 2. How many apples are left?", answer="16")
MARKER = '{"zero": true, "residual": "0"}'

PAYLOADS = [
    # model text evaluated as Python by a parser: print the marker the check trusted
    f"7+0*exec('print({MARKER!r})')",
    "7+0*__import__('os').system('true')",
    # ... and a power that makes the grader tier time out, so another tier decides
    f"7+0*exec('print({MARKER!r})')+0*9**9**9**9",
    "x = 7 or 0",
    "7; 4",
    "\\boxed{4} is wrong, the answer is 7",
]


@pytest.fixture(scope="module")
def code():
    return CodeVerifier()


@pytest.mark.parametrize("answer", PAYLOADS)
def test_answers_that_carry_code_never_pass(code, answer):
    assert code.verify(EQUATION, answer).status != "pass"
    assert code.verify(EQUATION.model_copy(update={"answer": None}), answer).status != "pass"


@pytest.mark.parametrize("answer", PAYLOADS)
def test_the_cascade_lets_no_tier_pass_what_the_grader_could_not_decide(answer):
    assert CascadeVerifier().verify(EQUATION, answer).status != "pass"


def test_a_timeout_in_the_grader_tier_is_never_overruled_by_a_later_pass(monkeypatch):
    from reason.types import Verdict
    from reason.verifiers import cascade

    monkeypatch.setitem(cascade.TIERS, "sympy", cascade.Tier(
        "sympy", lambda p, c: Verdict(status="timeout", rule="sympy"), frozenset({"pass", "fail"})))
    monkeypatch.setitem(cascade.TIERS, "code", cascade.Tier(
        "code", lambda p, c: Verdict(status="pass", rule="code"), frozenset({"pass", "fail"})))
    verdict = CascadeVerifier(tiers=("match", "sympy", "code")).verify(EQUATION, "7")
    assert verdict.status == "timeout" and "sympy" in verdict.detail
    monkeypatch.setitem(cascade.TIERS, "code", cascade.Tier(
        "code", lambda p, c: Verdict(status="fail", rule="code"), frozenset({"pass", "fail"})))
    assert CascadeVerifier(tiers=("match", "sympy", "code")).verify(EQUATION, "7").status == "fail"  # a fail still decides


def test_right_arithmetic_with_the_wrong_answer_fails_against_the_reference(code):
    verdict = code.verify(APPLES, "3 * 6 = 18 apples in all. The answer is 18.")
    assert verdict.status == "fail" and "16" in verdict.detail
    assert code.verify(APPLES, "3 * 6 = 18 apples, and 18 - 2 = 16 are left. The answer is 16.").status == "pass"


def test_the_printed_the_stated_and_the_reference_answer_must_agree(code):
    program = "```python\nprint(3 * 6 - 2)\n```\n"
    assert code.verify(APPLES, program + "The answer is 16.").status == "pass"
    printed_right_stated_wrong = code.verify(APPLES, program + "The answer is 18.")
    assert printed_right_stated_wrong.status == "fail" and "18" in printed_right_stated_wrong.detail
    wrong = "```python\nprint(3 * 6)\n```\nThe answer is 18."
    assert code.verify(APPLES, wrong).status == "fail"
    blind = APPLES.model_copy(update={"answer": None})
    assert code.verify(blind, program + "The answer is 18.").status == "fail"  # no reference: printed vs stated


def test_substitution_reads_the_answer_with_our_parser_and_needs_no_sandbox(code):
    assert code.verify(EQUATION.model_copy(update={"answer": None}), "4").status == "pass"
    assert code.verify(EQUATION.model_copy(update={"answer": None}), "x = 7").status == "fail"
    assert code.verify(EQUATION, "4").status == "pass"
    assert code.verify(EQUATION, "\\frac{8}{2}").status == "pass"


@pytest.mark.parametrize("candidate", ["\x00" * 10, "```python\nprint('\\x00\\x1b[2J' * 3)\n```", "=" * 5000, ""])
def test_malformed_input_is_a_verdict_never_an_exception(code, candidate):
    assert code.verify(APPLES, candidate).status in {"fail", "error", "timeout"}


def _adversary():
    return FakeGenerator([*(f"2x = 8, so x = 4. The answer is {p}." for p in PAYLOADS),
                          "3 * 6 = 18. The answer is 18."], cycle=True)


def test_refine_never_accepts_an_adversarial_answer():
    for _ in range(2):
        result = VerifierRefine(verifier="code", max_rounds=len(PAYLOADS) + 1).search(EQUATION, _adversary())
        statuses = [v["status"] for v in result.trace["verdicts"]]
        assert "pass" not in statuses and all(s.score < 1.0 for s in result.samples)


def test_best_of_n_with_the_code_verifier_as_prm_never_scores_an_adversarial_answer_as_passing():
    result = BestOfN(n=len(PAYLOADS) + 1, prm={"name": "verifier", "params": {"verifier": "code"}},
                     step_score="last").search(EQUATION, _adversary())
    assert all((s.score or 0.0) < 1.0 for s in result.samples)
