"""Normalised answer text (LaTeX or plain math) -> answer nodes.

`parse_answer` recognises choice letters and plain words first, hands the rest to the
grammar (latex_parser.py), then expands `\\pm`; `read_answer` is the memoised form that
falls back to comparing the text itself. Between them they know what MATH and GSM8K
answers are made of: numbers (decimals, repeating decimals, scientific notation, mixed
numbers `2\\frac{1}{2}`), `\\frac`, `\\sqrt[n]{}`, powers, implicit products, `\\pi`, `e`,
`i`, `\\infty`, `\\pm`, trig/log functions, `|x|`, floor/ceil, factorials, binomials,
tuples, sets, comma lists, intervals and unions, relations (`y = 2x + 3`, `a < x \\le b`,
`x \\in [2, 5)`), matrices, choice letters and words.
Leaves out: calculus (integrals, limits, sums), text arithmetic in words, and any
other macro: those raise `ParseError`, and the grader compares such answers as text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import product

from reason.verifiers.latex_parser import CONSTANT_WORDS as _CONSTANT_WORDS
from reason.verifiers.latex_parser import FUNCTIONS, ParseError, add_terms, parse_tree
from reason.verifiers.nodes import (
    EXPR_TYPES,
    Answer,
    Call,
    Choice,
    Expr,
    Relation,
    Seq,
    Text,
)

__all__ = ["ParseError", "parse_answer", "read_answer"]

MAX_PM = 6
"""Most \\pm signs in one answer: each doubles the values it stands for."""

_CHOICE = re.compile(r"^(?:\(\s*([A-Ea-e])\s*\)|([A-E]))$")
_WORDS = re.compile(r"^[A-Za-z]+(?:[ '\-][A-Za-z]+)*$")


def parse_answer(text: str) -> Answer:
    """Parse a normalised answer string.

    Example: "(1, \\frac{1}{2}]" -> Interval(Num(1), Call("div", (Num(1), Num(2))), False, True)
    """
    text = text.strip()
    if not text:
        raise ParseError("empty answer")
    choice = _CHOICE.match(text)
    if choice:
        return Choice((choice.group(1) or choice.group(2)).upper())
    if _is_words(text):
        return Text(" ".join(text.lower().split()))
    if text.count("\\pm") + text.count("\\mp") > MAX_PM:
        raise ParseError(f"more than {MAX_PM} \\pm signs")
    return _expand_pm(parse_tree(text))


@lru_cache(maxsize=65536)
def read_answer(normalized: str) -> Answer:
    """Parse, or fall back to comparing the text itself when it is not math this parser knows.

    Only ParseError falls back (and is remembered); a RecursionError propagates.

    Example: "\\frac12" -> Call("div", ...); "\\int_0^1 x\\,dx" -> Text("\\int_0^1 xdx")
    """
    try:
        return parse_answer(normalized)
    except ParseError:
        return Text(" ".join(normalized.split()))


def _is_words(text: str) -> bool:
    """Plain words ("Evelyn", "even", "no solution"), not math spelled with letters ("xy", "pi", "sin x")."""
    if not _WORDS.match(text):
        return False
    words = re.split(r"[ '\-]", text.lower())
    return any(len(w) >= 3 for w in words) and words[0] not in FUNCTIONS and words[0] not in _CONSTANT_WORDS


def _expand_pm(node: Answer) -> Answer:
    """1 \\pm \\sqrt{2} -> the list {1 + sqrt 2, 1 - sqrt 2}; inside a set or list the values join it."""
    if isinstance(node, EXPR_TYPES):
        values = _pm_values(node)
        return values[0] if len(values) == 1 else Seq(values, "list")
    if isinstance(node, Seq):
        items: list[Answer] = []
        for item in node.items:
            expanded = _expand_pm(item)
            spread = isinstance(expanded, Seq) and expanded.kind == "list" and node.kind != "tuple"
            items.extend(expanded.items if spread else (expanded,))  # type: ignore[union-attr]
        return Seq(tuple(items), node.kind)
    if isinstance(node, Relation):
        return Relation(node.op, node.lhs, _expand_pm(node.rhs))
    return node


def _pm_values(node: Expr) -> tuple[Expr, ...]:
    if not isinstance(node, Call):
        return (node,)
    if node.fn == "pm":
        left, right = (_pm_values(a) for a in node.args)
        plus = tuple(add_terms([a, b]) for a, b in product(left, right))
        minus = tuple(add_terms([a, Call("neg", (b,))]) for a, b in product(left, right))
        return _unique(plus + minus)
    options = [_pm_values(a) for a in node.args]
    if all(len(o) == 1 for o in options):
        return (node,)
    return _unique(tuple(Call(node.fn, combo) for combo in product(*options)))


def _unique(values: tuple[Expr, ...]) -> tuple[Expr, ...]:
    return tuple(dict.fromkeys(values))
