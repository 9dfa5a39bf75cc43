"""The grammar behind latex.py: normalised answer text -> answer nodes, one method per construct.

A recursive-descent parser over the string itself: LaTeX arguments such as `\\frac43`
are single characters, so it reads characters, not pre-made tokens. Precedence, from
loosest: comma lists, `\\cup`, relations (chains like `a < x \\le b` become intervals),
`+ - \\pm`, products (explicit and implicit, with mixed numbers `2\\frac{1}{2}`), signs,
powers, factorials, then atoms (numbers, letters, commands, brackets, `|x|`, matrices).
Nesting deeper than MAX_DEPTH, or recursion Python refuses, is a ParseError.
Leaves out: deciding what plain words mean and expanding `\\pm` (latex.py does both).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

from reason.verifiers.nodes import (
    EXPR_TYPES,
    Answer,
    Call,
    Const,
    Expr,
    Interval,
    Matrix,
    Num,
    Relation,
    Seq,
    Sym,
    Union,
)

MAX_DEPTH = 50
"""Deepest nesting parsed; deeper input is a ParseError (keeps recursion far from Python's limit)."""

MAX_SIGNS = 64
"""Most signs (+, -, \\pm) in front of one term, for the same reason."""


class ParseError(ValueError):
    """The text is not an answer this parser understands."""


_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+(?![\d.]))?")
_WORD = re.compile(r"[A-Za-z]+")


def _digit(char: str) -> bool:
    """An ASCII digit (str.isdigit() also says yes to '²', which no number pattern reads)."""
    return len(char) == 1 and "0" <= char <= "9"
_TIME = re.compile(r"\d{1,2}:0\d(?::\d{2})?")
"""A time of day that cannot be a ratio (12:00, 9:05); 11:21 is read as the ratio 11/21."""
_SIGNED_DIGIT = re.compile(r"[-+]?\s*\d")

FUNCTIONS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "cot": "cot", "sec": "sec", "csc": "csc",
    "arcsin": "asin", "arccos": "acos", "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "log": "log", "ln": "log", "lg": "log10", "exp": "exp", "sqrt": "sqrt",
}  # fmt: skip
"""Function names (as commands or plain words) -> the Call fn they build."""

_FUNCTION_WORDS = sorted(FUNCTIONS, key=len, reverse=True)
_INVERSE = {"sin": "asin", "cos": "acos", "tan": "atan"}
CONSTANT_WORDS = {"pi": Const("pi"), "infty": Const("inf"), "inf": Const("inf"), "oo": Const("inf")}
_GREEK = frozenset(
    ["alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega"]
)
_NOT_FACTORS = frozenset("cdot times div pm mp cup cap le ge ne in right end rfloor rceil rvert }".split()) | {"\\"}  # noqa: SIM905
"""Commands that never start a factor: operators, relations, closers, the row break."""
_NOT_SYMBOLS = frozenset({
    "int", "iint", "oint", "sum", "prod", "lim", "limsup", "liminf", "to", "rightarrow", "Rightarrow", "implies",
    "iff", "mapsto", "cap", "setminus", "subset", "subseteq", "supset", "forall", "exists", "neg", "land", "lor",
    "wedge", "vee", "partial", "nabla", "mod", "pmod", "bmod", "equiv", "sim", "cong", "perp", "parallel",
})
"""Commands that name an operation this grammar does not do: never read as a symbol (the answer stays text)."""
_RELATIONS = (("<=", "<="), (">=", ">="), ("!=", "!="), ("=", "="), ("<", "<"), (">", ">"))
_RELATION_COMMANDS = {"le": "<=", "ge": ">=", "ne": "!=", "in": "in"}
_FLIPPED = {">": "<", ">=": "<="}


def parse_tree(text: str) -> Answer:
    """The answer tree of a normalised string; ParseError when it is not one.

    A RecursionError (possible only when the caller's own stack is already deep) is
    not a ParseError: it says nothing about the text, so it must not be remembered as
    an answer; it propagates.
    Example: "(1, \\frac{1}{2}]" -> Interval(Num(1), Call("div", (Num(1), Num(2))), False, True)
    """
    return _Parser(text).answer()


