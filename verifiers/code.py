"""Verifier "code": check a candidate by computation, running model-written code only in the sandbox.

A candidate may be a final answer, one step of a solution, or a whole solution with a program
in it. Each check in `CHECKS` looks at the candidate and either does not apply or decides:

- "program": a Python program in the candidate (a fenced block) runs in the sandbox; it must
  exit cleanly, and what it prints, the answer the text states, and the reference (when there
  is one) must all agree.
- "arithmetic": every `a op b = c` the text claims (`3 * 4 = 12`, GSM8K's `<<3*4=12>>`) is
  recomputed exactly (fractions, no code execution: a whitelisted arithmetic evaluator).
- "substitution": when the question holds one equation in one unknown (`Solve 2x + 3 = 11`),
  the candidate value is substituted back. Both are read by the grader's own math parser and
  evaluated numerically: model text is never evaluated as Python, here or in the sandbox.

With a reference answer, the candidate's answer (stated, or printed by its program) is graded
against it, and only that can make the verdict `pass`: the reference-free checks can only fail
it (right arithmetic does not make a wrong answer right). A grading timeout is a `timeout`.
The verdict: `fail` when any check fails (detail: the first failure), `timeout` when a run or a
grading timed out, `pass` when a deciding check passed and none failed, else `error`. Anything
unexpected while checking is an `error` verdict, never an exception.
What it guarantees: no `pass` for an answer that differs from the reference, or whose program
prints something else than it states. What it does not: without a reference, a self-consistent
wrong solution (its arithmetic right, its program printing what it states) passes.
Leaves out: languages other than Python, and checks that need a model (e.g. writing a checker).
"""

from __future__ import annotations

import ast
import cmath
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from pydantic import Field, field_validator

from reason.extract import printed_answer
from reason.registry import named
from reason.tasks import task_style
from reason.types import Frozen, Problem, Verdict
from reason.verifiers.grader import grade
from reason.verifiers.latex import parse_answer
from reason.verifiers.latex_parser import ParseError
from reason.verifiers.nodes import EXPR_TYPES
from reason.verifiers.numeric import approx, free_symbols
from reason.verifiers.sandbox import Sandbox, SandboxLimits, SandboxResult

_CHECK_NAMES = ("program", "arithmetic", "substitution")
"""The names in `CHECKS` (defined below, after the checks themselves)."""
_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


class CodeVerifierConfig(Frozen):
    checks: tuple[str, ...] = ("program", "arithmetic", "substitution")
    """Which checks to try, by name in `CHECKS`."""
    limits: SandboxLimits = SandboxLimits(wall_s=30.0, cpu_s=10)
    """Sandbox limits for each run (SymPy's import alone takes seconds on a busy machine)."""
    rel_tol: float = Field(default=1e-6, gt=0)
    """Tolerance for comparing a claimed decimal result with the recomputed one."""

    @field_validator("checks")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return named(value, _CHECK_NAMES, "check")


def extract_program(text: str) -> str | None:
    """The last fenced Python block in the text, or the whole text when it is a program on its own.

    Example: "Here:\\n```python\\nprint(2+2)\\n```" -> "print(2+2)\\n"
    """
    blocks = _FENCE.findall(text)
    if blocks:
        return blocks[-1] if blocks[-1].strip() else None
    stripped = text.strip()
    if "print(" in stripped and "\n" in stripped:
        try:
            ast.parse(stripped)
        except SyntaxError:
            return None
        return stripped + "\n"
    return None


@dataclass(frozen=True)
class CheckContext:
    problem: Problem
    candidate: str
    sandbox: Sandbox
    config: CodeVerifierConfig


Check = Callable[[CheckContext], Verdict | None]
"""A check: None when it does not apply, else its verdict."""


