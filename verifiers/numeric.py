"""Values of expression trees, computed in-process without SymPy.

`exact` gives a rational (Fraction) when the expression is one: integers, decimals,
fractions, integer powers, perfect roots (`\\sqrt{16}`, `8^{2/3}`), factorials and
binomials of small integers. `approx` gives a complex float for anything with
constants, radicals or functions, with free symbols bound by an environment.
Both refuse work that would be huge (a 10^{10^{10}}-sized integer): `exact` returns
None and `approx` raises `Unevaluable`, so the caller can hand the case to SymPy
under a time limit. Leaves out: symbolic manipulation of any kind.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import reduce

from reason.verifiers.nodes import Call, Const, Expr, Num, Sym

MAX_EXACT_BITS = 20_000
"""Largest numerator/denominator computed exactly; bigger values are left to SymPy."""


class Unevaluable(ArithmeticError):
    """No finite value here: overflow, outside the domain, infinity, or an unknown function."""


# -- exact rationals ------------------------------------------------------------------------


def exact(expr: Expr) -> Fraction | None:
    """The expression's value when it is a rational number of reasonable size, else None.

    Example: \\frac{3}{4} + 0.25 -> Fraction(1); \\sqrt{2} -> None; x -> None
    """
    if isinstance(expr, Num):
        return expr.value
    if not isinstance(expr, Call):
        return None
    rule = _EXACT.get(expr.fn)
    if rule is None:
        return None
    values = []
    for arg in expr.args:
        value = exact(arg)
        if value is None:
            return None
        values.append(value)
    return rule(*values)


def _too_big(value: Fraction) -> bool:
    return max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_EXACT_BITS


def _sum(*values: Fraction) -> Fraction | None:
    """Over one common denominator: far faster than adding Fractions pairwise in long sums."""
    denominator = 1
    for value in values:
        denominator = math.lcm(denominator, value.denominator)
        if denominator.bit_length() > MAX_EXACT_BITS:
            return None
    return Fraction(sum(v.numerator * (denominator // v.denominator) for v in values), denominator)


def _product(*values: Fraction) -> Fraction | None:
    total = Fraction(1)
    for value in values:
        total *= value
        if _too_big(total):
            return None
    return total


def _quotient(a: Fraction, b: Fraction) -> Fraction | None:
    return None if b == 0 else a / b


def _power(base: Fraction, exponent: Fraction) -> Fraction | None:
    if exponent.denominator != 1:
        root = _exact_root(base, exponent.denominator)
        return None if root is None else _power(root, Fraction(exponent.numerator))
    n = exponent.numerator
    if base == 0:
        return None if n < 0 else Fraction(int(n == 0))
    size = max(base.numerator.bit_length(), base.denominator.bit_length())
    if abs(n) * size > MAX_EXACT_BITS:
        return None
    return base**n


def _exact_root(value: Fraction, degree: int) -> Fraction | None:
    """The rational degree-th root, when there is one. Example: (27/8, 3) -> 3/2."""
    if not 1 <= degree <= 64 or _too_big(value):
        return None
    if value < 0:
        if degree % 2 == 0:
            return None
        root = _exact_root(-value, degree)
        return None if root is None else -root
    num, den = _int_root(value.numerator, degree), _int_root(value.denominator, degree)
    return None if num is None or den is None else Fraction(num, den)


def _int_root(n: int, degree: int) -> int | None:
    if degree != 2 and n.bit_length() > 1000:
        return None  # beyond float range for the first guess; SymPy can try
    guess = math.isqrt(n) if degree == 2 else round(n ** (1 / degree))
    for candidate in (guess - 1, guess, guess + 1):
        if candidate >= 0 and candidate**degree == n:
            return candidate
    return None


def _factorial(n: Fraction) -> Fraction | None:
    if n.denominator != 1 or not 0 <= n <= 1000:
        return None
    return Fraction(math.factorial(int(n)))


def _binomial(n: Fraction, k: Fraction) -> Fraction | None:
    if n.denominator != 1 or k.denominator != 1 or not 0 <= n <= 10_000:
        return None
    return Fraction(math.comb(int(n), int(k))) if k >= 0 else Fraction(0)


_EXACT: dict[str, Callable[..., Fraction | None]] = {
    "add": _sum,
    "neg": lambda a: -a,
    "mul": _product,
    "div": _quotient,
    "pow": _power,
    "sqrt": lambda a: _exact_root(a, 2),
    "root": lambda a, n: _exact_root(a, int(n)) if n.denominator == 1 else None,
    "abs": abs,
    "floor": lambda a: Fraction(math.floor(a)),
    "ceil": lambda a: Fraction(math.ceil(a)),
    "fact": _factorial,
    "binom": _binomial,
}


# -- complex floats ---------------------------------------------------------------------------


def approx(expr: Expr, env: Mapping[str, complex] | None = None) -> complex:
    """The expression's value as a complex float, symbols taken from env.

    Raises Unevaluable when there is no finite value (overflow, division by zero,
    a domain error, an unbound symbol, infinity).
    Example: \\sqrt{2}\\cdot\\sqrt{8} -> (4+0j)
    """
    try:
        value = _approx(expr, env or {})
    except (ArithmeticError, ValueError, TypeError, KeyError) as exc:
        raise Unevaluable(f"{type(exc).__name__}: {exc}") from None
    if not cmath.isfinite(value):
        raise Unevaluable("not finite")
    return value


def _approx(expr: Expr, env: Mapping[str, complex]) -> complex:
    if isinstance(expr, Num):
        return complex(float(expr.value))
    if isinstance(expr, Sym):
        return env[expr.name]
    if isinstance(expr, Const):
        return _CONSTANTS[expr.name]()
    rule = _APPROX.get(expr.fn)
    if rule is None:
        raise Unevaluable(f"no numeric rule for {expr.fn}")
    return complex(rule(*(_approx(arg, env) for arg in expr.args)))


def _infinite() -> complex:
    raise Unevaluable("infinity")


_CONSTANTS: dict[str, Callable[[], complex]] = {
    "pi": lambda: complex(math.pi),
    "e": lambda: complex(math.e),
    "i": lambda: 1j,
    "inf": _infinite,
}


def _pow(base: complex, exponent: complex) -> complex:
    if exponent.imag == 0 and base.imag == 0 and base.real > 0:
        return complex(base.real**exponent.real)
    if exponent.imag == 0 and exponent.real.is_integer() and abs(exponent.real) <= 10_000:
        return base ** int(exponent.real)
    if exponent.imag == 0 and base.imag == 0 and base.real < 0 and (odd := _odd_denominator(exponent.real)):
        numerator = round(exponent.real * odd)  # x^{p/q}, q odd, of a negative real: real, as \sqrt[q]{x}^p is
        return complex((-1) ** (numerator % 2) * (-base.real) ** exponent.real)
    return base**exponent


def _odd_denominator(exponent: float) -> int | None:
    """q when the exponent is p/q with q odd and at most 15. Example: 2/3 -> 3; 1/2 -> None."""
    for q in range(3, 16, 2):
        if abs(exponent * q - round(exponent * q)) < 1e-9:
            return q
    return None


def _root(value: complex, degree: complex) -> complex:
    """Odd roots of negative reals are real: \\sqrt[3]{-8} = -2, as a reader means it."""
    if value.imag == 0 and value.real < 0 and degree.imag == 0 and degree.real % 2 == 1:
        return complex(-((-value.real) ** (1 / degree.real)))
    return _pow(value, 1 / degree)


def _real(fn: Callable[[float], float]) -> Callable[[complex], complex]:
    def apply(value: complex) -> complex:
        if abs(value.imag) > 1e-12:
            raise Unevaluable(f"{fn.__name__} of a complex number")
        return complex(fn(value.real))

    return apply


def _log(value: complex, base: complex | None = None) -> complex:
    return cmath.log(value) if base is None else cmath.log(value) / cmath.log(base)


def _binom(n: complex, k: complex) -> complex:
    if n.imag or k.imag:
        raise Unevaluable("binomial of complex numbers")
    if n.real.is_integer() and k.real.is_integer() and n.real >= 0:
        return complex(math.comb(int(n.real), int(k.real)) if k.real >= 0 else 0)
    return complex(math.gamma(n.real + 1) / (math.gamma(k.real + 1) * math.gamma(n.real - k.real + 1)))


_APPROX: dict[str, Callable[..., complex]] = {
    "add": lambda *v: sum(v, 0j),
    "neg": lambda a: -a,
    "mul": lambda *v: reduce(lambda x, y: x * y, v, 1 + 0j),
    "div": lambda a, b: a / b,
    "pow": _pow,
    "sqrt": cmath.sqrt,
    "root": _root,
    "sin": cmath.sin,
    "cos": cmath.cos,
    "tan": cmath.tan,
    "cot": lambda a: 1 / cmath.tan(a),
    "sec": lambda a: 1 / cmath.cos(a),
    "csc": lambda a: 1 / cmath.sin(a),
    "asin": cmath.asin,
    "acos": cmath.acos,
    "atan": cmath.atan,
    "sinh": cmath.sinh,
    "cosh": cmath.cosh,
    "tanh": cmath.tanh,
    "log": _log,
    "log10": cmath.log10,
    "exp": cmath.exp,
    "abs": lambda a: complex(abs(a)),
    "floor": _real(math.floor),
    "ceil": _real(math.ceil),
    "fact": _real(lambda x: math.gamma(x + 1)),
    "binom": _binom,
}


def free_symbols(expr: Expr) -> frozenset[str]:
    """Names of the variables in an expression. Example: x^2 + 2xy -> {"x", "y"}."""
    if isinstance(expr, Sym):
        return frozenset((expr.name,))
    if isinstance(expr, Call):
        return frozenset().union(*(free_symbols(arg) for arg in expr.args))
    return frozenset()


def infinity_sign(expr: Expr) -> int:
    """+1 for infinity, -1 for minus infinity, 0 for anything else. Example: -\\infty -> -1."""
    if expr == Const("inf"):
        return 1
    if isinstance(expr, Call) and expr.fn == "neg":
        return -infinity_sign(expr.args[0])
    if isinstance(expr, Call) and expr.fn == "add" and len(expr.args) == 1:
        return infinity_sign(expr.args[0])
    return 0
