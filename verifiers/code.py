"""Verifier "code": check a candidate by computation, running model-written code only in the sandbox.

A candidate may be a final answer, one step of a solution, or a whole solution with a program
in it. Each check in `CHECKS` looks at the candidate and either does not apply or decides:

- "program": a Python program in the candidate (a fenced block) runs in the sandbox; it must
  exit cleanly, and what it prints must match the reference answer (or, without one, the answer
  the candidate states in its text).
- "arithmetic": every `a op b = c` the text claims (`3 * 4 = 12`, GSM8K's `<<3*4=12>>`) is
  recomputed exactly (fractions, no code execution: a whitelisted arithmetic evaluator).
- "substitution": when the question holds one equation in one unknown (`Solve 2x + 3 = 11`),
  the candidate value is substituted back, by SymPy inside the sandbox (parsing untrusted
  text with SymPy evaluates it, so it never happens in this process).

The verdict: `fail` when any applicable check fails (detail: the first failure), `pass` when at
least one applied and all passed, `error` when none applied, `timeout` when a run timed out.
Leaves out: languages other than Python, and checks that need a model (e.g. writing a checker).
"""

from __future__ import annotations

import ast
import json
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


def _equivalent(problem: Problem, a: str, b: str) -> bool:

    return task_style(problem.task).equivalent(a, b)


def _stated_answer(problem: Problem, text: str) -> str | None:

    outside = _FENCE.sub(" ", text)
    return task_style(problem.task).extract(outside) if outside.strip() else None


def check_program(ctx: CheckContext) -> Verdict | None:
    program = extract_program(ctx.candidate)
    if program is None:
        return None
    run = ctx.sandbox.run(program)
    if run.status != "pass":
        return _run_verdict("program", run)
    printed = printed_answer(run.stdout)
    expected = ctx.problem.answer or _stated_answer(ctx.problem, ctx.candidate)
    if printed is None:
        return Verdict(status="fail", rule="program", detail="the program printed nothing")
    if expected is None:
        return Verdict(status="error", rule="program", detail=f"the program printed {printed!r}; nothing to compare it with")
    same = _equivalent(ctx.problem, printed, expected)
    detail = "" if same else f"the program printed {printed!r}, but the answer is {expected!r}"
    return Verdict(status="pass" if same else "fail", rule="program", detail=detail, parsed=(printed, expected))


def _run_verdict(rule: str, run: SandboxResult) -> Verdict:
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
_SUBSTITUTE = """
import json
from sympy import Symbol, simplify
from sympy.parsing.sympy_parser import parse_expr, standard_transformations, implicit_multiplication_application, convert_xor
T = standard_transformations + (implicit_multiplication_application, convert_xor)
lhs, rhs, name, value = {lhs!r}, {rhs!r}, {name!r}, {value!r}
x = Symbol(name)
difference = parse_expr(lhs, transformations=T) - parse_expr(rhs, transformations=T)
residual = simplify(difference.subs(x, parse_expr(value, transformations=T)))
print(json.dumps({{"zero": bool(residual == 0), "residual": str(residual)}}))
"""


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
    run = ctx.sandbox.run(_SUBSTITUTE.format(lhs=lhs, rhs=rhs, name=name, value=value))
    if run.status != "pass":
        return _run_verdict("substitution", run) if run.status == "timeout" else None
    outcome = json.loads(printed_answer(run.stdout) or "{}")
    if outcome.get("zero"):
        return Verdict(status="pass", rule="substitution", detail=f"{name} = {value} satisfies {lhs} = {rhs}")
    return Verdict(
        status="fail", rule="substitution",
        detail=f"{name} = {value} does not satisfy {lhs} = {rhs} (the difference is {outcome.get('residual')})",
    )


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
        verdicts = [v for name in self.config.checks if (v := CHECKS[name](ctx)) is not None]
        return combine(verdicts)


def combine(verdicts: list[Verdict]) -> Verdict:
    """First fail wins; else a timeout; else pass when any passed; else error (nothing decided)."""
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