def same_answer(problem: Problem, answer: str, reference: str, rule: str) -> Verdict:
    """`answer` graded against `reference` by the task's equivalence; a grading timeout stays a `timeout`."""
    style = task_style(problem.task)
    if style.equivalence == "math":
        graded = grade(answer, reference)
        if graded.status in ("pass", "fail"):
            detail = "" if graded.passed else f"{answer!r} is not {reference!r}"
            return Verdict(status=graded.status, rule=rule, detail=detail, parsed=(answer, reference))
        return graded.model_copy(update={"rule": rule, "detail": f"grading {answer!r}: {graded.detail}"})
    same = style.equivalent(answer, reference)
    return Verdict(status="pass" if same else "fail", rule=rule, detail="" if same else f"{answer!r} is not {reference!r}")


def _stated_answer(problem: Problem, text: str) -> str | None:
    """The answer the text states outside its code (`TaskStyle.stated`); a calculation is no answer."""
    outside = _FENCE.sub(" ", text).strip()
    stated = task_style(problem.task).stated(outside) if outside else None
    return None if stated is None or _CLAIM.fullmatch(stated.rstrip(". ")) else stated


def check_program(ctx: CheckContext) -> Verdict | None:
    program = extract_program(ctx.candidate)
    if program is None:
        return None
    run = ctx.sandbox.run(program)
    if run.status != "pass":
        return _run_verdict("program", run)
    printed = printed_answer(run.stdout)
    if printed is None:
        return Verdict(status="fail", rule="program", detail="the program printed nothing")
    printed = task_style(ctx.problem.task).extract(printed) or printed
    stated = _stated_answer(ctx.problem, ctx.candidate)
    against = [(stated, "the text states")] + [(ctx.problem.answer, "the reference is")] * (ctx.problem.answer is not None)
    compared = [(other, what) for other, what in against if other is not None]
    if not compared:
        return Verdict(status="error", rule="program", detail=f"the program printed {printed!r}; nothing to compare it with")
    for other, what in compared:
        verdict = same_answer(ctx.problem, printed, other, "program")
        if verdict.status != "pass":
            detail = f"the program printed {printed!r}, but {what} {other!r}" if verdict.status == "fail" else verdict.detail
            return verdict.model_copy(update={"detail": detail})
    return Verdict(status="pass", rule="program", detail=f"the program printed {printed!r}", parsed=(printed, compared[-1][0]))


def _run_verdict(rule: str, run: SandboxResult) -> Verdict:
    if run.unavailable:
        return Verdict(status="error", rule="sandbox:unavailable", detail=run.detail)
    if run.status == "timeout":
        return Verdict(status="timeout", rule=rule, detail=f"the run hit its {run.limit} limit")
    if run.status == "error" and run.limit is None:
        return Verdict(status="error", rule=rule, detail=run.detail or "the sandbox could not run the program")
    tail = run.stderr.strip().splitlines()[-1:] or [f"limit: {run.limit}"]
    return Verdict(status="fail", rule=rule, detail=f"the program failed: {tail[0]}")


# -- arithmetic ------------------------------------------------------------------------------

_NUM = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_TERM = rf"\(?\s*\$?{_NUM}\s*\)?"
_EXPR = rf"{_TERM}(?:\s*[-+*/×÷x]\s*{_TERM})+"
_CLAIM = re.compile(rf"(?<![\w.])({_EXPR})\s*=\s*\$?\s*({_NUM})(?![\d.]*[*/+×÷])")
_OPS: dict[type, Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}


def arithmetic_claims(text: str) -> list[tuple[str, str]]:
    """(expression, claimed result) pairs. Example: "3 * 4 = 12 apples" -> [("3 * 4", "12")]."""
    return [(m.group(1).strip(), m.group(2)) for m in _CLAIM.finditer(text)]


