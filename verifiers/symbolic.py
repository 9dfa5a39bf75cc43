"""The SymPy tier of the grader; imported only in the grader's worker process.

Decides what the in-process tiers could not: values too large for floats
(`2^{2^{20}}` against `4^{2^{19}}`), expressions whose sample points all fell
outside their domain, and, when asked, identities already found numerically.
`decide` is the worker's entry point: the whole comparison of two answer strings,
with this tier plugged in. It runs under the pool's time limit, so a SymPy call
that never ends (`10^{10^{10}}`) costs a worker, not the caller.
Leaves out: parsing (our own parser builds the trees; SymPy's LaTeX parser is not used).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy

from reason.verifiers.equivalence import APPROXIMATE_PLACES, Comparer, compare_texts
from reason.verifiers.nodes import Const, Expr, Num, Sym

_CONSTANTS: dict[str, Any] = {"pi": sympy.pi, "e": sympy.E, "i": sympy.I, "inf": sympy.oo}

_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "add": sympy.Add,
    "neg": lambda a: -a,
    "mul": sympy.Mul,
    "div": lambda a, b: a / b,
    "pow": sympy.Pow,
    "sqrt": sympy.sqrt,
    "root": sympy.real_root,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "cot": sympy.cot,
    "sec": sympy.sec,
    "csc": sympy.csc,
    "asin": sympy.asin,
    "acos": sympy.acos,
    "atan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "log": lambda a, base=None: sympy.log(a) if base is None else sympy.log(a, base),
    "log10": lambda a: sympy.log(a, 10),
    "exp": sympy.exp,
    "abs": sympy.Abs,
    "floor": sympy.floor,
    "ceil": sympy.ceiling,
    "fact": sympy.factorial,
    "binom": sympy.binomial,
}


def to_sympy(expr: Expr) -> Any:
    """Our tree as a SymPy expression; variables are real, as the sample points are (so SymPy proves
    no identity that holds on the positive reals only, such as \\sqrt{x^2} = x).

    Example: Call("div", (Num(1), Sym("x"))) -> 1/x
    """
    if isinstance(expr, Num):
        return sympy.Rational(expr.value.numerator, expr.value.denominator)
    if isinstance(expr, Sym):
        return sympy.Symbol(expr.name, real=True)
    if isinstance(expr, Const):
        return _CONSTANTS[expr.name]
    return _FUNCTIONS[expr.fn](*(to_sympy(arg) for arg in expr.args))


class SympyTier:
    """Equality by simplifying the difference, then SymPy's own `equals` (which also samples)."""

    def equal(self, a: Expr, b: Expr) -> bool:
        left, right = to_sympy(a), to_sympy(b)
        if _undefined(left) or _undefined(right):
            return False  # 1/0 is not 2/0: an undefined value equals nothing (signed infinities are decided earlier)
        if sympy.simplify(left - right) == 0:
            return True
        return bool(left.equals(right))

    def proportional(self, a: Expr, b: Expr, positive: bool) -> bool:
        denominator = to_sympy(b)
        if denominator == 0:
            return False
        ratio = sympy.simplify(to_sympy(a) / denominator)
        if ratio.free_symbols or ratio == 0 or ratio.is_finite is False:
            return False
        return not positive or bool(ratio.is_positive)


def _undefined(value: Any) -> bool:
    """Complex infinity or NaN anywhere in the expression (a division by zero, 0/0)."""
    return bool(value.has(sympy.zoo, sympy.nan))


def decide(prediction: str, reference: str, rel_tol: float, confirm_identities: bool,
           approximate_places: int = APPROXIMATE_PLACES) -> tuple[bool, str, str, str]:
    """Worker entry point: (equal, rule, normalised prediction, normalised reference)."""
    comparer = Comparer(rel_tol=rel_tol, symbolic=SympyTier(), confirm_identities=confirm_identities,
                        approximate_places=approximate_places)
    decision, norm_prediction, norm_reference = compare_texts(prediction, reference, comparer)
    return decision.equal, decision.rule, norm_prediction, norm_reference