class _Parser:
    def __init__(self, text: str) -> None:
        self.ratios = _TIME.fullmatch(text.strip()) is None and "\\{" not in text and "|" not in text
        """':' is a ratio (11:21), except in a time of day (12:00) and in set-builder notation ({x : x > 0})."""
        self.s, self.i, self.depth, self.bars, self.signs = text, 0, 0, 0, 0

    # -- scanning ---------------------------------------------------------------------------
    def peek(self) -> str:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1
        return self.s[self.i] if self.i < len(self.s) else ""

    def peek_command(self) -> str | None:
        """The command at the cursor without its backslash ("frac", "{", "\\\\"), or None."""
        if self.peek() != "\\":
            return None
        match = _WORD.match(self.s, self.i + 1)
        if match:
            return match.group(0)
        return self.s[self.i + 1 : self.i + 2] or None

    def take_command(self) -> str:
        name = self.peek_command()
        if name is None:
            raise ParseError(f"expected a command at {self.i}")
        self.i += 1 + len(name)
        return name

    def accept(self, literal: str) -> bool:
        if self.peek() and self.s.startswith(literal, self.i):
            self.i += len(literal)
            return True
        return False

    def accept_command(self, *names: str) -> str | None:
        name = self.peek_command()
        if name in names:
            self.i += 1 + len(name)
            return name
        return None

    def expect(self, literal: str) -> None:
        if not self.accept(literal):
            raise ParseError(f"expected {literal!r} at {self.i} in {self.s[:80]!r}")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("nested too deeply")

    # -- grammar ------------------------------------------------------------------------------
    def answer(self) -> Answer:
        groups = [self.comma_items()]
        while self.accept(";"):  # "p=5,q=2;p=7,q=2": groups of a comma list (normalize keeps only these ';')
            groups.append(self.comma_items())
        if self.peek():
            raise ParseError(f"unexpected {self.s[self.i : self.i + 20]!r}")
        if len(groups) > 1:
            return Seq(tuple(g[0] if len(g) == 1 else Seq(tuple(g), "tuple") for g in groups), "list")
        items = groups[0]
        return items[0] if len(items) == 1 else Seq(tuple(items), "list")

    def comma_items(self) -> list[Answer]:
        items = [self.union()]
        while self.accept(","):
            if self.peek() in ("", ")", "]", "}"):
                break
            items.append(self.union())
        return items

    def union(self) -> Answer:
        parts = [self.relation()]
        while self.accept_command("cup"):
            parts.append(self.relation())
        return parts[0] if len(parts) == 1 else Union(tuple(parts))

    def relation(self) -> Answer:
        chain: list[Answer] = [self.additive()]
        ops: list[str] = []
        while (op := self.relop()) is not None:
            if op == "in":
                return Relation("in", _expr(chain[-1]), self.union())
            ops.append(op)
            chain.append(self.additive())
        if not ops:
            return chain[0]
        if len(ops) == 1 and ops[0] == "=" and _tuples_of_one_length(chain[0], chain[1]):
            # (p, q) = (3, 2): one assignment per place
            pairs = zip(chain[0].items, chain[1].items)  # type: ignore[union-attr]
            return Seq(tuple(_relation("=", _expr(a), _expr(b)) for a, b in pairs), "tuple")
        if len(ops) == 1:
            return _relation(ops[0], _expr(chain[0]), _expr(chain[1]))
        return _chained(ops, [_expr(c) for c in chain])

    def relop(self) -> str | None:
        command = self.accept_command(*_RELATION_COMMANDS)
        if command:
            return _RELATION_COMMANDS[command]
        for literal, op in _RELATIONS:
            if self.accept(literal):
                return op
        return None

    def additive(self) -> Answer:
        first = self.term()
        terms: list[Expr] = []
        while True:
            if self.accept("+"):
                terms.append(_expr(self.term()))
            elif self.accept("-"):
                terms.append(Call("neg", (_expr(self.term()),)))
            elif self.accept_command("pm", "mp"):
                first = Call("pm", (add_terms([_expr(first), *terms]), _expr(self.term())))
                terms = []
            else:
                break
        return add_terms([_expr(first), *terms]) if terms else first

    def term(self) -> Answer:
        self.peek()
        starts_with_digit = _SIGNED_DIGIT.match(self.s, self.i) is not None
        node = self.unary()
        while True:
            if self.accept("*") or self.accept_command("cdot", "times"):
                node = _mul(_expr(node), _expr(self.unary()))
            elif self.accept("/") or (self.ratios and self.accept(":")) or self.accept_command("div"):
                node = Call("div", (_expr(node), _expr(self.unary())))
            elif self.starts_factor():
                factor = _expr(self.power())
                mixed = _mixed_number(node, factor) if starts_with_digit else None
                node = mixed if mixed is not None else _mul(_expr(node), factor)
                starts_with_digit = False
            else:
                return node

    def starts_factor(self) -> bool:
        char = self.peek()
        if not char:
            return False
        if char.isalnum() or char in "({":
            return True
        if char == "|":
            return self.bars == 0
        if char == "\\":
            return self.peek_command() not in _NOT_FACTORS
        return False

    def unary(self) -> Answer:
        sign = "-" if self.accept("-") else "+" if self.accept("+") else self.accept_command("pm", "mp")
        if sign is None:
            return self.power()
        self.signs += 1
        if self.signs > MAX_SIGNS:
            raise ParseError("too many signs in a row")
        try:
            operand = _expr(self.unary())
        finally:
            self.signs -= 1
        return _SIGNED[sign](operand)

    def power(self) -> Answer:
        base = self.postfix()
        if self.accept("^"):
            return Call("pow", (_expr(base), self.script()))
        return base

    def script(self) -> Expr:
        """A superscript or subscript: {group}, a signed script, or a power-level atom."""
        if self.peek() == "{":
            return _expr(self.group("{", "}"))
        if self.accept("-"):
            return Call("neg", (self.script(),))
        self.accept("+")
        return _expr(self.power())

    def postfix(self) -> Answer:
        node = self.primary()
        while self.peek() == "!" and not self.s.startswith("!=", self.i):
            self.i += 1
            node = Call("fact", (_expr(node),))
        return node

    def primary(self) -> Answer:
        self.enter()
        try:
            char = self.peek()
            if _digit(char) or (char == "." and _digit(self.s[self.i + 1 : self.i + 2])):
                return self.number()
            if char.isalpha():
                return self.word()
            handler = _PRIMARY_CHARS.get(char)
            if handler is None:
                raise ParseError(f"unexpected {char!r} at {self.i}" if char else "unexpected end")
            return handler(self)
        finally:
            self.depth -= 1

    def number(self) -> Num:
        match = _NUMBER.match(self.s, self.i)
        assert match is not None  # primary() saw a digit
        self.i = match.end()
        literal = match.group(0)
        try:
            value = Fraction(int(literal)) if literal.isdigit() else Fraction(literal)
        except ValueError as exc:  # e.g. more digits than int() accepts
            raise ParseError(str(exc)) from None
        if "." in literal:
            value = self.repeating(literal, value)
        return Num(value)

    def repeating(self, literal: str, value: Fraction) -> Fraction:
        """0.\\overline{3} -> 1/3: the digits under the bar repeat forever."""
        if self.accept_command("overline") is None:
            return value
        self.expect("{")
        digits = _NUMBER.match(self.s, self.i)
        if digits is None or not digits.group(0).isdigit():
            raise ParseError("\\overline needs digits")
        self.i = digits.end()
        self.expect("}")
        decimals = len(literal.split(".")[1])
        period = digits.group(0)
        return value + Fraction(int(period), 10**decimals * (10 ** len(period) - 1))

    def word(self) -> Expr:
        match = _WORD.match(self.s, self.i)
        assert match is not None
        run = match.group(0)
        for name in _FUNCTION_WORDS:
            if run.lower().startswith(name):
                self.i += len(name)
                return self.function(name)
        for name, const in CONSTANT_WORDS.items():
            if run == name or (name == "pi" and run.startswith(name)):
                self.i += len(name)
                return const
        self.i += 1
        return self.letter(run[0])

    def letter(self, char: str) -> Expr:
        if self.s.startswith("_", self.i):
            self.i += 1
            return Sym(f"{char}_{self.subscript()}")
        return {"e": Const("e"), "i": Const("i")}.get(char) or Sym(char)

    def subscript(self) -> str:
        """The raw text of a subscript that names a variable: x_1, a_{n+1}."""
        if self.peek() == "{":
            return "".join(self.group_text().split())
        char = self.peek()
        if not char or not (char.isalnum()):
            raise ParseError("bad subscript")
        self.i += 1
        return char

    def command(self) -> Answer:
        name = self.take_command()
        handler = _COMMANDS.get(name)
        if handler is not None:
            return handler(self)
        if name in FUNCTIONS:
            return self.function(name)
        if name in _GREEK or (name.isalpha() and name not in _NOT_SYMBOLS and self.peek() not in ("{", "[")):
            return self.letter_named(name)  # \\zzz, a name the grammar does not know, is a symbol of that name
            # (one with an argument, \\vec{v}, is a macro it cannot read: the answer stays text)
        raise ParseError(f"unsupported command \\{name}")

    def letter_named(self, name: str) -> Sym:
        if self.accept("_"):
            return Sym(f"{name}_{self.subscript()}")
        return Sym(name)

    def function(self, name: str) -> Expr:
        power: Expr | None = None
        base: Expr | None = None
        while True:
            if self.accept("^"):
                power = self.script()
            elif self.accept("_"):
                base = self.script()
            else:
                break
        fn = FUNCTIONS[name]
        if power == Call("neg", (Num(Fraction(1)),)) and name in _INVERSE:
            fn, power = _INVERSE[name], None
        arg = self.function_argument()
        node = Call(fn, (arg,) if base is None else (arg, base))
        return node if power is None else Call("pow", (node, power))

    def function_argument(self) -> Expr:
        """\\sin(x), \\sin{x}, or an unbracketed product: \\sin 2x, \\log 8."""
        if self.peek() in ("(", "{"):
            return _expr(self.primary())
        node = _expr(self.power())
        while self.starts_factor() and self.peek_command() not in FUNCTIONS and self.peek() not in "({":
            node = _mul(node, _expr(self.power()))
        return node

    def argument(self) -> Expr:
        """A mandatory LaTeX argument: {group}, one digit, one letter, or one command."""
        char = self.peek()
        if char == "{":
            return _expr(self.group("{", "}"))
        if _digit(char):
            self.i += 1
            return Num(Fraction(int(char)))
        if char.isalpha():
            self.i += 1
            return self.letter(char)
        if char == "\\":
            return _expr(self.command())
        raise ParseError(f"expected an argument at {self.i}")

    def group(self, opener: str, closer: str) -> Answer:
        self.expect(opener)
        saved, self.bars = self.bars, 0
        items = self.comma_items()
        self.bars = saved
        self.expect(closer)
        return items[0] if len(items) == 1 else Seq(tuple(items), "list")

    def bracket(self) -> Answer:
        """(x) grouping, (a, b) tuple, [a, b] / (a, b] / [a, b) intervals, [a, b, c] ordered list."""
        opener = self.s[self.i]
        self.i += 1
        saved, self.bars = self.bars, 0
        items = self.comma_items()
        self.bars = saved
        closer = self.peek()
        if closer not in (")", "]"):
            raise ParseError(f"unclosed {opener!r}")
        self.i += 1
        if len(items) == 1:
            if opener + closer not in ("()", "[]"):
                raise ParseError("one-ended interval")
            return items[0]
        if len(items) == 2 and opener + closer != "()":
            return Interval(_expr(items[0]), _expr(items[1]), opener == "[", closer == "]")
        if opener + closer not in ("()", "[]"):
            raise ParseError("interval with more than two ends")
        return Seq(tuple(items), "tuple")

    def braced_set(self) -> Seq:
        if self.accept_command("}"):
            return Seq((), "set")
        items = self.comma_items()
        if self.accept_command("}") is None:
            raise ParseError("unclosed \\{")
        return Seq(tuple(items), "set")

    def bars_abs(self) -> Expr:
        self.i += 1
        self.bars += 1
        inner = _expr(self.additive())
        self.bars -= 1
        self.expect("|")
        return Call("abs", (inner,))

    def enclosed(self, fn: str, closer: str) -> Expr:
        inner = _expr(self.additive())
        if self.accept_command(closer) is None and not (closer == "rvert" and self.accept("|")):
            raise ParseError(f"expected \\{closer}")
        return Call(fn, (inner,))

    def sqrt(self) -> Expr:
        if self.accept("["):
            index = _expr(self.additive())
            self.expect("]")
            return Call("root", (self.argument(), index))
        return Call("sqrt", (self.argument(),))

    def matrix(self) -> Matrix:
        environment = self.environment_name()
        if environment == "array" and self.peek() == "{":
            self.group_text()
        rows: list[tuple[Expr, ...]] = []
        row: list[Expr] = []
        while True:
            if self.accept_command("end"):
                self.environment_name()
                break
            row.append(_expr(self.additive()))
            if self.accept("&"):
                continue
            if self.accept_command("\\"):
                rows.append(tuple(row))
                row = []
            elif self.peek_command() != "end":
                raise ParseError("bad matrix cell")
        if row:
            rows.append(tuple(row))
        if not rows or len({len(r) for r in rows}) != 1:
            raise ParseError("ragged matrix")
        return Matrix(tuple(rows))

    def environment_name(self) -> str:
        name = self.group_text()
        if name not in ("pmatrix", "bmatrix", "matrix", "Bmatrix", "smallmatrix", "array"):
            raise ParseError(f"unsupported environment {name}")
        return name

    def group_text(self) -> str:
        self.expect("{")
        end = self.s.find("}", self.i)
        if end == -1:
            raise ParseError("unclosed {")
        text, self.i = self.s[self.i : end].strip(), end + 1
        return text


