"""Are two parsed answers the same? Structure first, then value by value.

Structures: ordered tuples compare in order; sets and bare comma lists compare as
multisets (the reference's brackets decide); intervals compare their ends and which
ends are closed (closedness at an infinite end is ignored); unions compare their parts
as a set; matrices cell by cell, and a column or row vector equals a tuple; equations
are the same when their sides' differences are proportional (`y = 2x + 3` and
`2x - y + 3 = 0`), inequalities when the factor is positive; `x = 3` and `x \\in [2, 5)`
stand for their right-hand side against an answer without a relation; `x < 3` equals
`(-\\infty, 3)`.

Values go through tiers, cheapest first, each named in the decision's rule:
"infinity", "rational" (exact Fractions), "numeric" (complex floats within a relative
tolerance), "identity" (expressions with variables evaluated at fixed sample points: a
probabilistic polynomial-identity test) and "sympy". The SymPy tier is pluggable: the
in-process comparer has none and raises `Undecided`, and the grader then re-runs the
comparison in a worker process where SymPy is available under a time limit.
`compare_texts` runs the whole comparison on two answer strings: normalise, accept
equal normal forms ("string"), parse, compare.
Leaves out: the parsing itself (latex.py) and the time limit (timelimit.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Protocol

from reason.verifiers.latex import read_answer
from reason.verifiers.nodes import (
    EXPR_TYPES,
    Answer,
    Call,
    Choice,
    Const,
    Expr,
    Interval,
    Matrix,
    Num,
    Relation,
    Seq,
    Sym,
    Text,
    Union,
)
from reason.verifiers.normalize import normalize
from reason.verifiers.numeric import (
    Unevaluable,
    approx,
    exact,
    free_symbols,
    infinity_sign,
)

RULE_ORDER = ("string", "decimal-comma", "text", "choice", "structure", "infinity", "rational", "decimal", "numeric", "identity", "sympy")

APPROXIMATE_PLACES = 6
"""The tolerance policy for decimals, one rule for rationals and irrationals alike: a decimal written
with at least this many places is read as an approximation good to its last place, and equals a
value within one unit of that place, or of a double's precision when it is finer (truncated or
rounded, a float's repr too: 0.0833333333333333 is 1/12,
1.4142135623730951 is \\sqrt{2}, 0.333333 is 1/3). Shorter decimals are exact (0.33 is not 1/3)."""
"""Tiers from cheapest to most expensive; a structure that passes reports its most expensive element's rule."""

SAMPLE_POINTS = 6
"""Points at which expressions with variables are evaluated: positive and negative, small and large
real values (see `_points`), so that |x| and x, \\sqrt{x^2} and x, or \\log(x^2) and 2\\log x, which
agree on the positive reals only, are told apart. An identity must hold at every point where both
sides are defined (a side outside its domain there is skipped; a logarithm or root of a negative is
taken on the principal branch, so both sides must agree there too). Variables are real: \\sqrt{x^4}
is x^2."""

MAX_INLINE_MATCHING = 64
"""Largest set matched in-process; bigger ones are matched in the worker, under the time limit."""


@dataclass(frozen=True, slots=True)
class Decision:
    equal: bool
    rule: str


class Undecided(Exception):
    """The in-process tiers cannot decide this pair; SymPy has to."""


class SymbolicTier(Protocol):
    def equal(self, a: Expr, b: Expr) -> bool: ...

    def proportional(self, a: Expr, b: Expr, positive: bool) -> bool: ...


