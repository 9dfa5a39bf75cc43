"""Textual clean-up of an answer string before it is parsed.

Removes what never changes an answer's value: math delimiters and a wrapping
`\\boxed{}`, dollar signs, `\\left`/`\\right`, spacing commands, degree marks, percent
signs, thousands separators, units and words in `\\text{}`/`\\mbox{}` after a value,
plain unit words after a number ("18 dollars"), base subscripts on numerals (`204_5`),
and unicode look-alikes (`−`, `π`, `√`). `\\dfrac`/`\\tfrac` become `\\frac`.
Leaves out: anything that needs the answer's structure (`x = 3` against `3`, mixed
numbers, choice letters, `\\pm`): the parser and the equivalence rules do that.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from reason.extract import group_end, unwrap

_UNICODE = str.maketrans(
    {
        "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": r"\times ", "\u22c5": r"\cdot ",
        "\u00b7": r"\cdot ", "\u00f7": r"\div ", "\u03c0": r"\pi ", "\u221e": r"\infty ", "\u221a": r"\sqrt",
        "\u00b0": "", "\u2264": r"\le ", "\u2265": r"\ge ", "\u2260": r"\ne ", "\u222a": r"\cup ",
        "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2061": "", "\u00b2": "^2", "\u00b3": "^3",
    }
)  # fmt: skip

_ROW_BREAK = "\x00"

_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\\[dtc]frac(?![a-zA-Z])", r"\\frac"),
        (r"\\[dt]binom(?![a-zA-Z])", r"\\binom"),
        (r"\\(?:left|right|[bB]igg?[lr]?)(?![a-zA-Z])\s*\.?", ""),
        (r"\\displaystyle(?![a-zA-Z])", ""),
        (r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])", ""),
        (r"\\leq(?:slant)?(?![a-zA-Z])", r"\\le "),
        (r"\\geq(?:slant)?(?![a-zA-Z])", r"\\ge "),
        (r"\\neq(?![a-zA-Z])", r"\\ne "),
        (r"\\lt(?![a-zA-Z])", "<"),
        (r"\\gt(?![a-zA-Z])", ">"),
        (r"\\?%", ""),
        (r"\\?\$", ""),
        (r"\s*\{\s*,\s*\}\s*", ","),  # 14{,}916 and 14 {, }916: LaTeX's thousands comma
        (r"(\d),\\!\s*(?=\d{3}(?!\d))", r"\1"),  # 10,\!080: an explicit LaTeX thousands separator
        (r"\\[!,]", ""),
        (r"\\[;: ]|\\q?quad|~", " "),  # \quadx_{2} too: a space, then x_{2}
        (r"\\operatorname\*?\s*\{\s*([A-Za-z]+)\s*\}", r"\\\1"),
        (r"(=[^=]*?)\s*\\approx(?![a-zA-Z]).*$", r"\1"),  # x = 1/3 \approx 0.33: the exact value is the answer
        (r"\\approx(?![a-zA-Z])|\\simeq(?![a-zA-Z])|\\doteq(?![a-zA-Z])", "="),  # x \approx 3.14 states 3.14
        (r"\\(?:angle|measuredangle)(?![a-zA-Z])\s*", ""),  # \angle APC = 74 names what is measured
        (r"\*\*\s*(\d+(?:\.\d+)?|[A-Za-z])", r"^{\1}"),  # Python powers: 2**10 is 2^{10}
        (r"\*\*", "^"),
    )
)

_WORD_COMMANDS = re.compile(r"\\(?:text|textbf|textit|textrm|texttt|textnormal|textsf|mbox|mathrm)\s*\{")
_MATH_STYLE_COMMANDS = re.compile(r"\\(?:mathbf|mathit|mathsf|boldsymbol|bm|mathnormal)\s*\{")
_UNIT_POWER = re.compile(r"^\s*\^\s*\{?\s*[23]\s*\}?")
_CONNECTORS = {"and", "or", ","}
_PLAIN_UNITS = re.compile(r"^([-+]?\d[\d,]*(?:\.\d+)?(?:/\d+)?)\s+([A-Za-z]+\.?(?:\s+[A-Za-z]+\.?)*)\s*(?:\^\{?\d\}?)?$")
_MATH_WORDS = {"pi", "sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "i", "e", "x", "and", "or"}
_BASE_SUBSCRIPT = re.compile(r"(?<![A-Za-z\d\\_^])(\d+)_\{?\s*(\d+)\s*\}?")
_WORD_CONNECTORS = re.compile(
    r"\s*,?\s+(?:and|or)\s+"  # "a, b, and c", "a or b"
    r"|(?<=[\d)\]}])\s*or\s*(?=[A-Za-z(\[{\\-])"  # written together: "(11,7)or(7,11)", "W(x)=1orW(x)=-1"
)
_PLAIN_CONNECTORS = re.compile(rf"{_WORD_CONNECTORS.pattern}|\s*;\s*")  # and "a; b"
_PLAIN = re.compile(r"[0-9A-Za-z+\-*/^()\[\]]+(?:\.[0-9A-Za-z+\-*/^()\[\]]+)*")
_THOUSANDS = re.compile(r"(?<![\d.,])(?!0,)\d{1,3}(?:,\d{3})+(?![\d]|,\d)")  # 0,111 is not thousands


def normalize(answer: str) -> str:
    """The answer with its presentation stripped; idempotent.

    Example: "$\\$1,234.50$" -> "1234.50"; "\\dfrac{1}{2}" -> "\\frac{1}{2}"; "15\\mbox{ cm}^2" -> "15"
    """
    if _PLAIN.fullmatch(answer) and "**" not in answer:
        return answer  # nothing below would change it: the common GSM8K case
    text = answer
    for step in _STEPS:
        text = step(text)
    return text


def _rewrite(text: str) -> str:
    text = text.replace("\\\\", _ROW_BREAK)  # a matrix row break is not the spacing command "\ "
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return text.replace(_ROW_BREAK, "\\\\")


def _math_style(text: str) -> str:
    """\\mathbf{v} -> v: typeface commands around math change nothing."""
    return _replace_groups(text, _MATH_STYLE_COMMANDS, lambda content, rest: (content, rest))


def _words(text: str) -> str:
    """Units and connecting words in \\text{}: dropped after a value, kept when they are the answer."""
    residual = _replace_groups(text, _WORD_COMMANDS, _drop_words)
    if re.search(r"[A-Za-z0-9]", residual.replace(",", "")):
        return residual
    return _replace_groups(text, _WORD_COMMANDS, _keep_words)


def _drop_words(content: str, rest: str) -> tuple[str, str]:
    if content.strip().lower() in _CONNECTORS:
        return ",", rest
    return " ", _UNIT_POWER.sub("", rest, count=1)


def _keep_words(content: str, rest: str) -> tuple[str, str]:
    return ("," if content.strip().lower() in _CONNECTORS else content), rest


def _replace_groups(text: str, command: re.Pattern[str], replace: Callable[[str, str], tuple[str, str]]) -> str:
    """Replace each `\\cmd{content}` by replace(content, text after it) -> (new text, new rest)."""
    out: list[str] = []
    while (match := command.search(text)) is not None:
        end = group_end(text, match.end() - 1)
        if end == -1:
            break
        new, rest = replace(text[match.end() : end], text[end + 1 :])
        out.append(text[: match.start()] + new)
        text = rest
    return "".join(out) + text


def _connectors(text: str) -> str:
    """Plain "and"/"or"/";" between items become commas, and a comma doubled by that (", \\text{ and }") one.
    Semicolons between comma lists stay: they separate groups ("p=5,q=2;p=7,q=2" is two pairs)."""
    if ";" in text and "," in text:
        depth = _bracket_depths(text)
        text = "".join("," if c == ";" and depth[i] else c for i, c in enumerate(text))  # "(0;-2;6)" is a triple
    connectors = _WORD_CONNECTORS if ";" in text and "," in text else _PLAIN_CONNECTORS
    return re.sub(r",(\s*,)+", ",", connectors.sub(",", text))


def _plain_units(text: str) -> str:
    """'18 dollars' -> '18', '5 cm^2' -> '5'; leaves '2 pi' and '3 x' alone."""
    match = _PLAIN_UNITS.match(text)
    if match is None:
        return text
    words = [w.rstrip(".").lower() for w in match.group(2).split()]
    if any(w in _MATH_WORDS or len(w) < 2 for w in words):
        return text
    return match.group(1)


def _thousands(text: str) -> str:
    """1,234,567 -> 1234567, only outside brackets: in "(12,102)" the comma separates coordinates."""
    depth = _bracket_depths(text)
    return _THOUSANDS.sub(lambda m: m.group(0).replace(",", "") if depth[m.start()] == 0 else m.group(0), text)


def _bracket_depths(text: str) -> list[int]:
    depths, depth = [], 0
    for char in text:
        if char in "([{":
            depth += 1
        depths.append(depth)
        if char in ")]}":
            depth = max(0, depth - 1)
    return depths


def _escapes(text: str) -> str:
    """JSON-escaped LaTeX (\\\\frac) reads as LaTeX; a stray trailing backslash goes; so does the opening of a box
    that is never closed ("\\boxed{W(n) = 1")."""
    text = re.sub(r"(?<!\\)\\\\(?=[a-zA-Z])", r"\\", text)  # a row break before \\end stays one
    text = text[:-1] if text.endswith("\\") and not text.endswith("\\\\") else text
    opened = _OPEN_BOX.match(text)
    return text[opened.end() :] if opened and group_end(text, opened.end() - 1) == -1 else text


_OPEN_BOX = re.compile(r"\s*\\(?:boxed|fbox)\s*\{")


_SPACED_THOUSANDS = re.compile(r"^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$")


def _spaced_thousands(text: str) -> str:
    """'1 000' and '14 916.5' (space or thin-space thousands separators) -> '1000', '14916.5'."""
    return text.replace(" ", "") if _SPACED_THOUSANDS.match(text) else text


def _tidy(text: str) -> str:
    text = " ".join(text.split())
    text = text.strip().rstrip(".,;").strip()
    return text[1:].strip() if text.startswith("=") else text


_STEPS: tuple[Callable[[str], str], ...] = (
    lambda t: t.translate(_UNICODE),
    _escapes,
    unwrap,
    _rewrite,
    _math_style,
    _words,
    _connectors,
    _tidy,
    lambda t: _BASE_SUBSCRIPT.sub(r"\1", t),
    _plain_units,
    _thousands,
    _tidy,
    _spaced_thousands,
)
