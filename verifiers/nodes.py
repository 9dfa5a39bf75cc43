"""The parsed forms of an answer: expression trees and the structures around them.

An answer is an expression (`Num`, `Sym`, `Const`, `Call`) or a structure that holds
expressions: a sequence (tuple, set, bare comma list), an interval, a union, a relation
(`y = 2x + 3`, `x \\in [2, 5)`), a matrix, a multiple-choice letter or plain text.
All nodes are frozen, hashable and picklable, so they can be cached and sent to a
worker process. Leaves out: evaluation and comparison (numeric.py, equivalence.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal


@dataclass(frozen=True, slots=True)
class Num:
    """An exact rational literal. Decimals are kept exact: "0.1" is 1/10."""

    value: Fraction


@dataclass(frozen=True, slots=True)
class Sym:
    """A free variable, e.g. "x" or "a_1"."""

    name: str


ConstName = Literal["pi", "e", "i", "inf"]


@dataclass(frozen=True, slots=True)
class Const:
    """A named constant: pi, Euler's e, the imaginary unit i, or infinity."""

    name: ConstName


@dataclass(frozen=True, slots=True)
class Call:
    """An operation or function applied to arguments: fn is a key of numeric.EXACT / numeric.APPROX.

    Example: 2x - 1 -> Call("add", (Call("mul", (Num(2), Sym("x"))), Call("neg", (Num(1),))))
    """

    fn: str
    args: tuple[Expr, ...]


Expr = Num | Sym | Const | Call

SeqKind = Literal["tuple", "set", "list"]
"""tuple: written in parentheses (ordered); set: in braces; list: bare commas (both unordered)."""


@dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Answer, ...]
    kind: SeqKind


@dataclass(frozen=True, slots=True)
class Interval:
    lo: Expr
    hi: Expr
    lo_closed: bool
    hi_closed: bool


@dataclass(frozen=True, slots=True)
class Union:
    parts: tuple[Answer, ...]


RelOp = Literal["=", "<", "<=", "!=", "in"]
"""'>' and '>=' are stored flipped as '<' and '<='."""


@dataclass(frozen=True, slots=True)
class Relation:
    op: RelOp
    lhs: Expr
    rhs: Answer


@dataclass(frozen=True, slots=True)
class Matrix:
    rows: tuple[tuple[Expr, ...], ...]


@dataclass(frozen=True, slots=True)
class Choice:
    """A multiple-choice letter: "(B)", "B" and "\\text{(B)}" all read as Choice("B")."""

    letter: str


@dataclass(frozen=True, slots=True)
class Text:
    """Words, compared case- and space-insensitively (e.g. "Evelyn", "even")."""

    value: str


Answer = Expr | Seq | Interval | Union | Relation | Matrix | Choice | Text

EXPR_TYPES = (Num, Sym, Const, Call)
"""For isinstance checks: `isinstance(node, EXPR_TYPES)`."""