@dataclass(frozen=True)
class Comparer:
    """Compares parsed answers.

    Args:
        rel_tol: relative tolerance for floating comparisons (exact rationals compare exactly).
        symbolic: the SymPy tier, or None to raise Undecided where it would be needed.
        confirm_identities: send expressions with variables that agreed at every sample
            point to the SymPy tier too, instead of accepting the numeric identity test.
    """

    rel_tol: float = 1e-9
    symbolic: SymbolicTier | None = None
    confirm_identities: bool = False
    approximate_places: int = APPROXIMATE_PLACES

    def same(self, prediction: Answer, reference: Answer) -> Decision:
        prediction, reference = _coerce(prediction, reference)
        handler = _HANDLERS.get((_KIND[type(prediction)], _KIND[type(reference)]))
        if handler is None:
            return Decision(False, "structure")
        return handler(self, prediction, reference)

    def scalar(self, a: Expr, b: Expr) -> Decision:
        sign_a, sign_b = infinity_sign(a), infinity_sign(b)
        if sign_a or sign_b:
            return Decision(sign_a == sign_b, "infinity")
        value_a, value_b = exact(a), exact(b)
        places = _approximate_places(self.approximate_places, value_a, value_b)
        if value_a is not None and value_b is not None:
            if value_a == value_b or not places:
                return Decision(value_a == value_b, "rational")
            tolerance = max(Fraction(1, 10**places), abs(value_b) * Fraction(1, 10**15))  # no finer than a double
            return Decision(abs(value_a - value_b) <= tolerance, "decimal")
        symbols = free_symbols(a) | free_symbols(b)
        if not symbols:
            try:
                x, y = approx(a), approx(b)
            except Unevaluable:
                return self._symbolic_equal(a, b)
            if places:
                return Decision(abs(x - y) <= max(10.0**-places, 1e-15 * abs(y)) * (1 + 1e-9), "decimal")
            return Decision(self.close(x, y), "numeric")
        return self._identity(a, b, symbols)

    def proportional(self, a: Expr, b: Expr, positive: bool) -> Decision:
        """Is a = k * b for a constant k != 0 (k > 0 when positive)? Decides equations and inequalities."""
        ratios: list[complex] = []
        for env in _points(tuple(sorted(free_symbols(a) | free_symbols(b)))):
            try:
                value_a, value_b = approx(a, env), approx(b, env)
            except (Unevaluable, OverflowError, ZeroDivisionError):
                continue
            if self.close(value_b, 0j) or self.close(value_a, 0j):
                if self.close(value_b, 0j) and self.close(value_a, 0j):
                    continue
                return Decision(False, "identity")
            ratios.append(value_a / value_b)
        if len(ratios) < 2:
            return self._symbolic_proportional(a, b, positive)
        first = ratios[0]
        same_ratio = all(self.close(r, first) for r in ratios)
        sign_ok = not positive or (first.real > 0 and abs(first.imag) <= self.rel_tol * abs(first))
        return Decision(same_ratio and sign_ok, "identity")

    def close(self, x: complex, y: complex) -> bool:
        return abs(x - y) <= max(self.rel_tol * max(abs(x), abs(y)), self.rel_tol * 1e-3)

    def _identity(self, a: Expr, b: Expr, symbols: frozenset[str]) -> Decision:
        agreed = 0
        for env in _points(tuple(sorted(symbols))):
            try:
                value_a, value_b = approx(a, env), approx(b, env)
            except (Unevaluable, OverflowError, ZeroDivisionError):
                continue  # outside a side's domain: this point says nothing
            if not self.close(value_a, value_b):
                return Decision(False, "identity")
            agreed += 1
        if agreed >= 2 and not self.confirm_identities:
            return Decision(True, "identity")
        return self._symbolic_equal(a, b)

    def _symbolic_equal(self, a: Expr, b: Expr) -> Decision:
        if self.symbolic is None:
            raise Undecided
        return Decision(self.symbolic.equal(a, b), "sympy")

    def _symbolic_proportional(self, a: Expr, b: Expr, positive: bool) -> Decision:
        if self.symbolic is None:
            raise Undecided
        return Decision(self.symbolic.proportional(a, b, positive), "sympy")


normalized = lru_cache(maxsize=65536)(normalize)
"""normalize, memoised: a reference is normalised once however many samples are graded against it."""