_SIGNED: dict[str, Callable[[Expr], Expr]] = {
    "-": lambda x: Call("neg", (x,)),
    "+": lambda x: x,
    "pm": lambda x: Call("pm", (Num(Fraction(0)), x)),
    "mp": lambda x: Call("pm", (Num(Fraction(0)), x)),
}

_PRIMARY_CHARS: dict[str, Callable[[_Parser], Answer]] = {
    "(": _Parser.bracket,
    "[": _Parser.bracket,
    "{": lambda p: p.group("{", "}"),
    "|": _Parser.bars_abs,
    "\\": _Parser.command,
}

_COMMANDS: dict[str, Callable[[_Parser], Answer]] = {
    "frac": lambda p: Call("div", (p.argument(), p.argument())),
    "binom": lambda p: Call("binom", (p.argument(), p.argument())),
    "sqrt": _Parser.sqrt,
    "pi": lambda p: Const("pi"),
    "infty": lambda p: Const("inf"),
    "infin": lambda p: Const("inf"),
    "emptyset": lambda p: Seq((), "set"),
    "varnothing": lambda p: Seq((), "set"),
    "{": _Parser.braced_set,
    "lfloor": lambda p: p.enclosed("floor", "rfloor"),
    "lceil": lambda p: p.enclosed("ceil", "rceil"),
    "lvert": lambda p: p.enclosed("abs", "rvert"),
    "begin": _Parser.matrix,
    "imath": lambda p: Const("i"),
}