def evaluate_arithmetic(expression: str) -> Fraction:
    """Exact value of + - * / arithmetic on decimals; anything else raises ValueError.

    Example: evaluate_arithmetic("1,200 / 3 × 2") -> Fraction(800, 1)
    """
    cleaned = expression.replace(",", "").replace("$", "").replace("×", "*").replace("÷", "/").replace("x", "*")
    try:
        tree = ast.parse(cleaned, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not arithmetic: {expression!r}") from exc
    return _eval_node(tree.body)


def _eval_node(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval_node(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        try:
            return _OPS[type(node.op)](_eval_node(node.left), _eval_node(node.right))
        except ZeroDivisionError as exc:
            raise ValueError("division by zero") from exc
    raise ValueError(f"not arithmetic: {ast.dump(node)[:60]}")


def check_arithmetic(ctx: CheckContext) -> Verdict | None:
    claims = arithmetic_claims(ctx.candidate)
    checked = 0
    for expression, claimed in claims:
        try:
            value = evaluate_arithmetic(expression)
        except ValueError:
            continue
        checked += 1
        stated = Fraction(claimed.replace(",", ""))
        if abs(value - stated) > abs(value) * Fraction(ctx.config.rel_tol) + Fraction(1, 10**9):
            shown = value if value.denominator == 1 else f"{float(value):g}"
            return Verdict(status="fail", rule="arithmetic", detail=f"{expression} = {claimed} is wrong: it is {shown}")
    if not checked:
        return None
    return Verdict(status="pass", rule="arithmetic", detail=f"{checked} calculation(s) recomputed")


# -- substitution ----------------------------------------------------------------------------

_EQUATION = re.compile(r"\$?([0-9a-zA-Z+\-*/^().\s]*[a-zA-Z][0-9a-zA-Z+\-*/^().\s]*=[0-9a-zA-Z+\-*/^().\s]+)\$?")
def single_unknown_equation(question: str) -> tuple[str, str, str] | None:
    """(lhs, rhs, unknown) of the one equation with one single-letter unknown in the question, else None.

    Example: "Solve for x: 2x + 3 = 11." -> ("2x + 3", "11", "x")
    """
    found = []
    for match in _EQUATION.finditer(question):
        lhs, _, rhs = match.group(1).partition("=")
        letters = set(re.findall(r"(?<![a-zA-Z])[a-zA-Z](?![a-zA-Z])", lhs + " " + rhs))
        words = re.findall(r"[a-zA-Z]{2,}", lhs + " " + rhs)
        if len(letters) == 1 and not words and lhs.strip() and rhs.strip():
            found.append((lhs.strip(), rhs.strip().rstrip("."), letters.pop()))
    return found[0] if len(found) == 1 else None


def check_substitution(ctx: CheckContext) -> Verdict | None:
    equation = single_unknown_equation(ctx.problem.question)
    value = _candidate_value(ctx)
    if equation is None or value is None:
        return None
    lhs, rhs, name = equation
    residual = substitution_residual(lhs, rhs, name, value)
    if residual is None:
        return None  # the value or the equation is not something our parser can evaluate
    if abs(residual) <= ctx.config.rel_tol:
        return Verdict(status="pass", rule="substitution", detail=f"{name} = {value} satisfies {lhs} = {rhs}")
    return Verdict(
        status="fail", rule="substitution",
        detail=f"{name} = {value} does not satisfy {lhs} = {rhs} (the difference is {residual:.6g})",
    )


def substitution_residual(lhs: str, rhs: str, name: str, value: str) -> float | None:
    """|lhs - rhs| at `name` = `value`, relative to the sides' size; None when a side or the value
    cannot be read as a number by the grader's parser (no Python is evaluated).

    Example: substitution_residual("2x + 3", "11", "x", "4") -> 0.0
    """
    try:
        left, right, given = (parse_answer(text) for text in (lhs, rhs, value))
        if not all(isinstance(e, EXPR_TYPES) for e in (left, right, given)) or free_symbols(given):
            return None
        at = {name: approx(given)}
        a, b = approx(left, at), approx(right, at)
    except (ParseError, ArithmeticError, ValueError, TypeError, OverflowError, RecursionError):
        return None
    if not all(cmath.isfinite(v) for v in (a, b)):
        return None
    return abs(a - b) / max(1.0, abs(a), abs(b))


def _candidate_value(ctx: CheckContext) -> str | None:
    text = ctx.candidate.strip()
    if len(text) > 40:
        text = _stated_answer(ctx.problem, text) or ""
    text = re.sub(r"^[a-zA-Z]\s*=\s*", "", text.strip().strip("$").rstrip("."))
    return text if re.fullmatch(r"[0-9a-zA-Z+\-*/^().\s\\{}]+", text or "#") else None


CHECKS: dict[str, Check] = {"program": check_program, "arithmetic": check_arithmetic, "substitution": check_substitution}
"""Every check by name, tried in this order."""


class CodeVerifier:
    """Verifier "code": the checks in `CHECKS` that apply to a candidate, combined.

    Example:
        >>> CodeVerifier().verify(Problem(question="q"), "3 * 4 = 13, so 13 apples.").status
        'fail'
    """

    name = "code"

    def __init__(self, **config: object) -> None:
        self.config = CodeVerifierConfig(**config)  # type: ignore[arg-type]
        self.sandbox = Sandbox(self.config.limits)

    def program(self, text: str) -> str | None:
        """The program this verifier would run for `text` (see `extract_program`)."""
        return extract_program(text)

    def verify(self, problem: Problem, candidate: str) -> Verdict:
        ctx = CheckContext(problem, candidate, self.sandbox, self.config)
        try:
            verdicts = [v for name in self.config.checks if (v := CHECKS[name](ctx)) is not None]
            if stranded := next((v for v in verdicts if v.rule == "sandbox:unavailable"), None):
                return stranded  # a program the sandbox could not run leaves the candidate unchecked
            if problem.answer is None:
                return combine(verdicts)
            return with_reference(verdicts, check_reference(ctx, verdicts))
        except Exception as exc:  # a malformed result is a verdict, never an exception
            return Verdict(status="error", rule="code", detail=f"checking failed: {type(exc).__name__}: {exc}"[:500])


def check_reference(ctx: CheckContext, verdicts: list[Verdict]) -> Verdict:
    """The candidate's answer against the reference: the stated answer, else what its program printed."""
    assert ctx.problem.answer is not None
    program = next((v for v in verdicts if v.rule == "program"), None)
    if program is not None and program.status == "pass":
        return program  # the program check already graded what it printed against the reference
    stated = _stated_answer(ctx.problem, ctx.candidate)
    if stated is None:
        return Verdict(status="error", rule="reference", detail="the candidate states no answer to grade")
    return same_answer(ctx.problem, stated, ctx.problem.answer, "reference")


def with_reference(verdicts: list[Verdict], reference: Verdict) -> Verdict:
    """With a reference, only the graded answer can pass; every other check can only fail it."""
    for status in ("fail", "timeout"):
        for verdict in [*verdicts, reference]:
            if verdict.status == status:
                return verdict
    if reference.status != "pass":
        return reference
    others = [v for v in verdicts if v.status == "pass" and v is not reference]
    rules = "+".join([reference.rule or "reference", *(v.rule or "" for v in others)])
    return Verdict(status="pass", rule=rules, detail="; ".join(d for d in [reference.detail, *(v.detail for v in others)] if d),
                   parsed=reference.parsed)


def combine(verdicts: list[Verdict]) -> Verdict:
    """Without a reference: first fail wins; else a timeout; else pass when any passed; else error."""
    for status in ("fail", "timeout"):
        for verdict in verdicts:
            if verdict.status == status:
                return verdict
    passed = [v for v in verdicts if v.status == "pass"]
    if len(passed) == 1:
        return passed[0]
    if passed:
        return Verdict(status="pass", rule="+".join(v.rule or "" for v in passed), detail="; ".join(v.detail for v in passed))
    if verdicts:
        return verdicts[0]
    return Verdict(status="error", rule="code", detail="nothing in the candidate could be checked by computation")