def compare_texts(prediction: str, reference: str, comparer: Comparer) -> tuple[Decision, str, str]:
    """Decide two answer strings; also returns their normal forms.

    Example: compare_texts("0.5", "\\dfrac{1}{2}", Comparer()) -> (Decision(True, "rational"), "0.5", "\\frac{1}{2}")
    """
    norm_prediction, norm_reference = normalized(prediction), normalized(reference)
    if norm_prediction == norm_reference:
        return Decision(True, "string"), norm_prediction, norm_reference
    if _decimal_comma(norm_prediction, norm_reference) or _decimal_comma(norm_reference, norm_prediction):
        return Decision(True, "decimal-comma"), norm_prediction, norm_reference
    decision = comparer.same(read_answer(norm_prediction), read_answer(norm_reference))
    return decision, norm_prediction, norm_reference


_COMMA_DECIMAL = re.compile(r"-?(?:0,\d+|\d+,(?:\d\d|\d{4,}))")
"""A comma that can only be a decimal one: after 0 (0,111), or before 2 or 4+ digits (1,22; 1000,99). One digit
(-2,1) is a list, three (1,000) thousands."""
_POINT_DECIMAL = re.compile(r"-?\d+\.\d+")


def _decimal_comma(comma: str, point: str) -> bool:
    """1000,99 against 1000.99: the same digits, one with a decimal comma (see _COMMA_DECIMAL). Only then: otherwise a
    comma between digits separates a list or thousands, so "-2,1" (MATH's way to write two solutions) is never -2.1."""
    return bool(_COMMA_DECIMAL.fullmatch(comma) and _POINT_DECIMAL.fullmatch(point)) and comma.replace(",", ".") == point


_REGIONS: tuple[Callable[[float], complex], ...] = (
    lambda u: complex(0.5 + 2.0 * u),  # positive
    lambda u: complex(-0.5 - 2.0 * u),  # negative: |x| != x, sqrt(x^2) != x, log(x^2) != 2 log x
    lambda u: complex(11.0 + 30.0 * u),  # large
    lambda u: complex(0.05 + 0.4 * u),  # small positive, between 0 and 1
    lambda u: complex(-0.05 - 0.4 * u),  # small negative: across zero
    lambda u: complex(-11.0 - 30.0 * u),  # large negative
)


def _approximate_places(least: int, *values: Fraction | None) -> int:
    """The fewest decimal places among the values written as decimals of at least `least` places (see
    APPROXIMATE_PLACES); 0: none. Example: _approximate_places(6, Fraction(1, 3), Fraction(333333, 10**6)) -> 6
    """
    found = [p for v in values if v is not None and (p := _decimal_places(v.denominator)) >= least]
    return min(found, default=0)


def _decimal_places(denominator: int) -> int:
    """k when the denominator divides 10^k and no smaller power; -1 when it divides none."""
    twos = fives = 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    return max(twos, fives) if denominator == 1 else -1


@lru_cache(maxsize=256)
def _points(names: tuple[str, ...]) -> tuple[dict[str, complex], ...]:
    """Fixed, irrational-looking sample values, one point per region of `_REGIONS`, different for every variable."""
    return tuple(
        {
            name: region(((k + 1) * 0.6180339887498949 + (j + 1) * 0.7548776662466927) % 1.0)
            for j, name in enumerate(names)
        }
        for k, region in enumerate(_REGIONS[:SAMPLE_POINTS])
    )


def strongest(rules: Iterable[str]) -> str:
    return max(rules, key=RULE_ORDER.index, default="structure")


# -- coercions: make the two sides comparable ---------------------------------------------------


def _coerce(prediction: Answer, reference: Answer) -> tuple[Answer, Answer]:
    if _has_relation(prediction) != _has_relation(reference) or (_one_unknown(prediction) and _one_unknown(reference)):
        prediction, reference = _values(prediction), _values(reference)
    prediction, reference = _as_interval(prediction, reference), _as_interval(reference, prediction)
    return _as_tuple(prediction, reference), _as_tuple(reference, prediction)


def _has_relation(node: Answer) -> bool:
    return isinstance(node, Relation) or (isinstance(node, Seq) and any(isinstance(i, Relation) for i in node.items))