def _expr(node: Answer) -> Expr:
    if not isinstance(node, EXPR_TYPES):
        raise ParseError(f"{type(node).__name__} used where a value is needed")
    return node


def _tuples_of_one_length(a: Answer, b: Answer) -> bool:
    return isinstance(a, Seq) and isinstance(b, Seq) and a.kind == b.kind == "tuple" and len(a.items) == len(b.items) > 1


def add_terms(terms: list[Expr]) -> Expr:
    flat: list[Expr] = []
    for term in terms:
        flat.extend(term.args if isinstance(term, Call) and term.fn == "add" else (term,))
    return flat[0] if len(flat) == 1 else Call("add", tuple(flat))


def _mul(left: Expr, right: Expr) -> Expr:
    args = left.args if isinstance(left, Call) and left.fn == "mul" else (left,)
    return Call("mul", (*args, right))


def _mixed_number(whole: Answer, fraction: Expr) -> Expr | None:
    """2\\frac{1}{2} is two and a half, not one: a whole number then a proper fraction of integers."""
    if isinstance(whole, Call) and whole.fn == "neg":
        positive = _mixed_number(whole.args[0], fraction)
        return None if positive is None else Call("neg", (positive,))
    if not (isinstance(whole, Num) and whole.value.denominator == 1 and whole.value >= 0):
        return None
    if not (isinstance(fraction, Call) and fraction.fn == "div"):
        return None
    num, den = fraction.args
    if not (isinstance(num, Num) and isinstance(den, Num)):
        return None
    if num.value.denominator == den.value.denominator == 1 and 0 < num.value < den.value:
        return Num(whole.value + num.value / den.value)
    return None


