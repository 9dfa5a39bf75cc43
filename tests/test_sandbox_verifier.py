"""The code-execution verifier: programs in the sandbox, recomputed arithmetic, substitution by SymPy."""

from __future__ import annotations

from fractions import Fraction

import pytest

from reason.registry import registry
from reason.types import Problem
from reason.verifiers.code import (
    CodeVerifier,
    arithmetic_claims,
    evaluate_arithmetic,
    extract_program,
    single_unknown_equation,
)

BLIND = Problem(question="How many apples?")
LINEAR = Problem(question="Solve for x: 2x + 3 = 11.")


@pytest.fixture(scope="module")
def verifier() -> CodeVerifier:
    return CodeVerifier()


def test_claims_are_found_in_text():
    text = "He buys 3 * 4 = 12 apples, then 12 + 5 = 17, so <<17*2=34>> and $20 - $5 = $15; 1,200 / 3 = 400."
    assert arithmetic_claims(text) == [("3 * 4", "12"), ("12 + 5", "17"), ("17*2", "34"), ("$20 - $5", "15"), ("1,200 / 3", "400")]


@pytest.mark.parametrize("expression, value", [("1,200 / 3 × 2", 800), ("7 - 10", -3), ("1 / 3 * 3", 1), ("0.1 + 0.2", Fraction(3, 10))])
def test_arithmetic_is_exact(expression, value):
    assert evaluate_arithmetic(expression) == value


@pytest.mark.parametrize("expression", ["__import__('os')", "2 ** 99999999", "(lambda: 1)()", "1 / 0"])
def test_anything_but_arithmetic_is_refused(expression):
    with pytest.raises(ValueError):
        evaluate_arithmetic(expression)


def test_wrong_arithmetic_fails_with_the_correct_value(verifier):
    verdict = verifier.verify(BLIND, "She has 3 * 4 = 13 apples, then 13 + 1 = 14.")
    assert (verdict.status, verdict.rule) == ("fail", "arithmetic")
    assert "it is 12" in verdict.detail


def test_right_arithmetic_passes(verifier):
    verdict = verifier.verify(BLIND, "She has 3 * 4 = 12 apples, then 12 + 1 = 13. The answer is 13.")
    assert (verdict.status, verdict.rule) == ("pass", "arithmetic")


def test_nothing_to_check_is_an_error(verifier):
    assert verifier.verify(BLIND, "The answer is 13.").status == "error"


def test_program_matching_the_reference_passes(verifier):
    problem = Problem(question="3 boxes of 6 eggs, 2 eaten?", answer="16")
    verdict = verifier.verify(problem, "```python\nprint(3 * 6 - 2)\n```")
    assert (verdict.status, verdict.rule, verdict.parsed) == ("pass", "program", ("16", "16"))


def test_program_disagreeing_with_the_reference_fails(verifier):
    problem = Problem(question="3 boxes of 6 eggs, 2 eaten?", answer="16")
    verdict = verifier.verify(problem, "```python\nprint(3 * 6)\n```")
    assert verdict.status == "fail"
    assert "printed '18'" in verdict.detail


def test_program_checks_the_stated_answer_without_a_reference(verifier):
    solution = "```python\nprint(3 * 6 - 2)\n```\nThe answer is 15."
    verdict = verifier.verify(BLIND, solution)
    assert verdict.status == "fail"
    assert verifier.verify(BLIND, solution.replace("15", "16")).status == "pass"


def test_crashing_program_fails_with_its_error(verifier):
    verdict = verifier.verify(Problem(question="q", answer="1"), "```python\nprint(1 / 0)\n```")
    assert verdict.status == "fail"
    assert "ZeroDivisionError" in verdict.detail


def test_hostile_program_is_contained(verifier, tmp_path):
    target = tmp_path / "pwned"
    verdict = verifier.verify(Problem(question="q", answer="1"), f"```python\nopen({str(target)!r}, 'w').write('x')\nprint(1)\n```")
    assert verdict.status in ("pass", "fail")
    assert not target.exists()


def test_program_extraction():
    assert extract_program("text\n```python\nprint(1)\n```\nmore ```py\nprint(2)\n```") == "print(2)\n"
    assert extract_program("x = 2\nprint(x)") == "x = 2\nprint(x)\n"
    assert extract_program("The answer is 4.") is None


def test_equation_is_found_only_when_unambiguous():
    assert single_unknown_equation("Solve for x: 2x + 3 = 11.") == ("2x + 3", "11", "x")
    assert single_unknown_equation("If $3y - 7 = 11$, what is y?") == ("3y - 7", "11", "y")
    assert single_unknown_equation("Tom has 3 apples and 2 pears.") is None
    assert single_unknown_equation("x + y = 3 and x - y = 1") is None


@pytest.mark.parametrize("candidate, status", [("4", "pass"), ("x = 4", "pass"), ("5", "fail"), ("8/2", "pass")])
def test_substitution_into_the_equation(verifier, candidate, status):
    verdict = verifier.verify(LINEAR, candidate)
    assert (verdict.status, verdict.rule) == (status, "substitution")


def test_registered_as_code():
    assert registry.get("verifier", "code") is CodeVerifier


def test_unknown_check_names_are_refused():
    with pytest.raises(ValueError, match="unknown check"):
        CodeVerifier(checks=("program", "oracle"))