def _values(node: Answer) -> Answer:
    """x = 3 -> 3 and x \\in [2, 5) -> [2, 5): the value a relation assigns to what it names. What it names
    may be any label without numbers: f(x) = 1, |AB| = 1, \\angle APC = 74, (p, q) = (3, 2) all give their value;
    an equation between numbers (a computation, 2 + 3 = 5) gives its right side."""
    if isinstance(node, Relation) and node.op in ("=", "in") and _is_label(node.lhs):
        return node.rhs
    if (isinstance(node, Relation) and node.op == "=" and isinstance(node.lhs, EXPR_TYPES)
            and isinstance(node.rhs, EXPR_TYPES) and not free_symbols(node.lhs) and not free_symbols(node.rhs)):
        return node.rhs  # a worked value: "\\frac{1}{2} \\cdot \\frac{20}{9} = \\frac{10}{9}" states 10/9 (7 = 11a + c states none)
    if isinstance(node, Seq):
        return Seq(tuple(_values(item) for item in node.items), node.kind)
    return node


def _one_unknown(node: Answer) -> bool:
    """Solutions of one unknown: "W(n) = 1, W(n) = -1" (the same label every time). Two such lists compare their
    values whatever each calls its unknown; lists that name different unknowns ("x = 1, y = 2") keep their names."""
    if not (isinstance(node, Seq) and len(node.items) > 1):
        return False
    labels = {item.lhs for item in node.items if isinstance(item, Relation) and item.op == "=" and _is_label(item.lhs)}
    return len(labels) == 1 and all(isinstance(item, Relation) for item in node.items)


def _is_label(node: Answer) -> bool:
    """An expression of variables only (no numbers, no constants): x, f(x), |AB|, (p, q)."""
    if isinstance(node, Sym):
        return True
    if isinstance(node, Seq):
        return bool(node.items) and all(_is_label(item) for item in node.items)
    if isinstance(node, Call):
        return bool(node.args) and all(_is_label(arg) for arg in node.args)
    return False


def _as_interval(node: Answer, other: Answer) -> Answer:
    """x < 3 -> (-\\infty, 3) and 3 <= x -> [3, \\infty), when the other side is interval-like."""
    if not (isinstance(node, Relation) and node.op in ("<", "<=")) or isinstance(other, Relation):
        return node
    closed = node.op == "<="
    if isinstance(node.lhs, Sym) and isinstance(node.rhs, EXPR_TYPES) and not free_symbols(node.rhs):
        return Interval(Call("neg", (Const("inf"),)), node.rhs, False, closed)
    if isinstance(node.rhs, Sym) and not free_symbols(node.lhs):
        return Interval(node.lhs, Const("inf"), closed, False)
    return node


def _as_tuple(node: Answer, other: Answer) -> Answer:
    """A column or row vector against a tuple reads as that tuple."""
    if isinstance(node, Matrix) and isinstance(other, Seq):
        if len(node.rows) == 1:
            return Seq(node.rows[0], "tuple")
        if all(len(row) == 1 for row in node.rows):
            return Seq(tuple(row[0] for row in node.rows), "tuple")
    return node


# -- one handler per pair of kinds -----------------------------------------------------------------


def _all_pairs(comparer: Comparer, pairs: Iterable[tuple[Answer, Answer]]) -> Decision:
    rules = []
    for a, b in pairs:
        decision = comparer.same(a, b)
        if not decision.equal:
            return decision
        rules.append(decision.rule)
    return Decision(True, strongest(rules))


def _matched(comparer: Comparer, items: Sequence[Answer], reference: Sequence[Answer]) -> Decision:
    """Multiset equality: every item pairs off with a different equal reference item."""
    if len(items) != len(reference):
        return Decision(False, "structure")
    if len(items) > MAX_INLINE_MATCHING and comparer.symbolic is None:
        raise Undecided  # quadratic: run it where the time limit applies
    remaining, rules = list(reference), []
    for item in items:
        for j, candidate in enumerate(remaining):
            decision = comparer.same(item, candidate)
            if decision.equal:
                rules.append(decision.rule)
                del remaining[j]
                break
        else:
            return Decision(False, "structure")
    return Decision(True, strongest(rules))