def _relation(op: str, lhs: Expr, rhs: Expr) -> Relation:
    if op in _FLIPPED:
        return Relation(_FLIPPED[op], rhs, lhs)  # type: ignore[arg-type]
    return Relation(op, lhs, rhs)  # type: ignore[arg-type]


def _chained(ops: list[str], chain: list[Expr]) -> Answer:
    """a < x <= b -> x in (a, b]; b > x > a likewise. An equality chain states its last member:
    x = 5+5+1 = 11 -> x = 11 (what it names: the member before the last, or the first, when a variable).
    Other chains are not answers we grade."""
    if all(op == "=" for op in ops):
        named = next((c for c in (chain[-2], chain[0]) if isinstance(c, Sym)), None)
        return chain[-1] if named is None else Relation("=", named, chain[-1])
    if len(ops) != 2 or not _names_something(chain[1]):
        raise ParseError("unsupported chain of relations")
    if all(op in ("<", "<=") for op in ops):
        return _bounded(chain[1], Interval(chain[0], chain[2], ops[0] == "<=", ops[1] == "<="))
    if all(op in (">", ">=") for op in ops):
        return _bounded(chain[1], Interval(chain[2], chain[0], ops[1] == ">=", ops[0] == ">="))
    raise ParseError("mixed directions in a chain of relations")


def _names_something(node: Expr) -> bool:
    """What a chain of inequalities may bound: a variable, f(x), |z| (no numbers in it)."""
    if isinstance(node, Sym):
        return True
    return isinstance(node, Call) and bool(node.args) and all(_names_something(a) for a in node.args  # type: ignore[arg-type]
                                                              if isinstance(a, EXPR_TYPES))


def _bounded(subject: Expr, interval: Interval) -> Relation:
    """subject in interval; |z| between two bounds 0 <= a <= b is z in [-b, -a] u [a, b]."""
    if isinstance(subject, Call) and subject.fn == "abs" and isinstance(subject.args[0], Sym):
        low = interval.lo
        if isinstance(low, Num) and low.value >= 0:
            negative = Interval(Call("neg", (interval.hi,)), Call("neg", (low,)), interval.hi_closed, interval.lo_closed)
            return Relation("in", subject.args[0], Union((negative, interval)))
    return Relation("in", subject, interval)
