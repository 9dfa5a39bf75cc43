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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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

RULE_ORDER = ("string", "text", "choice", "structure", "infinity", "rational", "numeric", "identity", "sympy")
"""Tiers from cheapest to most expensive; a structure that passes reports its most expensive element's rule."""

SAMPLE_POINTS = 5
"""Points at which expressions with variables are evaluated."""

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
        if value_a is not None and value_b is not None:
            return Decision(value_a == value_b, "rational")
        symbols = free_symbols(a) | free_symbols(b)
        if not symbols:
            try:
                return Decision(self.close(approx(a), approx(b)), "numeric")
            except Unevaluable:
                return self._symbolic_equal(a, b)
        return self._identity(a, b, symbols)

    def proportional(self, a: Expr, b: Expr, positive: bool) -> Decision:
        """Is a = k * b for a constant k != 0 (k > 0 when positive)? Decides equations and inequalities."""
        ratios: list[complex] = []
        for env in _points(tuple(sorted(free_symbols(a) | free_symbols(b)))):
            try:
                value_a, value_b = approx(a, env), approx(b, env)
            except Unevaluable:
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
            except Unevaluable:
                continue
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
    decision = comparer.same(read_answer(norm_prediction), read_answer(norm_reference))
    return decision, norm_prediction, norm_reference


@lru_cache(maxsize=256)
def _points(names: tuple[str, ...]) -> tuple[dict[str, complex], ...]:
    """Fixed, irrational-looking sample values in [0.5, 2.5], different for every variable."""
    return tuple(
        {
            name: complex(0.5 + 2.0 * (((k + 1) * 0.6180339887498949 + (j + 1) * 0.7548776662466927) % 1.0))
            for j, name in enumerate(names)
        }
        for k in range(SAMPLE_POINTS)
    )


def strongest(rules: Iterable[str]) -> str:
    return max(rules, key=RULE_ORDER.index, default="structure")


# -- coercions: make the two sides comparable ---------------------------------------------------


def _coerce(prediction: Answer, reference: Answer) -> tuple[Answer, Answer]:
    if _has_relation(prediction) != _has_relation(reference):
        prediction, reference = _values(prediction), _values(reference)
    prediction, reference = _as_interval(prediction, reference), _as_interval(reference, prediction)
    return _as_tuple(prediction, reference), _as_tuple(reference, prediction)


def _has_relation(node: Answer) -> bool:
    return isinstance(node, Relation) or (isinstance(node, Seq) and any(isinstance(i, Relation) for i in node.items))


def _values(node: Answer) -> Answer:
    """x = 3 -> 3 and x \\in [2, 5) -> [2, 5): the value a relation assigns to its variable."""
    if isinstance(node, Relation) and node.op in ("=", "in") and isinstance(node.lhs, Sym):
        return node.rhs
    if isinstance(node, Seq):
        return Seq(tuple(_values(item) for item in node.items), node.kind)
    return node


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