def _sequences(comparer: Comparer, a: Seq, b: Seq) -> Decision:
    if len(a.items) != len(b.items):
        return Decision(False, "structure")
    if b.kind == "tuple":
        return _all_pairs(comparer, zip(a.items, b.items))
    return _matched(comparer, a.items, b.items)


def _ends(node: Interval | Seq) -> tuple[Expr, Expr, bool, bool] | None:
    if isinstance(node, Interval):
        return node.lo, node.hi, node.lo_closed, node.hi_closed
    if node.kind == "tuple" and len(node.items) == 2 and all(isinstance(i, EXPR_TYPES) for i in node.items):
        return node.items[0], node.items[1], False, False  # type: ignore[return-value]
    return None


def _intervals(comparer: Comparer, a: Interval | Seq, b: Interval | Seq) -> Decision:
    ends_a, ends_b = _ends(a), _ends(b)
    if ends_a is None or ends_b is None:
        return Decision(False, "structure")
    for end_a, end_b, closed_a, closed_b in ((ends_a[0], ends_b[0], ends_a[2], ends_b[2]), (ends_a[1], ends_b[1], ends_a[3], ends_b[3])):
        if closed_a != closed_b and not (infinity_sign(end_a) and infinity_sign(end_b)):
            return Decision(False, "structure")
    return _all_pairs(comparer, ((ends_a[0], ends_b[0]), (ends_a[1], ends_b[1])))


def _unions(comparer: Comparer, a: Union, b: Union) -> Decision:
    return _matched(comparer, a.parts, b.parts)


def _relations(comparer: Comparer, a: Relation, b: Relation) -> Decision:
    if a.op != b.op:
        return Decision(False, "structure")
    if a.op == "in" or not (isinstance(a.rhs, EXPR_TYPES) and isinstance(b.rhs, EXPR_TYPES)):
        return _all_pairs(comparer, ((a.lhs, b.lhs), (a.rhs, b.rhs)))
    return comparer.proportional(_difference(a), _difference(b), positive=a.op in ("<", "<="))


def _difference(relation: Relation) -> Expr:
    return Call("add", (relation.lhs, Call("neg", (relation.rhs,))))  # type: ignore[arg-type]


def _matrices(comparer: Comparer, a: Matrix, b: Matrix) -> Decision:
    if [len(r) for r in a.rows] != [len(r) for r in b.rows]:
        return Decision(False, "structure")
    return _all_pairs(comparer, ((x, y) for row_a, row_b in zip(a.rows, b.rows) for x, y in zip(row_a, row_b)))


_KIND: dict[type, str] = {
    Num: "expr", Sym: "expr", Const: "expr", Call: "expr", Seq: "seq", Interval: "interval", Union: "union",
    Relation: "relation", Matrix: "matrix", Choice: "choice", Text: "text",
}  # fmt: skip

_HANDLERS: dict[tuple[str, str], Callable[[Comparer, Answer, Answer], Decision]] = {
    ("expr", "expr"): lambda c, a, b: c.scalar(a, b),  # type: ignore[arg-type]
    ("seq", "seq"): _sequences,  # type: ignore[dict-item]
    ("interval", "interval"): _intervals,  # type: ignore[dict-item]
    ("interval", "seq"): _intervals,  # type: ignore[dict-item]
    ("seq", "interval"): _intervals,  # type: ignore[dict-item]
    ("union", "union"): _unions,  # type: ignore[dict-item]
    ("relation", "relation"): _relations,  # type: ignore[dict-item]
    ("matrix", "matrix"): _matrices,  # type: ignore[dict-item]
    ("choice", "choice"): lambda c, a, b: Decision(a.letter == b.letter, "choice"),  # type: ignore[attr-defined]
    ("text", "text"): lambda c, a, b: Decision(a.value == b.value, "text"),  # type: ignore[attr-defined]
}
